"""``monitor db migrate-to URL [--dry-run]``: move the SQLite database to PostgreSQL.

The copy is :func:`monitor.store.migrate.migrate_to`; this module reads the URL (its
``${VAR}`` references filled from the environment and systemd credentials, as the
config's URLs are), prints the per-table row counts and says what to do next. Exit 0
when every table's counts match, 1 when one does not (or the copy failed), 2 when the
migration was refused (nothing changed) or the URL names an unset variable.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import unquote, urlsplit

from monitor.cli.context import Context
from monitor.cli.output import EXPECTED_ERRORS, print_error
from monitor.config.edit import ENV_REF
from monitor.config.refs import Part, encode_for, fill_refs
from monitor.errors import MigrationRefusedError
from monitor.secrets import mask_text, register_secret, secret_environ
from monitor.store.migrate import MigrationReport, TableResult, migrate_to

PARTS: tuple[Part, ...] = ("userinfo", "user", "password", "path", "query")


def register(db_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db migrate-to``."""
    p = db_subparsers.add_parser(
        "migrate-to", help="copy the SQLite database into PostgreSQL (idempotent, verified)"
    )
    p.add_argument(
        "url",
        metavar="URL",
        help="postgresql+psycopg://USER:${PGPASS}@HOST/DB ('${VAR}' from the environment)",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be copied")
    p.set_defaults(handler=cmd_db_migrate_to)


def cmd_db_migrate_to(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor db migrate-to URL [--dry-run]``: see the module docstring."""
    source = ctx.config().monitor.database
    try:
        target = expand_url(args.url, secret_environ(ctx.environ))
    except KeyError as exc:
        print(
            f"error: migrate-to: environment variable ${{{exc.args[0]}}} is not set",
            file=sys.stderr,
        )
        return 2
    try:
        report = migrate_to(source, target, dry_run=args.dry_run)
    except MigrationRefusedError as exc:
        print(f"error: migrate-to refused: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as exc:
        return print_error(exc)
    for line in render(report):
        print(mask_text(line))
    return 0 if report.ok else 1


def expand_url(url: str, environ: dict[str, str]) -> str:
    """``url`` with each ``${VAR}`` filled from ``environ``, encoded for its URL part
    (:func:`~monitor.config.refs.fill_refs`); every value and the URL's password are
    registered as secrets, so no output shows them. KeyError names an unset variable."""

    def lookup(name: str) -> str:
        if name not in environ:
            raise KeyError(name)
        value = environ[name]
        for form in (value, *(encode_for(part, value) for part in PARTS)):
            register_secret(form)
        return value

    filled = fill_refs(ENV_REF.split(url.strip()), lookup)
    try:
        password = urlsplit(filled).password
    except ValueError:  # a bad port: the store refuses the URL, masked
        password = None
    if password:
        register_secret(password)
        register_secret(unquote(password))
    return filled


def render(report: MigrationReport) -> list[str]:
    """The per-table table and a last line saying what happened and what to do next."""
    copied = "would copy" if report.dry_run else "copied"
    lines = [
        ("dry run (nothing written): " if report.dry_run else "")
        + f"{report.source} -> {report.target}",
        f"{'table':<18} {'sqlite':>9} {'postgresql':>11} {copied:>11}",
    ]
    lines += [_table_line(t, report.dry_run) for t in report.tables]
    lines.append(_verdict(report))
    return lines


def _table_line(t: TableResult, dry_run: bool) -> str:
    copied = "earlier" if t.earlier else f"{t.copied:,}"
    verdict = "" if dry_run else ("  ok" if t.matches else "  MISMATCH")
    changed = [
        f"{n:,} {what}"
        for n, what in (
            (t.changes.nul, "with NUL -> U+FFFD"),
            (t.changes.cut, "cut to fit their column"),
            (t.changes.utf8, "not UTF-8 -> U+FFFD"),
        )
        if n
    ]
    note = f"  ({'; '.join(changed)})" if changed else ""
    return f"{t.table:<18} {t.source_rows:>9,} {t.target_rows:>11,} {copied:>11}{verdict}{note}"


def _verdict(report: MigrationReport) -> str:
    n = len(report.tables)
    if report.dry_run:
        return f"would copy {report.copied:,} rows; run again without --dry-run to copy them"
    if not report.ok:
        bad = ", ".join(t.table for t in report.tables if not t.matches)
        return (
            f"row counts differ in {bad}: PostgreSQL holds rows written after the copy "
            "(a daemon ran on it?); do not switch over before you know why"
        )
    if report.copied == 0:
        return f"nothing new to copy: an earlier run copied all {n} tables; the counts match"
    return (
        f"all {n} tables match ({report.copied:,} rows copied): set [monitor] database to "
        "this URL (its password as ${VAR}) and restart the daemon"
    )
