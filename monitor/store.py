"""Storage: feeds' scheduling state, articles stored once, matches and their outbox rows.

The dedup keys are computed in one place (:mod:`monitor.normalize` gives the guid,
:mod:`monitor.urls` the canonical link); :func:`insert_new_articles` returns only what is
new, and only that flows on to matching. :func:`record_matches` writes each match and
one outbox row per channel in the caller's transaction, so a crash never loses an alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.errors import FetchError
from monitor.models import AlertRow, ArticleRow, FeedRow, MatchRow, SightingRow
from monitor.records import Article, Evidence, FeedConfig, Match, RuleConfig, StoredArticle


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
    host of its URL (a local fixture path shows as itself)."""
    return name or title or urlsplit(url).netloc or url


def _state(row: FeedRow) -> FeedState:
    return FeedState(
        row.id,
        row.url,
        row.name,
        row.title,
        row.etag,
        row.last_modified,
        row.body_hash,
        row.last_forced_at,
        row.next_check_at,
        row.failures or 0,
        row.polls or 0,
        row.error_since,
        row.broken_notified_at,
    )


def sync_feeds(session: Session, feeds: Sequence[FeedConfig], now: datetime) -> None:
    """Make the feeds table match the config: add new feeds (due now), reactivate and
    rename listed ones, deactivate removed ones (their articles stay)."""
    rows = {r.url: r for r in session.scalars(select(FeedRow))}
    listed = {f.url for f in feeds}
    for feed in feeds:
        row = rows.get(feed.url)
        if row is None:
            session.add(
                FeedRow(
                    url=feed.url,
                    name=feed.name,
                    active=1,
                    failures=0,
                    polls=0,
                    next_check_at=now,
                    created_at=now,
                )
            )
        else:
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


def record_not_modified(
    session: Session, feed_id: int, *, next_check: datetime, now: datetime, forced: bool = False
) -> FeedState:
    """The feed answered 304 (or the same bytes): a success that costs no parse."""
    row = session.get_one(FeedRow, feed_id)
    _mark_success(row, now, next_check)
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
) -> FeedState:
    """A fetch and parse succeeded: store validators and reset the failure count."""
    row = session.get_one(FeedRow, feed_id)
    row.title = (title or row.title or "")[:512] or None
    row.etag, row.last_modified, row.body_hash = etag, last_modified, body_hash
    row.warning = warning
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
    session: Session, feed_id: int, error: FetchError, *, next_check: datetime, now: datetime
) -> FeedState:
    """A fetch or parse failed: record the classified error and back off."""
    row = session.get_one(FeedRow, feed_id)
    row.last_checked_at = now
    row.next_check_at = next_check
    row.failures = (row.failures or 0) + 1
    row.error_kind, row.error_message = error.kind, error.message[:2000]
    row.error_since = row.error_since or now
    return _state(row)


def set_broken_notified(session: Session, feed_id: int, when: datetime | None) -> None:
    """Remember that the operator was told this feed is broken (None: recovered)."""
    session.execute(update(FeedRow).where(FeedRow.id == feed_id).values(broken_notified_at=when))


def unseen_articles(session: Session, feed_id: int, articles: Iterable[Article]) -> list[Article]:
    """Articles whose guid this feed has not stored yet (before costly full-text fetches)."""
    articles = list(articles)
    if not articles:
        return []
    known: set[str] = set()
    guids = [a.guid for a in articles]
    for start in range(0, len(guids), 500):
        chunk = guids[start : start + 500]
        known.update(
            session.scalars(
                select(ArticleRow.guid).where(
                    ArticleRow.feed_id == feed_id, ArticleRow.guid.in_(chunk)
                )
            )
        )
    return [a for a in articles if a.guid not in known]


