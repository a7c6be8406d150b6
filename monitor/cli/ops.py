"""Operator commands: ``monitor status`` and ``monitor db backup|prune|optimize``.

``status`` prints one screen: is the daemon up (its heartbeat in the ``state``
table and its pid), feeds by state (:data:`monitor.stats.FEED_STATES`), articles
today, alerts by status, database size. Exit code 0 when the daemon is running, 3
when it is not (as ``systemctl status``), 1 on an error, 2 on a config error. The
housekeeping commands run the same code as the daemon's scheduled jobs (STYLE.md #14).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from monitor import housekeeping, outbox, stats
from monitor.errors import ConfigError, MonitorError
from monitor.secrets import mask_text, mask_url

EXIT_NOT_RUNNING = 3
STALE_AFTER_MIN_S = 120.0  # a heartbeat older than max(this, 4 ticks) means "not running"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``status`` and the ``db`` housekeeping commands (joining an existing ``db`` group)."""
    p = subparsers.add_parser(
        "status", help="one screen: daemon, feeds, articles, alerts, database"
    )
    p.add_argument("--json", action="store_true", help="print the same facts as one JSON object")
    p.set_defaults(handler=cmd_status)
    register_db(_db_group(subparsers))


def register_db(db_subparsers: argparse._SubParsersAction) -> None:
    """Add ``backup``, ``prune`` and ``optimize`` under an existing ``db`` command group."""
    p = db_subparsers.add_parser("backup", help="copy the live SQLite database to PATH")
    p.add_argument("path", metavar="PATH", help="destination file (must not exist)")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.set_defaults(handler=cmd_db_backup)
    p = db_subparsers.add_parser("prune", help="delete articles older than [monitor].retention")
    p.set_defaults(handler=cmd_db_prune)
    p = db_subparsers.add_parser("optimize", help="PRAGMA optimize; VACUUM when much space is free")
    p.set_defaults(handler=cmd_db_optimize)


