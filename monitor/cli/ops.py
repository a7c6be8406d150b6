"""Operator commands: ``monitor status``.

``status`` prints one screen: is the daemon up (its heartbeat in the ``state``
table and its pid), feeds by state (:data:`monitor.schedule.FEED_STATES`), articles
today, alerts by status, database size. Exit code 0 when the daemon is running, 3
when it is not (as ``systemctl status``), 1 on an error, 2 on a config error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from monitor import schedule
from monitor.cli.context import Context
from monitor.cli.output import EXPECTED_ERRORS, human_size, print_error
from monitor.config import Config
from monitor.errors import ConfigError
from monitor.records import ALERT_STATUSES, AlertStatus
from monitor.schedule import FeedStatus
from monitor.secrets import mask_text, mask_url
from monitor.store import db, state, views

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_NOT_RUNNING = 3
STALE_AFTER_MIN_S = 120.0  # a heartbeat older than max(this, 4 ticks) means "not running"
DaemonState = Literal["running", "stale", "stopped", "never"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status``."""
    p = subparsers.add_parser(
        "status", help="one screen: daemon, feeds, articles, alerts, database"
    )
    p.add_argument("--json", action="store_true", help="print the same facts as one JSON object")
    p.set_defaults(handler=cmd_status)


@dataclass(frozen=True, slots=True)
class Status:
    """Everything ``monitor status`` shows."""

    now: datetime
    daemon: DaemonState
    pid: int | None
    heartbeat: datetime | None
    feeds: dict[FeedStatus, int]
    failing: list[views.FailingFeed]
    articles_today: int
    articles_total: int
    alerts: dict[AlertStatus, int]  # by status
    dead_by_channel: dict[str, int]
    database: str  # masked URL or file path
    database_bytes: int | None
    wal_bytes: int | None
    problem: str | None = None  # why the daemon's last poll cycles failed


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    """Print the status screen; 0 when the daemon runs, 3 when it does not."""
    try:
        status = collect_status(
            ctx.config(), ctx.session_factory(), ctx.engine(), datetime.now(UTC)
        )
    except ConfigError as exc:
        print(f"config error: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as exc:
        return print_error(exc)
    print(
        json.dumps(_jsonable(status), indent=2)
        if args.json
        else render_status(status, ctx.config())
    )
    return 0 if status.daemon == "running" else EXIT_NOT_RUNNING


def collect_status(
    config: Config, session_factory: db.SessionFactory, engine: Engine, now: datetime
) -> Status:
    """Gather the status facts from the database (read-only)."""
    settings = config.monitor
    beat = state.read_heartbeat(session_factory)
    alerts = views.alert_counts(session_factory)
    by_status = dict.fromkeys(ALERT_STATUSES, 0)
    for (status, _), n in alerts.items():
        by_status[status] = by_status.get(status, 0) + n
    db_name, db_bytes, wal_bytes = views.database_size(engine)
    return Status(
        now=now,
        daemon=daemon_state(beat, now, max(STALE_AFTER_MIN_S, 4 * settings.tick_s)),
        pid=beat.pid,
        heartbeat=beat.at,
        feeds=views.feed_status_counts(
            session_factory, now, broken_after_s=settings.feed_broken_after_s
        ),
        failing=views.failing_feeds(session_factory),
        articles_today=views.articles_since(
            session_factory, local_midnight(now, settings.timezone)
        ),
        articles_total=views.articles_since(session_factory),
        alerts=by_status,
        dead_by_channel={ch: n for (st, ch), n in sorted(alerts.items()) if st == "dead"},
        database=db_name,
        database_bytes=db_bytes,
        wal_bytes=wal_bytes,
        problem=beat.problem,
    )


def daemon_state(beat: state.Heartbeat, now: datetime, stale_after_s: float) -> DaemonState:
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


def render_status(s: Status, config: Config) -> str:
    """The status screen as text."""
    tz = ZoneInfo(config.monitor.timezone)
    lines = [f"daemon:    {_daemon_line(s, tz)}"]
    if s.problem:
        lines.append(f"problem:   poll cycles are failing: {mask_text(s.problem)}")
    total = sum(s.feeds.values())
    states = ", ".join(f"{s.feeds.get(k, 0)} {k.replace('_', ' ')}" for k in schedule.FEED_STATES)
    lines.append(f"feeds:     {total} active: {states}")
    broken_after_s = config.monitor.feed_broken_after_s
    for f in s.failing:
        since = f" since {_when(f.since, tz)}" if f.since else ""
        state = schedule.classify_feed(f.failures, f.since, None, s.now, broken_after_s)
        shown = f", {state.replace('_', ' ')}" if f.failures else ""
        lines.append(f"           ! {mask_url(f.url)}: {f.error_kind} x{f.failures}{shown}{since}")
    lines.append(f"articles:  {s.articles_today} today, {s.articles_total} in all")
    dead = ", ".join(f"{ch} {n}" for ch, n in s.dead_by_channel.items())
    lines.append(
        f"alerts:    {s.alerts.get('pending', 0)} pending, {s.alerts.get('sending', 0)} sending,"
        f" {s.alerts.get('dead', 0)} dead{f' ({dead})' if dead else ''}, {s.alerts.get('sent', 0)} sent"
    )
    size = human_size(s.database_bytes) if s.database_bytes is not None else "size unknown"
    wal = f" + {human_size(s.wal_bytes)} WAL" if s.wal_bytes else ""
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
