"""Operator commands: ``monitor status`` and the summary of ``monitor run --once``.

``status`` prints one screen: is the daemon up (its heartbeat in the ``state``
table and its pid), feeds by state (:data:`monitor.schedule.FEED_STATES`), articles
today, alerts by status, database size. Exit code 0 when the daemon is running, 3
when it is not (as ``systemctl status``), 1 on an error, 2 on a config error.

``run --once`` (:func:`cmd_run`; the daemon itself is :mod:`monitor.cli.core`'s) prints
what the cycle did on stderr: feeds polled and failed, alerts queued, and what delivery
did (sent, to retry, dead, each undelivered alert with its channel and error). Its exit
status says whether everything due was delivered: :data:`RUN_ONCE_EPILOG`. It writes
what it did to the ``state`` table (:class:`~monitor.store.state.OneShotRun`), which
``status`` shows when no daemon has run since: a one-shot run is not a daemon, but
"never ran" would be untrue after it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from monitor import schedule
from monitor.cli import core
from monitor.cli.context import Context
from monitor.cli.output import EXPECTED_ERRORS, human_size, print_error
from monitor.config import Config
from monitor.errors import ConfigError, DatabaseError
from monitor.notify.format import format_time, one_line
from monitor.records import ALERT_STATUSES, AlertStatus
from monitor.schedule import FeedStatus
from monitor.secrets import mask_text, mask_url
from monitor.store import db, state, views

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from monitor.delivery import DeliveryReport, Undelivered
    from monitor.pipeline import CycleReport

EXIT_NOT_RUNNING = 3
STALE_AFTER_MIN_S = 120.0  # a heartbeat older than max(this, 4 ticks) means "not running"
DaemonState = Literal["running", "stale", "stopped", "never"]


def stale_after_s(tick_s: float) -> float:
    """How old a heartbeat may be while the daemon still counts as running."""
    return max(STALE_AFTER_MIN_S, 4 * tick_s)


EXIT_RETRY = 3  # run --once: an alert could not be delivered; it will be retried
EXIT_DEAD = 4  # run --once: an alert is dead (out of attempts, or refused for good)
RUN_ONCE_EPILOG = """\
exit status of --once:
  0  every alert that was due was delivered (or none was due); feeds that failed
     are listed on stderr but do not change the exit status
  1  an error (the database); 2  a config error
  3  an alert could not be delivered and waits for its retry: a running daemon
     or the next 'monitor run --once' sends it
  4  an alert is dead (out of attempts, or refused for good): see
     'monitor alerts --status dead', then 'monitor alerts retry --dead' once fixed
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status``."""
    p = subparsers.add_parser(
        "status", help="one screen: daemon, feeds, articles, alerts, database"
    )
    p.add_argument("--json", action="store_true", help="print the same facts as one JSON object")
    p.set_defaults(handler=cmd_status)


def adopt_run(run: argparse.ArgumentParser) -> None:
    """Give ``run`` (registered by :mod:`monitor.cli.core`) this module's ``--once``
    summary and exit status, documented in its ``--help``."""
    run.epilog = RUN_ONCE_EPILOG
    run.formatter_class = argparse.RawDescriptionHelpFormatter
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor run [--once]``: the daemon (:func:`monitor.cli.core.cmd_run`), or one
    cycle, its summary on stderr and an exit status saying whether it all went out."""
    from monitor.daemon.service import Daemon

    if not args.once:
        return core.cmd_run(args, ctx)
    config = ctx.config()
    daemon = Daemon(config, ctx.environ)
    try:
        report = daemon.run_once(sole=core.no_daemon(config.monitor.database))
    finally:
        daemon.parse_pool.close()
    delivery = daemon.last_delivery
    assert delivery is not None  # run_once always delivers
    lines = run_once_summary(report, delivery, config.monitor.timezone)
    # Recorded before the summary is printed: a reader that goes away (`2>&1 | head`)
    # ends the command there. A database failing now only costs the record.
    try:
        state.record_one_shot(
            daemon.session_factory, one_shot_run(report, delivery, datetime.now(UTC))
        )
    except DatabaseError as exc:
        lines.append(f"warning: not recorded for 'monitor status': {exc}")
    for line in lines:
        print(mask_text(line), file=sys.stderr)
    return run_once_exit(delivery)


