"""Articles stored once, their sightings, matches and the outbox rows written with them.

The dedup keys are computed in one place (:mod:`monitor.normalize.entries` gives the
guid, :mod:`monitor.normalize.urls` the canonical link); :func:`insert_new_articles`
returns only what is new, and only that flows on to matching. :func:`record_matches`
writes each match and one outbox row per channel in the caller's transaction, so a
crash never loses an alert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.records import Article, Evidence, Match, RuleConfig, StoredArticle
from monitor.store import stories
from monitor.store.feeds import FeedState
from monitor.store.schema import AlertRow, ArticleRow, MatchRow, SightingRow, insert_ignoring

_T = TypeVar("_T")


def unseen_articles(session: Session, feed_id: int, articles: Iterable[Article]) -> list[Article]:
    """Articles whose guid this feed has not stored yet (before costly full-text fetches)."""
    articles = list(articles)
    if not articles:
        return []
    known: set[str] = set()
    for chunk in _chunks([a.guid for a in articles]):
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
    """Store the articles not seen before and return only those, in feed order.

    An article is known by (feed, guid) or by its canonical link from any feed; a known
    link seen through another feed is recorded as a sighting, not a new article. On a
    feed's first poll, articles published more than ``backlog_s`` ago are stored with
    ``alertable=False`` so adding a feed floods nobody; undated articles count as new.

    A feed's new articles are one ``INSERT … ON CONFLICT DO NOTHING … RETURNING`` (and
    their sightings one more), not a flush per row: the per-row ORM inserts were 38 % of
    a cold cycle's database thread (bench/cycle.py). A row another writer stored first
    (PostgreSQL, several workers) is not an error: it becomes a sighting of that one.
    """
    first_poll = feed.polls == 0
    cutoff = now - timedelta(seconds=backlog_s)
    fresh: list[Article] = []
    links: set[str] = set()
    for article in unseen_articles(session, feed.id, articles):
        if article.canonical_link in links:
            continue  # two entries of this fetch with one canonical link: the first counts
        if article.canonical_link:
            links.add(article.canonical_link)
        fresh.append(article)
    known = _ids_by_link(session, links)
    sighted = [known[a.canonical_link] for a in fresh if a.canonical_link in known]
    fresh = [a for a in fresh if a.canonical_link not in known]
    rows = [
        {
            "feed_id": feed.id,
            "guid": a.guid[:2048],
            "link": a.link,
            "canonical_link": a.canonical_link,
            "title": a.title,
            "text": a.text,
            "language": a.language,
            "published_at": a.published,
            "first_seen_at": now,
            "alertable": int(not (first_poll and a.published is not None and a.published < cutoff)),
            "entry_hash": a.entry_hash or None,
            "story_reason": "new",  # a story of its own until placed in one
            "story_score": 100,
        }
        for a in fresh
    ]
    ids: dict[str, int] = {}
    if rows:
        stmt = insert_ignoring(session, ArticleRow).returning(ArticleRow.id, ArticleRow.guid)
        ids = {guid: id_ for id_, guid in session.execute(stmt, rows)}
        session.execute(
            update(ArticleRow)
            .where(ArticleRow.id.in_(list(ids.values())))
            .values(story_id=ArticleRow.id)  # a story of its own until placed in one
            .execution_options(synchronize_session=False)
        )
    lost = [a for a in fresh if a.guid[:2048] not in ids]
    if lost:  # stored by another writer since we looked: sightings of theirs
        again = _ids_by_link(session, {a.canonical_link for a in lost if a.canonical_link})
        sighted += [again[a.canonical_link] for a in lost if a.canonical_link in again]
    if ids:  # a new article's first sighting
        session.execute(
            insert_ignoring(session, SightingRow),
            [{"article_id": i, "feed_id": feed.id, "seen_at": now} for i in ids.values()],
        )
    for article_id in _add_sightings(session, sighted, feed.id, now):
        story = session.scalar(select(ArticleRow.story_id).where(ArticleRow.id == article_id))
        stories.wake_held(session, story or article_id, now)
    return [
        StoredArticle(
            id=ids[a.guid[:2048]],
            feed_url=feed.url,
            source=feed.source,
            guid=a.guid[:2048],
            link=a.link,
            title=a.title,
            text=a.text,
            published=a.published,
            first_seen=now,
            language=a.language,
            alertable=bool(row["alertable"]),
            canonical_link=a.canonical_link,
            story_id=ids[a.guid[:2048]],
        )
        for a, row in zip(fresh, rows, strict=True)
        if a.guid[:2048] in ids
    ]


def _chunks(values: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    """``values`` in runs of ``size``: the bound parameters of one ``IN (…)``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ids_by_link(session: Session, links: Collection[str]) -> dict[str, int]:
    """The stored articles' ids by canonical link, for those of ``links`` stored."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(links)):
        rows = session.execute(
            select(ArticleRow.canonical_link, ArticleRow.id).where(
                ArticleRow.canonical_link.in_(chunk)
            )
        )
        found.update({link: id_ for link, id_ in rows if link is not None})
    return found


def _add_sightings(
    session: Session, article_ids: Sequence[int], feed_id: int, now: datetime
) -> list[int]:
    """Record that ``feed_id`` carries each article; the ids for which that is new."""
    if not article_ids:
        return []
    seen: set[int] = set()
    for chunk in _chunks(article_ids):
        seen.update(
            session.scalars(
                select(SightingRow.article_id).where(
                    SightingRow.feed_id == feed_id, SightingRow.article_id.in_(chunk)
                )
            )
        )
    new = list(dict.fromkeys(a for a in article_ids if a not in seen))
    if new:
        session.execute(
            insert_ignoring(session, SightingRow),
            [{"article_id": a, "feed_id": feed_id, "seen_at": now} for a in new],
        )
    return new


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
    story = article.story_id
    # A new article alone in its story has no other article there to have matched
    # first: the story lookup per match is for edited and joined articles only.
    alone = not article.edited and story in (None, article.id)
    rows: list[tuple[MatchRow, RuleConfig, bool]] = []
    names = [m.rule for m in matches]
    before = {
        row.rule: row
        for row in (
            session.scalars(
                select(MatchRow).where(MatchRow.article_id == article.id, MatchRow.rule.in_(names))
            )
            if names
            else ()
        )
    }  # one query for every rule of the article, not one per match
    for match in matches:
        rule = rules[match.rule]
        known = before.get(rule.name)
        if known is not None:
            # matched before: an edit alerts again only for a new headline the rule asks
            # to hear of; otherwise the new headline is recorded (title_history), no more
            if article.title_changed and rule.on_update == "alert":
                known.evidence = [evidence_to_json(e) for e in match.evidence]
                written += _realert(session, known.id, rule, article.id, now)
            continue
        repeat = (
            not alone
            and story is not None
            and stories.matched_in_story(session, story, rule.name, article.id)
        )
        row = MatchRow(
            rule=rule.name,
            article_id=article.id,
            created_at=now,
            evidence=[evidence_to_json(e) for e in match.evidence],
        )
        session.add(row)
        rows.append((row, rule, repeat))
    if rows:
        session.flush()  # the match ids, once for all of them
    for row, rule, repeat in rows:
        if repeat:
            assert story is not None
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
