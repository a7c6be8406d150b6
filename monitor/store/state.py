"""The key/value ``state`` table: small daemon state (rate-limit buckets, the heartbeat).

:func:`get_state` / :func:`set_state` work in the caller's session; the heartbeat
(:func:`record_heartbeat`, once per daemon cycle; :func:`read_heartbeat` for
``monitor status``) and the record of the last ``monitor run --once``
(:func:`record_one_shot`, :func:`read_one_shot`) open their own short transaction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.store.db import SessionFactory
from monitor.store.schema import StateRow

HEARTBEAT_KEY = "daemon.heartbeat"
PID_KEY = "daemon.pid"
PROBLEM_KEY = "daemon.problem"  # why the last cycles failed; "" when the last one was good
ONE_SHOT_KEY = "once.last_run"  # what the last `monitor run --once` did (a JSON object)


def get_state(session: Session, key: str) -> str | None:
    """A value of the key/value state table."""
    row = session.get(StateRow, key)
    return row.value if row else None


def set_state(session: Session, key: str, value: str, now: datetime) -> None:
    """Set a value of the key/value state table: one ``INSERT … ON CONFLICT DO UPDATE``
    (workers writing one key for the first time at the same moment both succeed; a
    read-then-insert made the second fail on the primary key)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(StateRow).values(key=key, value=value, updated_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[StateRow.key],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
    )
    session.expire_all()  # a StateRow loaded before reads the new value


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the daemon last wrote: when (UTC), its pid and, when its poll cycles keep
    failing, why; None when never written."""

    at: datetime | None
    pid: int | None
    problem: str | None = None


def record_heartbeat(
    session_factory: SessionFactory, now: datetime, pid: int, problem: str | None = None
) -> None:
    """Write ``daemon.heartbeat`` (ISO time), ``daemon.pid`` and ``daemon.problem``
    (cleared when None); the daemon calls it after every cycle that returned."""
    with session_factory.begin() as session:
        values = ((HEARTBEAT_KEY, now.isoformat()), (PID_KEY, str(pid)), (PROBLEM_KEY, problem))
        for key, value in values:
            set_state(session, key, value or "", now)


def record_problem(session_factory: SessionFactory, now: datetime, problem: str) -> None:
    """Write ``daemon.problem`` alone: a cycle raised, so there is no heartbeat to write
    (the heartbeat goes stale, which ``monitor status`` reports)."""
    with session_factory.begin() as session:
        set_state(session, PROBLEM_KEY, problem, now)


def read_heartbeat(session_factory: SessionFactory) -> Heartbeat:
    """The last heartbeat; unparsable values read as None."""
    with session_factory() as session:
        rows = {
            key: value
            for key, value in session.execute(
                select(StateRow.key, StateRow.value).where(
                    StateRow.key.in_([HEARTBEAT_KEY, PID_KEY, PROBLEM_KEY])
                )
            )
        }
    return Heartbeat(
        _parse_time(rows.get(HEARTBEAT_KEY)),
        _parse_int(rows.get(PID_KEY)),
        rows.get(PROBLEM_KEY) or None,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class OneShotRun:
    """What the last ``monitor run --once`` did: when it finished (UTC), its poll (feeds
    polled and failed, new articles, alerts queued) and its delivery (alerts sent, left to
    retry, dead). No daemon heartbeat is written for it: it is not a running daemon."""

    at: datetime
    feeds_polled: int
    feeds_failed: int
    new_articles: int
    alerts_queued: int
    alerts_sent: int
    alerts_to_retry: int
    alerts_dead: int


def record_one_shot(session_factory: SessionFactory, run: OneShotRun) -> None:
    """Write ``once.last_run``: :class:`OneShotRun` as a JSON object, replacing the last."""
    value = json.dumps({**asdict(run), "at": run.at.isoformat()})
    with session_factory.begin() as session:
        set_state(session, ONE_SHOT_KEY, value, run.at)


def read_one_shot(session_factory: SessionFactory) -> OneShotRun | None:
    """The last ``run --once``; None when there was none or the value cannot be read
    (written by another version, say)."""
    with session_factory() as session:
        value = get_state(session, ONE_SHOT_KEY)
    try:
        data = json.loads(value or "")
        at = _parse_time(data["at"])
        counts = {f.name: int(data[f.name]) for f in fields(OneShotRun) if f.name != "at"}
    except (ValueError, TypeError, KeyError):
        return None
    return None if at is None else OneShotRun(at=at, **counts)
