"""Feeds and their scheduling state: what the config lists, when each is due, how it fared.

:func:`sync_feeds` makes the table match the config; :func:`feed_states` says which
feeds are due; :func:`record_success`, :func:`record_not_modified` and
:func:`record_failure` store one poll's outcome in the caller's transaction. The next
check time is the scheduler's (:mod:`monitor.schedule`), passed in. Error and warning
texts are masked (:func:`~monitor.secrets.mask_text`) before they are written, so the
database never holds a secret outside ``feeds.url`` (the feed's key: the expanded URL),
whichever process wrote it and whoever reads it later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.errors import FetchError
from monitor.records import FeedConfig
from monitor.secrets import mask_text
from monitor.store.schema import FeedRow, insert_ignoring


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's stored scheduling state, as the pipeline sees it."""

    id: int
    url: str
    name: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_forced_at: datetime | None
    next_check_at: datetime | None
    failures: int
    polls: int
    error_since: datetime | None
    broken_notified_at: datetime | None

    @property
    def source(self) -> str:
        """The name shown in alerts and notices (see :func:`source_name`)."""
        return source_name(self.name, self.title, self.url)


def source_name(name: str | None, title: str | None, url: str) -> str:
    """A feed as people see it: configured name, else the feed's own title, else the
    host (and port) of its URL, never its ``user:password@`` (a local fixture path shows
    as itself)."""
    return name or title or _host(url) or url


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return parts.netloc.rpartition("@")[2] if parts.hostname else ""
    except ValueError:
        return ""


def _state(row: FeedRow) -> FeedState:
    return FeedState(
        id=row.id,
        url=row.url,
        name=row.name,
        title=row.title,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        last_forced_at=row.last_forced_at,
        next_check_at=row.next_check_at,
        failures=row.failures or 0,
        polls=row.polls or 0,
        error_since=row.error_since,
        broken_notified_at=row.broken_notified_at,
    )


def sync_feeds(session: Session, feeds: Sequence[FeedConfig], now: datetime) -> None:
    """Make the feeds table match the config: add new feeds (due now), reactivate and
    rename listed ones, deactivate removed ones (their articles stay). New feeds are
    inserted with ``ON CONFLICT DO NOTHING``: workers starting together on one
    PostgreSQL database each add the same feeds, and none of them fails for it."""
    rows = {r.url: r for r in session.scalars(select(FeedRow))}
    listed = {f.url for f in feeds}
    added = [
        {
            "url": feed.url,
            "name": feed.name,
            "active": 1,
            "failures": 0,
            "polls": 0,
            "next_check_at": now,
            "created_at": now,
        }
        for feed in {f.url: f for f in feeds}.values()
        if feed.url not in rows
    ]
    for start in range(0, len(added), 500):
        session.execute(insert_ignoring(session, FeedRow), added[start : start + 500])
    for feed in feeds:
        row = rows.get(feed.url)
        if row is not None:
            row.name = feed.name
            if not row.active:
                row.active, row.next_check_at = 1, now
    for url, row in rows.items():
        if url not in listed and row.active:
            row.active = 0
    session.flush()


def feed_states(session: Session, *, due_at: datetime | None = None) -> list[FeedState]:
    """Active feeds; with ``due_at``, only those whose next check time has come."""
    q = select(FeedRow).where(FeedRow.active == 1).order_by(FeedRow.next_check_at, FeedRow.id)
    if due_at is not None:
        q = q.where((FeedRow.next_check_at.is_(None)) | (FeedRow.next_check_at <= due_at))
    return [_state(r) for r in session.scalars(q)]


def feed_states_of(session: Session, ids: Sequence[int]) -> list[FeedState]:
    """The states of the feeds ``ids`` (claimed: :func:`monitor.store.workers.claim_feeds`),
    most overdue first."""
    if not ids:
        return []
    q = select(FeedRow).where(FeedRow.id.in_(list(ids))).order_by(FeedRow.next_check_at, FeedRow.id)
    return [_state(r) for r in session.scalars(q)]


def _release(row: FeedRow, owner: str | None) -> None:
    """The poll is recorded: its lease goes back, unless another worker holds the feed
    now (this one's lapsed and was taken: the other's claim is left alone)."""
    if owner is None or row.lease_owner in (None, owner):
        row.lease_owner = row.lease_until = None


def record_not_modified(
    session: Session,
    feed_id: int,
    *,
    next_check: datetime,
    now: datetime,
    forced: bool = False,
    owner: str | None = None,
) -> FeedState:
    """The feed answered 304 (or the same bytes): a success that costs no parse."""
    row = session.get_one(FeedRow, feed_id)
    _mark_success(row, now, next_check)
    _release(row, owner)
    if forced:
        row.last_forced_at = now
    return _state(row)


def record_success(
    session: Session,
    feed_id: int,
    *,
    title: str | None,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    warning: str | None,
    next_check: datetime,
    now: datetime,
    forced: bool = False,
    owner: str | None = None,
) -> FeedState:
    """A fetch and parse succeeded: store validators and reset the failure count."""
    row = session.get_one(FeedRow, feed_id)
    _release(row, owner)
    row.title = (title or row.title or "")[:512] or None
    row.etag, row.last_modified, row.body_hash = etag, last_modified, body_hash
    row.warning = mask_text(warning) if warning else warning
    if forced:
        row.last_forced_at = now
    _mark_success(row, now, next_check)
    return _state(row)


def _mark_success(row: FeedRow, now: datetime, next_check: datetime) -> None:
    row.last_checked_at = row.last_success_at = now
    row.next_check_at = next_check
    row.failures = 0
    row.error_kind = row.error_message = None
    row.error_since = None
    row.polls = (row.polls or 0) + 1


def record_failure(
    session: Session,
    feed_id: int,
    error: FetchError,
    *,
    next_check: datetime,
    now: datetime,
    owner: str | None = None,
) -> FeedState:
    """A fetch or parse failed: record the classified error and back off."""
    row = session.get_one(FeedRow, feed_id)
    _release(row, owner)
    row.last_checked_at = now
    row.next_check_at = next_check
    row.failures = (row.failures or 0) + 1
    row.error_kind, row.error_message = error.kind, mask_text(error.message)[:2000]
    row.error_since = row.error_since or now
    return _state(row)


def set_broken_notified(session: Session, feed_id: int, when: datetime | None) -> None:
    """Remember that the operator was told this feed is broken (None: recovered)."""
    session.execute(update(FeedRow).where(FeedRow.id == feed_id).values(broken_notified_at=when))
