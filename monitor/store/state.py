"""The key/value ``state`` table: small daemon state (rate-limit buckets, the heartbeat).

:func:`get_state` / :func:`set_state` work in the caller's session; the heartbeat
(:func:`record_heartbeat`, once per daemon cycle; :func:`read_heartbeat` for
``monitor status``) opens its own short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.db import SessionFactory
from monitor.store.schema import StateRow

HEARTBEAT_KEY = "daemon.heartbeat"
PID_KEY = "daemon.pid"
PROBLEM_KEY = "daemon.problem"  # why the last cycles failed; "" when the last one was good


def get_state(session: Session, key: str) -> str | None:
    """A value of the key/value state table."""
    row = session.get(StateRow, key)
    return row.value if row else None


def set_state(session: Session, key: str, value: str, now: datetime) -> None:
    """Set a value of the key/value state table."""
    row = session.get(StateRow, key)
    if row is None:
        session.add(StateRow(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


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
            session.merge(StateRow(key=key, value=value or "", updated_at=now))


def record_problem(session_factory: SessionFactory, now: datetime, problem: str) -> None:
    """Write ``daemon.problem`` alone: a cycle raised, so there is no heartbeat to write
    (the heartbeat goes stale, which ``monitor status`` reports)."""
    with session_factory.begin() as session:
        session.merge(StateRow(key=PROBLEM_KEY, value=problem, updated_at=now))


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