def one_shot_run(report: CycleReport, delivery: DeliveryReport, now: datetime) -> state.OneShotRun:
    """What ``status`` keeps of a ``run --once``. No I/O."""
    return state.OneShotRun(
        at=now,
        feeds_polled=len(report.outcomes),
        feeds_failed=report.failed,
        new_articles=report.new,
        alerts_queued=report.alerts,
        alerts_sent=delivery.sent,
        alerts_to_retry=delivery.failed,
        alerts_dead=delivery.dead,
    )


def run_once_exit(delivery: DeliveryReport) -> int:
    """0 when nothing due stayed undelivered, else :data:`EXIT_DEAD` or :data:`EXIT_RETRY`."""
    if delivery.dead:
        return EXIT_DEAD
    return EXIT_RETRY if delivery.failed else 0


def run_once_summary(report: CycleReport, delivery: DeliveryReport, timezone: str) -> list[str]:
    """The lines ``run --once`` prints: the poll (its first line as it always was), each
    failed feed, then delivery and each channel's undelivered alerts. No I/O."""
    lines = [
        f"polled {len(report.outcomes)} feeds: {report.new} new articles, "
        f"{report.alerts} alerts queued, {report.failed} feeds failed"
    ]
    if report.backlog:  # a first run on real feeds alerts nothing: say why
        lines.append(
            f"  {report.backlog} of them older than their feed's backlog (the [monitor] or "
            "[[feeds]] 'backlog', default 24h) on its first poll: stored, not alerted"
        )
    for o in report.outcomes:
        if o.status == "error":
            lines.append(f"  feed failed: {mask_url(o.url)}: {o.error_kind}: {o.error}")
    held = (
        f", {delivery.held} held for later (a digest slot, quiet hours or min_sources: "
        "'monitor alerts --status held')"
        if delivery.held
        else ""
    )
    # an article several rules matched is one message on a channel: say so when it happened
    folded = delivery.messages != delivery.sent and delivery.messages
    in_messages = f" in {delivery.messages} messages" if folded else ""
    lines.append(
        f"delivery: {delivery.sent} alerts sent{in_messages}, {delivery.failed} to retry, "
        f"{delivery.dead} dead{held}"
    )
    if delivery.busy_with:
        lines.append(
            f"  another worker ({_worker_name(delivery.busy_with)}) was delivering and still "
            "is: it sends what this run queued"
        )
    lines += [_undelivered_line(u, timezone) for u in delivery.undelivered]
    if delivery.failed:
        lines.append(
            "  alerts to retry are sent at their retry time by a running 'monitor run' "
            "daemon, or by the next 'monitor run --once' after it"
        )
    if delivery.dead:
        lines.append(
            "  dead alerts are not retried: see 'monitor alerts --status dead'; "
            "once the channel is fixed: 'monitor alerts retry --dead'"
        )
    return lines


def _worker_name(worker_id: str) -> str:
    """``host:pid`` of a worker id (``host:pid:token``)."""
    return worker_id.rpartition(":")[0] or worker_id


