"""Read-only views of the database for the CLI, ``/metrics`` and the daemon's status line.

``monitor status``, ``monitor feeds``, ``monitor alerts`` and the alert gauge of
``/metrics`` read through these functions. Each returns plain records or values;
ORM rows never leave the store.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from monitor.errors import FetchErrorKind
from monitor.records import ALERT_STATUSES, AlertStatus, FeedConfig
from monitor.schedule import FEED_STATES, FeedStatus, classify_feed
from monitor.secrets import mask_url
from monitor.store import vocab, workers
from monitor.store.db import SessionFactory
from monitor.store.schema import AlertRow, ArticleRow, FeedRow
from monitor.store.workers import WorkerInfo


def feed_status_counts(
    session_factory: SessionFactory,
    now: datetime,
    *,
    broken_after_s: float,
    configured: Collection[str] | None = None,
) -> dict[FeedStatus, int]:
    """Active feeds counted by :func:`~monitor.schedule.classify_feed`: every key of
    :data:`~monitor.schedule.FEED_STATES`. With ``configured`` (the config's feed URLs)
    the feeds are the config's, as the next poll cycle will see them, not the database's
    (which only a poll cycle updates): a URL not stored yet is ``new``, a stored feed
    the config no longer lists is not counted (:func:`removed_feed_count`)."""
    counts = dict.fromkeys(FEED_STATES, 0)
    stmt = select(FeedRow.url, FeedRow.failures, FeedRow.error_since, FeedRow.last_success_at)
    if configured is None:
        stmt = stmt.where(FeedRow.active == 1)
    seen: set[str] = set()
    with session_factory() as session:
        for url, failures, since, success in session.execute(stmt):
            if configured is not None and url not in configured:
                continue
            seen.add(url)
            counts[classify_feed(failures, since, success, now, broken_after_s)] += 1
    if configured is not None:
        counts["new"] += len(set(configured) - seen)
    return counts


def removed_feed_count(session_factory: SessionFactory, configured: Collection[str]) -> int:
    """Stored feeds that ``configured`` (the config's feed URLs) no longer lists: not
    polled any more, whether or not a poll cycle has marked them inactive yet."""
    with session_factory() as session:
        return sum(1 for url in session.scalars(select(FeedRow.url)) if url not in configured)


def alert_counts(session_factory: SessionFactory) -> dict[tuple[AlertStatus, str], int]:
    """Outbox rows counted by (status, channel)."""
    stmt = select(AlertRow.status, AlertRow.channel, func.count()).group_by(
        AlertRow.status, AlertRow.channel
    )
    with session_factory() as session:
        return {
            (vocab.alert_status(status), channel): n for status, channel, n in session.execute(stmt)
        }


def articles_since(session_factory: SessionFactory, since: datetime | None = None) -> int:
    """Articles first seen at or after ``since`` (all of them when None)."""
    stmt = select(func.count()).select_from(ArticleRow)
    if since is not None:
        stmt = stmt.where(ArticleRow.first_seen_at >= since)
    with session_factory() as session:
        return session.execute(stmt).scalar_one()


@dataclass(frozen=True, slots=True)
class FailingFeed:
    """An active feed whose last poll failed."""

    url: str
    error_kind: FetchErrorKind
    failures: int
    since: datetime | None
    next_check_at: datetime | None


def failing_feeds(
    session_factory: SessionFactory, limit: int = 5, configured: Collection[str] | None = None
) -> list[FailingFeed]:
    """Active feeds with an error, longest-failing first; with ``configured`` (the
    config's feed URLs), only those the config still lists, whatever the database's
    ``active`` flag says (see :func:`feed_status_counts`)."""
    stmt = select(
        FeedRow.url,
        FeedRow.error_kind,
        FeedRow.failures,
        FeedRow.error_since,
        FeedRow.next_check_at,
    ).where(FeedRow.error_kind.is_not(None))
    if configured is None:
        stmt = stmt.where(FeedRow.active == 1)
    stmt = stmt.order_by(FeedRow.error_since.is_(None), FeedRow.error_since, FeedRow.url)
    if configured is None:
        stmt = stmt.limit(limit)
    with session_factory() as session:
        failing = [
            FailingFeed(
                url=url,
                error_kind=vocab.error_kind(kind),
                failures=failures or 0,
                since=since,
                next_check_at=next_check_at,
            )
            for url, kind, failures, since, next_check_at in session.execute(stmt)
            if kind is not None  # the query's own filter: error_kind IS NOT NULL
            and (configured is None or url in configured)
        ]
    return failing[:limit]


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as the ``monitor alerts`` listing shows it."""

    id: int
    created_at: datetime
    rule: str
    channel: str
    status: AlertStatus
    attempts: int
    last_error: str | None
    title: str
    sent_at: datetime | None
    next_attempt_at: datetime | None
    article_id: int = 0
    link: str | None = None


def alert_status_counts(session: Session) -> dict[AlertStatus, int]:
    """Number of alerts by status (every status present, zero included)."""
    counts = dict.fromkeys(ALERT_STATUSES, 0)
    for status, n in session.execute(
        select(AlertRow.status, func.count()).group_by(AlertRow.status)
    ):
        counts[vocab.alert_status(status)] = n
    return counts


def recent_alerts(
    session: Session,
    status: AlertStatus | Literal["held"] | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> list[AlertLine]:
    """The newest alerts (optionally of one status), newest first. ``held``: the pending
    ones never tried whose first attempt comes after ``now`` (quiet hours, a digest slot,
    min_sources), as ``monitor alerts`` shows them."""
    stmt = select(AlertRow, ArticleRow.title, ArticleRow.link).join(
        ArticleRow, ArticleRow.id == AlertRow.article_id
    )
    if status == "held":
        stmt = stmt.where(
            AlertRow.status == "pending",
            AlertRow.attempts == 0,
            AlertRow.next_attempt_at > (now or datetime.now(UTC)),
        )
    elif status:
        stmt = stmt.where(AlertRow.status == status)
    stmt = stmt.order_by(AlertRow.created_at.desc(), AlertRow.id.desc()).limit(limit)
    return [
        AlertLine(
            id=r.id,
            created_at=r.created_at,
            rule=r.rule,
            channel=r.channel,
            status=vocab.alert_status(r.status),
            attempts=r.attempts,
            last_error=r.last_error,
            title=title,
            sent_at=r.sent_at,
            next_attempt_at=r.next_attempt_at,
            article_id=r.article_id,
            link=link,
        )
        for r, title, link in session.execute(stmt)
    ]


RATE_WINDOW = timedelta(days=7)  # "new items per day" is averaged over the last week


@dataclass(frozen=True, slots=True)
class FeedView:
    """One line of the ``feeds`` table."""

    name: str
    url: str
    status: FeedStatus | Literal["removed"]  # "removed": no longer in the config
    last_success: datetime | None
    error_kind: FetchErrorKind | None
    error: str | None
    next_check: datetime | None
    failures: int
    articles: int
    new_per_day: float


def feed_views(
    session_factory: SessionFactory,
    feeds: Sequence[FeedConfig],
    now: datetime,
    *,
    broken_after_s: float,
    include_removed: bool = False,
) -> list[FeedView]:
    """The status of every configured feed (and removed ones when asked), config order.

    ``feeds`` (the config) decides what is followed, not the database, which only a poll
    cycle brings up to date: a configured feed not stored yet is ``new``, one stored as
    inactive (listed again since) is classified as any other, and a stored feed the
    config no longer lists is ``removed`` with no next check, as the next poll cycle will
    mark it. Nothing is written."""
    with session_factory() as session:
        rows = {r.url: r for r in session.scalars(select(FeedRow))}
        stored = _counts(session)
        recent = _counts(session, since=now - RATE_WINDOW)
    views = []
    for feed in feeds:
        row = rows.pop(feed.url, None)
        if row is None:
            views.append(_new_view(feed))
        else:
            views.append(_view(row, now, broken_after_s, stored, recent, feed.name))
    if include_removed:
        views += [
            replace(
                _view(r, now, broken_after_s, stored, recent, None),
                status="removed",
                next_check=None,
            )
            for r in rows.values()
        ]
    return views


def _new_view(feed: FeedConfig) -> FeedView:
    """A configured feed that no poll cycle has stored yet."""
    return FeedView(
        name=feed.name or "",
        url=feed.url,
        status="new",
        last_success=None,
        error_kind=None,
        error=None,
        next_check=None,
        failures=0,
        articles=0,
        new_per_day=0.0,
    )


def _counts(session: Session, since: datetime | None = None) -> dict[int, int]:
    query = select(ArticleRow.feed_id, func.count()).group_by(ArticleRow.feed_id)
    if since is not None:
        query = query.where(ArticleRow.first_seen_at >= since)
    return {feed_id: n for feed_id, n in session.execute(query)}


def _view(
    row: FeedRow,
    now: datetime,
    broken_after_s: float,
    stored: dict[int, int],
    recent: dict[int, int],
    name: str | None,
) -> FeedView:
    age = (now - row.created_at) if row.created_at else RATE_WINDOW
    days = min(max(age, timedelta(days=1)), RATE_WINDOW).total_seconds() / 86400
    return FeedView(
        name=name or row.name or row.title or "",
        url=row.url,
        status=classify_feed(
            row.failures, row.error_since, row.last_success_at, now, broken_after_s
        ),
        last_success=row.last_success_at,
        error_kind=vocab.error_kind(row.error_kind)
        if row.failures and row.error_kind is not None
        else None,
        error=row.error_message if row.failures else None,
        next_check=row.next_check_at,
        failures=row.failures or 0,
        articles=stored.get(row.id, 0),
        new_per_day=round(recent.get(row.id, 0) / days, 1),
    )


def database_size(engine: Engine) -> tuple[str, int | None, int | None]:
    """(file path or masked URL, size in bytes, WAL size in bytes) where knowable."""
    url, database = engine.url, engine.url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database)
        return str(path), _file_size(path), _file_size(Path(f"{path}-wal"))
    shown = mask_url(url.render_as_string(hide_password=True))
    if url.get_backend_name() == "postgresql":
        try:
            with engine.connect() as conn:
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            return shown, None if size is None else int(size), None
        except Exception:  # size is a nicety; the rest of the screen still matters
            return shown, None, None
    return shown, None, None


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def worker_list(
    session_factory: SessionFactory, now: datetime, *, since: datetime
) -> list[WorkerInfo]:
    """The workers sharing the database heard from since ``since`` (newest first), with
    the feeds and jobs each holds (:mod:`monitor.store.workers`)."""
    with session_factory() as session:
        return workers.workers(session, now, since=since)