def _db_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subparsers of the ``db`` command, creating the command when absent."""
    parser = subparsers.choices.get("db")
    if parser is None:
        parser = subparsers.add_parser("db", help="database maintenance")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)


@dataclass(frozen=True, slots=True)
class Status:
    """Everything ``monitor status`` shows."""

    now: datetime
    daemon: str  # running | stale | stopped | never
    pid: int | None
    heartbeat: datetime | None
    feeds: dict[str, int]
    failing: list[stats.FailingFeed]
    articles_today: int
    articles_total: int
    alerts: dict[str, int]  # by status
    dead_by_channel: dict[str, int]
    database: str  # masked URL or file path
    database_bytes: int | None
    wal_bytes: int | None


def cmd_status(args: argparse.Namespace, ctx: Any) -> int:
    """Print the status screen; 0 when the daemon runs, 3 when it does not."""
    try:
        status = collect_status(
            ctx.config(), ctx.session_factory(), ctx.engine(), datetime.now(UTC)
        )
    except ConfigError as exc:
        print(f"config error: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    except (MonitorError, SQLAlchemyError) as exc:
        return _fail(exc)
    print(
        json.dumps(_jsonable(status), indent=2)
        if args.json
        else render_status(status, ctx.config())
    )
    return 0 if status.daemon == "running" else EXIT_NOT_RUNNING


def _fail(exc: Exception) -> int:
    """Print one masked error line; exit code 1."""
    print(
        f"error: {mask_text(str(exc).splitlines()[0] if str(exc) else repr(exc))}",
        file=sys.stderr,
    )
    return 1


def collect_status(config: Any, session_factory: Any, engine: Engine, now: datetime) -> Status:
    """Gather the status facts from the database (read-only)."""
    settings = config.monitor
    beat = stats.read_heartbeat(session_factory)
    alerts = stats.alert_counts(session_factory)
    by_status = dict.fromkeys(outbox.STATUSES, 0)
    for (status, _), n in alerts.items():
        by_status[status] = by_status.get(status, 0) + n
    db_name, db_bytes, wal_bytes = database_size(engine)
    return Status(
        now=now,
        daemon=daemon_state(beat, now, max(STALE_AFTER_MIN_S, 4 * settings.tick_s)),
        pid=beat.pid,
        heartbeat=beat.at,
        feeds=stats.feed_status_counts(
            session_factory, now, broken_after_s=settings.feed_broken_after_s
        ),
        failing=stats.failing_feeds(session_factory),
        articles_today=stats.articles_since(
            session_factory, local_midnight(now, settings.timezone)
        ),
        articles_total=stats.articles_since(session_factory),
        alerts=by_status,
        dead_by_channel={ch: n for (st, ch), n in sorted(alerts.items()) if st == "dead"},
        database=db_name,
        database_bytes=db_bytes,
        wal_bytes=wal_bytes,
    )


def daemon_state(beat: stats.Heartbeat, now: datetime, stale_after_s: float) -> str:
    """``running`` | ``stale`` (old heartbeat) | ``stopped`` (pid gone) | ``never``."""
    if beat.at is None:
        return "never"
    if beat.pid is not None and not pid_alive(beat.pid):
        return "stopped"
    if now - beat.at > timedelta(seconds=stale_after_s):
        return "stale"
    return "running"


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (possibly another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by the service's dynamic user
        return True
    return True


def local_midnight(now: datetime, timezone: str) -> datetime:
    """Start of ``now``'s day in ``timezone``, as a UTC datetime."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def database_size(engine: Engine) -> tuple[str, int | None, int | None]:
    """(file path or masked URL, size in bytes, WAL size in bytes) where knowable."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        return str(path), _file_size(path), _file_size(Path(f"{path}-wal"))
    shown = mask_url(url.render_as_string(hide_password=True))
    if url.get_backend_name() == "postgresql":
        try:
            with engine.connect() as conn:
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            return shown, int(size), None
        except Exception:  # size is a nicety; the rest of the screen still matters
            return shown, None, None
    return shown, None, None


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def render_status(s: Status, config: Any) -> str:
    """The status screen as text."""
    tz = ZoneInfo(config.monitor.timezone)
    lines = [f"daemon:    {_daemon_line(s, tz)}"]
    total = sum(s.feeds.values())
    states = ", ".join(f"{s.feeds.get(k, 0)} {k.replace('_', ' ')}" for k in stats.FEED_STATES)
    lines.append(f"feeds:     {total} active: {states}")
    broken_after_s = config.monitor.feed_broken_after_s
    for f in s.failing:
        since = f" since {_when(f.since, tz)}" if f.since else ""
        state = stats.classify_feed(f.failures, f.since, None, s.now, broken_after_s)
        shown = f", {state.replace('_', ' ')}" if f.failures else ""
        lines.append(f"           ! {mask_url(f.url)}: {f.error_kind} x{f.failures}{shown}{since}")
    lines.append(f"articles:  {s.articles_today} today, {s.articles_total} in all")
    dead = ", ".join(f"{ch} {n}" for ch, n in s.dead_by_channel.items())
    lines.append(
        f"alerts:    {s.alerts.get('pending', 0)} pending, {s.alerts.get('sending', 0)} sending,"
        f" {s.alerts.get('dead', 0)} dead{f' ({dead})' if dead else ''}, {s.alerts.get('sent', 0)} sent"
    )
    size = _human(s.database_bytes) if s.database_bytes is not None else "size unknown"
    wal = f" + {_human(s.wal_bytes)} WAL" if s.wal_bytes else ""
    lines.append(f"database:  {s.database}, {size}{wal}")
    return "\n".join(lines)


def _daemon_line(s: Status, tz: ZoneInfo) -> str:
    if s.daemon == "never":
        return "never ran (no heartbeat in the database)"
    age = int((s.now - s.heartbeat).total_seconds()) if s.heartbeat else 0
    words = {
        "running": "running",
        "stale": "NOT RUNNING (heartbeat too old)",
        "stopped": "NOT RUNNING",
    }
    pid = f", pid {s.pid}" if s.pid else ""
    return f"{words[s.daemon]}{pid}, last cycle {_when(s.heartbeat, tz)} ({_age(age)} ago)"


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if t else "-"


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _human(n: int | None) -> str:
    size = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _jsonable(s: Status) -> dict[str, Any]:
    out = asdict(s)
    for key in ("now", "heartbeat"):
        out[key] = out[key].isoformat() if out[key] else None
    out["failing"] = [
        {
            **asdict(f),
            "url": mask_url(f.url),
            "since": f.since.isoformat() if f.since else None,
            "next_check_at": f.next_check_at.isoformat() if f.next_check_at else None,
        }
        for f in s.failing
    ]
    return out


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


def cmd_db_backup(args: argparse.Namespace, ctx: Any) -> int:
    """``monitor db backup PATH [--force]``: online copy of the SQLite database.

    Exit 2 when PATH is unusable (a folder, missing folder, exists without --force),
    1 when the copy fails (e.g. the database is not SQLite)."""
    problem = backup_path_problem(args.path, args.force)
    if problem:
        print(f"error: backup: {problem}", file=sys.stderr)
        return 2
    try:
        dest = housekeeping.backup(ctx.engine(), args.path, overwrite=args.force)
    except (MonitorError, SQLAlchemyError) as exc:
        return _fail(exc)
    print(f"backup written: {dest} ({_human(dest.stat().st_size)})")
    return 0


def cmd_db_prune(args: argparse.Namespace, ctx: Any) -> int:
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


def cmd_db_optimize(args: argparse.Namespace, ctx: Any) -> int:
    """``monitor db optimize``: PRAGMA optimize, VACUUM when worth it (SQLite only)."""
    report = housekeeping.optimize(ctx.engine())
    if report is None:
        print("not SQLite: nothing to do")
    else:
        done = "vacuumed" if report.vacuumed else "optimized"
        print(f"{done}: {_human(report.size_before)} -> {_human(report.size_after)}")
    return 0