def _undelivered_line(u: Undelivered, timezone: str) -> str:
    shown = ", ".join(str(i) for i in u.alert_ids[:5])
    more = f" and {len(u.alert_ids) - 5} more" if len(u.alert_ids) > 5 else ""
    which = f"alert{'s' if len(u.alert_ids) > 1 else ''} {shown}{more} to {u.channel}"
    state = "dead" if u.dead else f"to retry at {format_time(u.retry_at, timezone) or '-'}"
    return f"  not delivered: {which} ({state}): {one_line(u.error, 300)}"


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
    last_run_once: state.OneShotRun | None = None  # the last `monitor run --once`
    feeds_removed: int = 0  # stored feeds the config no longer lists: not polled any more
    # another process holds the write lock while the daemon's heartbeat is old: the
    # daemon cannot write (its heartbeat, or why it is failing) until it lets go
    database_locked: bool = False
    # the workers sharing the database (monitor.store.workers): running ones, and those
    # that stopped or went silent in the last WORKERS_SHOWN_S
    workers: list[WorkerStatus] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One worker as ``status`` shows it (``state``: running | stopped | gone: not heard
    from within its lease, killed or cut off)."""

    worker: str  # host:pid
    host: str
    pid: int
    mode: str  # daemon | once
    state: Literal["running", "stopped", "gone"]
    started_at: datetime
    seen_at: datetime
    last_cycle_at: datetime | None
    last_cycle_feeds: int | None
    last_cycle_new: int | None
    last_cycle_ms: int | None
    feed_leases: int
    leases: tuple[str, ...]


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
    """Gather the status facts from the database (read-only), feeds as ``config`` lists
    them: one it adds is ``new`` and one it drops is removed before a poll cycle has
    brought the database up to date."""
    settings = config.monitor
    beat = state.read_heartbeat(session_factory)
    alerts = views.alert_counts(session_factory)
    by_status = dict.fromkeys(ALERT_STATUSES, 0)
    for (status, _), n in alerts.items():
        by_status[status] = by_status.get(status, 0) + n
    db_name, db_bytes, wal_bytes = views.database_size(engine)
    configured = {f.url for f in config.feeds}  # the config, not the last cycle, says
    daemon = daemon_state(beat, now, stale_after_s(settings.tick_s))
    shown = worker_states(session_factory, now, settings.worker_lease_s)
    if daemon != "running" and any(w.mode == "daemon" and w.state == "running" for w in shown):
        daemon = "running"  # the heartbeat's pid is another host's (or an older worker's)
    return Status(
        now=now,
        daemon=daemon,
        pid=beat.pid,
        heartbeat=beat.at,
        feeds=views.feed_status_counts(
            session_factory,
            now,
            broken_after_s=settings.feed_broken_after_s,
            configured=configured,
        ),
        failing=views.failing_feeds(session_factory, configured=configured),
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
        last_run_once=state.read_one_shot(session_factory),
        feeds_removed=views.removed_feed_count(session_factory, configured),
        # a running daemon holds the lock itself, briefly: asked only when it looks stuck
        database_locked=daemon == "stale" and db.is_write_locked(engine),
        workers=shown,
    )


WORKERS_SHOWN_S = 3600.0  # a worker stopped or silent this long ago still shows


def worker_states(
    session_factory: db.SessionFactory, now: datetime, lease_s: float
) -> list[WorkerStatus]:
    """The running workers, and those that stopped or went silent within the last hour."""
    since = now - timedelta(seconds=max(WORKERS_SHOWN_S, lease_s))
    out = []
    for w in views.worker_list(session_factory, now, since=since):
        state: Literal["running", "stopped", "gone"] = (
            "stopped" if w.stopped_at else "running" if w.alive(now, lease_s) else "gone"
        )
        out.append(
            WorkerStatus(
                worker=f"{w.host}:{w.pid}",
                host=w.host,
                pid=w.pid,
                mode=w.mode,
                state=state,
                started_at=w.started_at,
                seen_at=w.seen_at,
                last_cycle_at=w.last_cycle_at,
                last_cycle_feeds=w.last_cycle_feeds,
                last_cycle_new=w.last_cycle_new,
                last_cycle_ms=w.last_cycle_ms,
                feed_leases=w.feed_leases if state == "running" else 0,
                leases=w.leases if state == "running" else (),
            )
        )
    return out


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
    first, *more = _daemon_lines(s, tz)
    lines = [f"daemon:    {first}", *more]
    if s.database_locked:
        lines.append(
            "problem:   the database is locked by another process: the daemon's writes "
            f"wait and fail until it lets go (find it: fuser {s.database})"
        )
    if s.problem:
        lines.append(f"problem:   poll cycles are failing: {mask_text(s.problem)}")
    total = sum(s.feeds.values())
    states = ", ".join(f"{s.feeds.get(k, 0)} {k.replace('_', ' ')}" for k in schedule.FEED_STATES)
    removed = f"; {s.feeds_removed} removed from the config (not polled any more)"
    lines.append(f"feeds:     {total} active: {states}{removed if s.feeds_removed else ''}")
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
    lines.extend(_worker_lines(s, tz))
    return "\n".join(lines)


def _worker_lines(s: Status, tz: ZoneInfo) -> list[str]:
    """``workers:`` and one line each, when more than one process shares the database
    (one daemon alone is the ``daemon:`` line already)."""
    daemons = [w for w in s.workers if w.mode == "daemon"]
    if len(s.workers) < 2 and not any(w.state == "gone" for w in daemons):
        return []
    counts = Counter(w.state for w in s.workers)
    head = ", ".join(f"{counts[k]} {k}" for k in ("running", "gone", "stopped") if counts[k])
    lines = [f"workers:   {head}"]
    for w in s.workers:
        age = _age(max(0, int((s.now - w.seen_at).total_seconds())))
        what = "run --once" if w.mode == "once" else "daemon"
        line = f"           {w.worker} ({what}): {w.state}, heard from {age} ago"
        if w.last_cycle_at is not None:
            took = f" in {w.last_cycle_ms / 1000:.1f} s" if w.last_cycle_ms is not None else ""
            line += (
                f"; last cycle {_when(w.last_cycle_at, tz)}: {w.last_cycle_feeds or 0} feeds, "
                f"{w.last_cycle_new or 0} new{took}"
            )
        held = [f"{w.feed_leases} feeds"] if w.feed_leases else []
        held += list(w.leases)
        if held:
            line += f"; holds {', '.join(held)}"
        if w.state == "gone":
            line += " (killed or cut off: its feeds go to the others once its lease lapses)"
        lines.append(line)
    return lines


def _daemon_lines(s: Status, tz: ZoneInfo) -> list[str]:
    """The ``daemon:`` line, and below it the last ``run --once`` when it came after the
    last heartbeat of a daemon that no longer runs."""
    once = s.last_run_once
    if s.daemon == "never":
        if once is None:
            return ["never ran (no heartbeat in the database)"]
        return [f"not running; last cycle {_one_shot(once, s.now, tz)}"]
    age = int((s.now - s.heartbeat).total_seconds()) if s.heartbeat else 0
    words = {
        "running": "running",
        "stale": "NOT RUNNING (heartbeat too old)",
        "stopped": "NOT RUNNING",
    }
    pid = f", pid {s.pid}" if s.pid else ""
    lines = [f"{words[s.daemon]}{pid}, last cycle {_when(s.heartbeat, tz)} ({_age(age)} ago)"]
    if once is not None and s.daemon != "running" and s.heartbeat and once.at > s.heartbeat:
        lines.append(f"           then a cycle {_one_shot(once, s.now, tz)}")
    return lines


def _one_shot(once: state.OneShotRun, now: datetime, tz: ZoneInfo) -> str:
    age = _age(max(0, int((now - once.at).total_seconds())))
    return (
        f"{_when(once.at, tz)} ({age} ago) by 'monitor run --once' ({once.feeds_polled} feeds "
        f"polled, {once.feeds_failed} failed; {once.alerts_sent} alerts sent, "
        f"{once.alerts_to_retry} to retry, {once.alerts_dead} dead)"
    )


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
    for w in out["workers"]:
        for key in ("started_at", "seen_at", "last_cycle_at"):
            w[key] = w[key].isoformat() if w[key] else None
        w["leases"] = list(w["leases"])
    if s.last_run_once is not None:
        out["last_run_once"]["at"] = s.last_run_once.at.isoformat()
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
