"""Read-only operational views of the database, plus the daemon heartbeat.

Used by ``monitor status``, by the alert gauge of ``/metrics`` and by the daemon
(:func:`record_heartbeat`, once per cycle). Each function opens one short session
and returns plain values; ORM rows never leave this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.models import AlertRow, ArticleRow, FeedRow, StateRow
from monitor.schedule import is_feed_broken

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


FEED_STATES = ("new", "ok", "failing", "backing_off", "broken")
"""The one feed vocabulary of ``monitor feeds``, ``monitor status`` and ``/metrics``."""
BACKING_OFF_AFTER = 3  # consecutive failures after which a feed counts as backing off
DEFAULT_BROKEN_AFTER_S = 12 * 3600.0  # [monitor].feed_broken_after default


def classify_feed(
    failures: int | None,
    error_since: datetime | None,
    last_success_at: datetime | None,
    now: datetime,
    broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
) -> str:
    """One of :data:`FEED_STATES` for an active feed, from stable facts only. No I/O.

    - ``new``: no failure and never a successful poll yet;
    - ``ok``: the last poll succeeded;
    - ``failing``: 1 or 2 consecutive failures (still polled about on schedule);
    - ``backing_off``: :data:`BACKING_OFF_AFTER` or more failures (the interval has grown);
    - ``broken``: failing continuously for ``broken_after_s`` or longer
      (``[monitor].feed_broken_after``; the operator was notified).

    The state only changes on a poll or as ``error_since`` ages, never back and forth
    between retries, so a Prometheus ``for:`` clause on it can fire.
    """
    if not failures:
        return "ok" if last_success_at is not None else "new"
    if is_feed_broken(error_since, now, broken_after_s):
        return "broken"
    return "backing_off" if failures >= BACKING_OFF_AFTER else "failing"


def feed_status_counts(
    session_factory: SessionFactory,
    now: datetime,
    intervals: Mapping[str, float] | None = None,
    default_interval_s: float = 300.0,
    *,
    broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
) -> dict[str, int]:
    """Active feeds counted by :func:`classify_feed`: every key of :data:`FEED_STATES`.

    ``intervals`` and ``default_interval_s`` are no longer used (the state does not
    depend on the interval); they stay for callers that still pass them.
    """
    del intervals, default_interval_s
    counts = dict.fromkeys(FEED_STATES, 0)
    stmt = select(FeedRow.failures, FeedRow.error_since, FeedRow.last_success_at).where(
        FeedRow.active == 1
    )
    with session_factory() as session:
        for failures, since, success in session.execute(stmt):
            counts[classify_feed(failures, since, success, now, broken_after_s)] += 1
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
