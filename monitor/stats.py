"""Read-only operational views of the database, plus the daemon heartbeat.

Used by ``monitor status``, by the alert gauge of ``/metrics`` and by the daemon
(:func:`record_heartbeat`, once per cycle). Each function opens one short session
and returns plain values; ORM rows never leave this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.models import AlertRow, ArticleRow, FeedRow, StateRow

HEARTBEAT_KEY = "daemon.heartbeat"
PID_KEY = "daemon.pid"

SessionFactory = sessionmaker[Session]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the daemon last wrote: when (UTC) and its pid; None when never written."""

    at: datetime | None
    pid: int | None


def record_heartbeat(session_factory: SessionFactory, now: datetime, pid: int) -> None:
    """Write ``daemon.heartbeat`` (ISO time) and ``daemon.pid``; the daemon calls it every cycle."""
    with session_factory.begin() as session:
        for key, value in ((HEARTBEAT_KEY, now.isoformat()), (PID_KEY, str(pid))):
            session.merge(StateRow(key=key, value=value, updated_at=now))


def read_heartbeat(session_factory: SessionFactory) -> Heartbeat:
    """The last heartbeat; unparsable values read as None."""
    with session_factory() as session:
        rows = dict(
            session.execute(
                select(StateRow.key, StateRow.value).where(
                    StateRow.key.in_([HEARTBEAT_KEY, PID_KEY])
                )
            ).all()
        )
    return Heartbeat(_parse_time(rows.get(HEARTBEAT_KEY)), _parse_int(rows.get(PID_KEY)))


def classify_feed(
    error_kind: str | None,
    next_check_at: datetime | None,
    now: datetime,
    interval_s: float,
) -> str:
    """``ok`` | ``failing`` | ``backing_off`` for one feed. No I/O.

    A feed with no recorded error is ok. A failing feed whose next check lies
    further away than its normal interval is backing off.
    """
    if error_kind is None:
        return "ok"
    if next_check_at is not None and next_check_at - now > timedelta(seconds=interval_s):
        return "backing_off"
    return "failing"


def feed_status_counts(
    session_factory: SessionFactory,
    now: datetime,
    intervals: Mapping[str, float] | None = None,
    default_interval_s: float = 300.0,
) -> dict[str, int]:
    """Active feeds counted by :func:`classify_feed`; ``intervals`` maps URL -> interval_s."""
    counts = {"ok": 0, "failing": 0, "backing_off": 0}
    stmt = select(FeedRow.url, FeedRow.error_kind, FeedRow.next_check_at).where(FeedRow.active == 1)
    with session_factory() as session:
        for url, kind, next_at in session.execute(stmt):
            interval = (intervals or {}).get(url, default_interval_s)
            counts[classify_feed(kind, next_at, now, interval)] += 1
    return counts


def alert_counts(session_factory: SessionFactory) -> dict[tuple[str, str], int]:
    """Outbox rows counted by (status, channel)."""
    stmt = select(AlertRow.status, AlertRow.channel, func.count()).group_by(
        AlertRow.status, AlertRow.channel
    )
    with session_factory() as session:
        return {(status, channel): n for status, channel, n in session.execute(stmt)}


def articles_since(session_factory: SessionFactory, since: datetime | None = None) -> int:
    """Articles first seen at or after ``since`` (all of them when None)."""
    stmt = select(func.count()).select_from(ArticleRow)
    if since is not None:
        stmt = stmt.where(ArticleRow.first_seen_at >= since)
    with session_factory() as session:
        return session.execute(stmt).scalar_one()


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
class FailingFeed:
    """An active feed whose last poll failed."""

    url: str
    error_kind: str
    failures: int
    since: datetime | None
    next_check_at: datetime | None


def failing_feeds(session_factory: SessionFactory, limit: int = 5) -> list[FailingFeed]:
    """Active feeds with an error, longest-failing first."""
    stmt = (
        select(
            FeedRow.url,
            FeedRow.error_kind,
            FeedRow.failures,
            FeedRow.error_since,
            FeedRow.next_check_at,
        )
        .where(FeedRow.active == 1, FeedRow.error_kind.is_not(None))
        .order_by(FeedRow.error_since.is_(None), FeedRow.error_since, FeedRow.url)
        .limit(limit)
    )
    with session_factory() as session:
        return [FailingFeed(u, k, f or 0, s, n) for u, k, f, s, n in session.execute(stmt)]
