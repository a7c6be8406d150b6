"""Articles stored once, their sightings, matches and the outbox rows written with them.

The dedup keys are computed in one place (:mod:`monitor.normalize.entries` gives the
guid, :mod:`monitor.normalize.urls` the canonical link); :func:`insert_new_articles`
returns only what is new, and only that flows on to matching. :func:`record_matches`
writes each match and one outbox row per channel in the caller's transaction, so a
crash never loses an alert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.records import Article, Evidence, Match, RuleConfig, StoredArticle
from monitor.store import stories
from monitor.store.feeds import FeedState
from monitor.store.schema import AlertRow, ArticleRow, MatchRow, SightingRow


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
                if _add_sighting(session, existing, feed.id, now):
                    story = session.get_one(ArticleRow, existing).story_id
                    stories.wake_held(session, story or existing, now)
                continue
        backlog = first_poll and article.published is not None and article.published < cutoff
        new.append(_insert(session, feed, article, alertable=not backlog, now=now))
    return new


def _insert(
    session: Session, feed: FeedState, article: Article, *, alertable: bool, now: datetime
) -> StoredArticle:
    """Insert one new article and its first sighting; return it as stored."""
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
        entry_hash=article.entry_hash or None,
    )
    session.add(row)
    session.flush()
    row.story_id = row.id  # a story of its own until the pipeline says otherwise
    _add_sighting(session, row.id, feed.id, now)
    return stored_article(row, feed)


def stored_article(
    row: ArticleRow, feed: FeedState, *, edited: bool = False, title_changed: bool = False
) -> StoredArticle:
    """The record of a stored row of ``feed`` (``edited``: matched again after an edit)."""
    return StoredArticle(
        id=row.id,
        feed_url=feed.url,
        source=feed.source,
        guid=row.guid,
        link=row.link,
        title=row.title,
        text=row.text,
        published=row.published_at,
        first_seen=row.first_seen_at,
        language=row.language,
        alertable=bool(row.alertable),
        canonical_link=row.canonical_link,
        story_id=row.story_id or row.id,
        edited=edited,
        title_changed=title_changed,
    )


def _add_sighting(session: Session, article_id: int, feed_id: int, now: datetime) -> bool:
    """Record that ``feed_id`` carries the article; whether that is new."""
    exists = session.scalar(
        select(SightingRow.id).where(
            SightingRow.article_id == article_id, SightingRow.feed_id == feed_id
        )
    )
    if exists is None:
        session.add(SightingRow(article_id=article_id, feed_id=feed_id, seen_at=now))
    return exists is None


def record_matches(
    session: Session,
    article: StoredArticle,
    matches: Sequence[Match],
    rules: Mapping[str, RuleConfig],
    now: datetime,
    reply_channels: Collection[str] = (),
) -> int:
    """Record each match and its outbox rows; return the number of outbox rows written.
    Runs inside the caller's transaction.

    An edited article (``article.edited``) is matched again: a rule that matches it now
    and did not before alerts ("update" rows); one that matched before alerts again
    only for a new headline and ``on_update = "alert"`` (the next revision of its rows).

    One alert per (rule, story): when the rule already matched another article of the
    article's story, the match is recorded (the story shows it) but alerts nobody, except
    on the channels in ``reply_channels`` (``story_updates = "reply"``), which get a
    "story" row answering the story's first alert there (instant rules only: a digest
    lists the story's outlets itself)."""
    written = 0
    kind = "update" if article.edited else "match"
    for match in matches:
        rule = rules[match.rule]
        known = session.scalar(
            select(MatchRow).where(MatchRow.rule == rule.name, MatchRow.article_id == article.id)
        )
        if known is not None:
            # matched before: an edit alerts again only for a new headline the rule asks
            # to hear of; otherwise the new headline is recorded (title_history), no more
            if article.title_changed and rule.on_update == "alert":
                known.evidence = [evidence_to_json(e) for e in match.evidence]
                written += _realert(session, known.id, rule, article.id, now)
            continue
        row = MatchRow(
            rule=rule.name,
            article_id=article.id,
            created_at=now,
            evidence=[evidence_to_json(e) for e in match.evidence],
        )
        session.add(row)
        session.flush()
        story = article.story_id
        if story is not None and stories.matched_in_story(session, story, rule.name, article.id):
            stories.wake_held(session, story, now)  # one more outlet: min_sources may be met
            for channel in rule.channels:
                first = stories.first_alert(session, story, rule.name, channel)
                if channel in reply_channels and first is not None and rule.delivery == "instant":
                    reply = _alert_row(row.id, rule, article.id, channel, now, "story")
                    reply.reply_to = first
                    session.add(reply)
                    written += 1
            continue
        session.add_all(_alert_row(row.id, rule, article.id, c, now, kind) for c in rule.channels)
        written += len(rule.channels)
    session.flush()
    return written


def _realert(
    session: Session, match_id: int, rule: RuleConfig, article_id: int, now: datetime
) -> int:
    """One more alert per channel of ``rule`` for an article it alerted on (a new
    headline, ``on_update = "alert"``): the next revision of each outbox row."""
    written = 0
    for channel in rule.channels:
        last = session.scalar(
            select(func.max(AlertRow.revision)).where(
                AlertRow.rule == rule.name,
                AlertRow.article_id == article_id,
                AlertRow.channel == channel,
            )
        )
        revision = 0 if last is None else last + 1
        session.add(_alert_row(match_id, rule, article_id, channel, now, "update", revision))
        written += 1
    return written


def _alert_row(
    match_id: int,
    rule: RuleConfig,
    article_id: int,
    channel: str,
    now: datetime,
    kind: str = "match",
    revision: int = 0,
) -> AlertRow:
    """The outbox row of one (rule, article, channel), due now."""
    return AlertRow(
        match_id=match_id,
        rule=rule.name,
        article_id=article_id,
        channel=channel,
        status="pending",
        delivery=rule.delivery,
        priority=rule.priority,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        kind=kind,
        revision=revision,
    )


def evidence_to_json(e: Evidence) -> dict[str, str | int]:
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