def insert_new_articles(
    session: Session,
    feed: FeedState,
    articles: Iterable[Article],
    *,
    now: datetime,
    backlog_s: float,
) -> list[StoredArticle]:
    """Store the articles not seen before and return only those.

    An article is known by (feed, guid) or by its canonical link from any feed; a known
    link seen through another feed is recorded as a sighting, not a new article. On a
    feed's first poll, articles published more than ``backlog_s`` ago are stored with
    ``alertable=False`` so adding a feed floods nobody; undated articles count as new.
    """
    first_poll = feed.polls == 0
    cutoff = now - timedelta(seconds=backlog_s)
    new: list[StoredArticle] = []
    for article in unseen_articles(session, feed.id, articles):
        if article.canonical_link:
            existing = session.scalar(
                select(ArticleRow.id).where(ArticleRow.canonical_link == article.canonical_link)
            )
            if existing is not None:
                _add_sighting(session, existing, feed.id, now)
                continue
        alertable = not (
            first_poll and article.published is not None and article.published < cutoff
        )
        row = ArticleRow(
            feed_id=feed.id,
            guid=article.guid[:2048],
            link=article.link,
            canonical_link=article.canonical_link,
            title=article.title,
            text=article.text,
            language=article.language,
            published_at=article.published,
            first_seen_at=now,
            alertable=int(alertable),
        )
        session.add(row)
        session.flush()
        _add_sighting(session, row.id, feed.id, now)
        new.append(
            StoredArticle(
                row.id,
                feed.url,
                feed.source,
                row.guid,
                row.link,
                row.title,
                row.text,
                row.published_at,
                now,
                row.language,
                alertable,
            )
        )
    return new


def _add_sighting(session: Session, article_id: int, feed_id: int, now: datetime) -> None:
    exists = session.scalar(
        select(SightingRow.id).where(
            SightingRow.article_id == article_id, SightingRow.feed_id == feed_id
        )
    )
    if exists is None:
        session.add(SightingRow(article_id=article_id, feed_id=feed_id, seen_at=now))


def record_matches(
    session: Session,
    article: StoredArticle,
    matches: Sequence[Match],
    rules: Mapping[str, RuleConfig],
    now: datetime,
) -> int:
    """Record each match and one outbox row per (rule, article, channel); return the
    number of outbox rows written. Runs inside the caller's transaction."""
    written = 0
    for match in matches:
        rule = rules[match.rule]
        if (
            session.scalar(
                select(MatchRow.id).where(
                    MatchRow.rule == rule.name, MatchRow.article_id == article.id
                )
            )
            is not None
        ):
            continue
        row = MatchRow(
            rule=rule.name,
            article_id=article.id,
            created_at=now,
            evidence=[evidence_to_json(e) for e in match.evidence],
        )
        session.add(row)
        session.flush()
        for channel in rule.channels:
            session.add(
                AlertRow(
                    match_id=row.id,
                    rule=rule.name,
                    article_id=article.id,
                    channel=channel,
                    status="pending",
                    delivery=rule.delivery,
                    priority=rule.priority,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            written += 1
    session.flush()
    return written


def evidence_to_json(e: Evidence) -> dict:
    """An Evidence record as stored in ``matches.evidence``."""
    return {
        "term": e.term,
        "surface": e.surface,
        "field": e.field,
        "score": e.score,
        "start": e.start,
        "end": e.end,
    }


def evidence_from_json(raw: object) -> tuple[Evidence, ...]:
    """The inverse of :func:`evidence_to_json`; tolerant of rows written by older versions."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            fields = {k: item[k] for k in Evidence.__slots__ if k in item}
            out.append(Evidence(**{"term": "", "surface": "", "field": "text", **fields}))
    return tuple(out)


def article_count(session: Session, feed_id: int | None = None) -> int:
    """How many articles are stored (for one feed, or in all)."""
    q = select(func.count(ArticleRow.id))
    if feed_id is not None:
        q = q.where(ArticleRow.feed_id == feed_id)
    return session.scalar(q) or 0
