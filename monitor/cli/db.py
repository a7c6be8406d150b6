"""Database commands: ``monitor db upgrade|backup|prune|optimize|migrate-to``.

They run the same code as the daemon's start-up migration and its scheduled
housekeeping (STYLE.md #14).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor.cli import migrate
from monitor.cli.context import Context
from monitor.cli.output import EXPECTED_ERRORS, human_size, print_error
from monitor.store import db, housekeeping


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db upgrade``, ``db backup``, ``db prune``, ``db optimize`` and ``db migrate-to``."""
    p = sub.add_parser("db", help="database maintenance")
    db_subparsers = p.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    p = db_subparsers.add_parser("upgrade", help="apply database migrations")
    p.set_defaults(handler=cmd_db_upgrade)
    p = db_subparsers.add_parser("backup", help="copy the live SQLite database to PATH")
    p.add_argument("path", metavar="PATH", help="destination file (must not exist)")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.set_defaults(handler=cmd_db_backup)
    p = db_subparsers.add_parser("prune", help="delete articles older than [monitor].retention")
    p.set_defaults(handler=cmd_db_prune)
    p = db_subparsers.add_parser("optimize", help="PRAGMA optimize; VACUUM when much space is free")
    p.set_defaults(handler=cmd_db_optimize)
    migrate.register(db_subparsers)


def cmd_db_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor db upgrade``: apply migrations up to head."""
    engine = db.make_engine(ctx.config().monitor.database)
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    print(
        f"database {db.display_url(ctx.config().monitor.database)}: "
        + (f"upgraded {before or 'empty'} -> {after}" if before != after else f"already at {after}")
    )
    return 0


def backup_path_problem(path: str, force: bool) -> str | None:
    """Why PATH cannot take a backup (a usage error), or None when it can."""
    dest = Path(path).expanduser().resolve()
    if dest.is_dir():
        return f"{dest} is a folder; give a file name"
    if dest.exists() and not force:
        return f"{dest} exists; pass --force to overwrite it"
    if not dest.parent.is_dir():
        return f"folder {dest.parent} does not exist"
    return None


def cmd_db_backup(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor db backup PATH [--force]``: online copy of the SQLite database.

    Exit 2 when PATH is unusable (a folder, missing folder, exists without --force),
    1 when the copy fails (e.g. the database is not SQLite)."""
    problem = backup_path_problem(args.path, args.force)
    if problem:
        print(f"error: backup: {problem}", file=sys.stderr)
        return 2
    try:
        dest = housekeeping.backup(ctx.engine(), args.path, overwrite=args.force)
    except EXPECTED_ERRORS as exc:
        return print_error(exc)
    print(f"backup written: {dest} ({human_size(dest.stat().st_size)})")
    return 0


def cmd_db_prune(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor db prune``: apply ``[monitor].retention`` once."""
    settings = ctx.config().monitor
    if settings.retention_s is None:
        print("no retention configured ([monitor].retention): nothing to prune")
        return 0
    n = housekeeping.prune(
        ctx.session_factory(), datetime.now(UTC), settings.retention_s, settings.keep_matched
    )
    print(f"pruned {n} articles")
    return 0


def cmd_db_optimize(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor db optimize``: PRAGMA optimize, VACUUM when worth it (SQLite only)."""
    report = housekeeping.optimize(ctx.engine())
    if report is None:
        print("not SQLite: nothing to do")
    else:
        done = "vacuumed" if report.vacuumed else "optimized"
        print(f"{done}: {human_size(report.size_before)} -> {human_size(report.size_after)}")
    return 0
