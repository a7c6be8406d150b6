"""Read-only views of stories for ``monitor stories`` and the STORY column of ``monitor alerts``.

A story is the set of articles sharing ``articles.story_id`` (the id of its first
article); an article without one (stored before the clusterer filled it in) is a story
of its own whose id is the article's. A story's outlets are the distinct feeds of its
articles and of their sightings. Every query goes through an index
(``ix_articles_first_seen_at``, ``ix_articles_story_id``, the primary key, the
``article_id`` and ``rule`` indexes of sightings, matches and alerts); each function
returns frozen records, ORM rows never leave the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from monitor.store.feeds import source_name
from monitor.store.schema import AlertRow, ArticleRow, FeedRow, MatchRow, SightingRow

CHUNK = 500  # ids per IN list: far below SQLite's bound on variables

STORY_KEY = func.coalesce(ArticleRow.story_id, ArticleRow.id)
"""An article's story id: its ``story_id``, else its own id."""


@dataclass(frozen=True, slots=True)
class OlderTitle:
    """A headline an edited article had before, and when it was replaced (None: unknown)."""

    title: str
    until: datetime | None


@dataclass(frozen=True, slots=True)
class StoryArticle:
    """One article of a story. ``reason`` is why it joined the story (``new``,
    ``same_link``, ``near_duplicate``, ``linked``, ``same_story``; None when the clusterer
    never saw it), ``score`` how strongly (0-100)."""

    id: int
    first_seen_at: datetime
    published_at: datetime | None
    outlet: str
    language: str | None
    title: str
    link: str | None
    reason: str | None
    score: int | None
    older_titles: tuple[OlderTitle, ...]


@dataclass(frozen=True, slots=True)
class StoryRule:
    """A rule that matched an article of the story: when it first matched, and when it
    first alerted (the first outbox row of that rule on any of its articles; None: never,
    e.g. a later article of a story the rule had alerted on elsewhere, or a backlog one)."""

    rule: str
    matched_at: datetime
    alerted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Story:
    """A story with all its articles (oldest first), outlets and languages in the order
    they first appear, and its rules in the order they first matched."""

    id: int
    first_seen_at: datetime
    last_seen_at: datetime
    outlets: tuple[str, ...]
    languages: tuple[str, ...]
    rules: tuple[StoryRule, ...]
    articles: tuple[StoryArticle, ...]


@dataclass(frozen=True, slots=True)
class StoryTag:
    """What ``monitor alerts`` says of an alert's story: its id and how many outlets."""

    story_id: int
    outlets: int


def recent_stories(
    session: Session, since: datetime, *, rule: str | None = None, limit: int = 20
) -> list[Story]:
    """The stories with an article first seen at or after ``since``, the one seen most
    recently first (ties: the newer story first), at most ``limit``; with ``rule`` only
    those where that rule matched one of their articles (in the window or before)."""
    key = STORY_KEY.label("story")
    last = func.max(ArticleRow.first_seen_at)
    stmt = select(key).where(ArticleRow.first_seen_at >= since)
    if rule is not None:
        matched = (
            select(STORY_KEY)
            .join(MatchRow, MatchRow.article_id == ArticleRow.id)
            .where(MatchRow.rule == rule)
        )
        stmt = stmt.where(STORY_KEY.in_(matched.scalar_subquery()))
    stmt = stmt.group_by(key).order_by(last.desc(), key.desc()).limit(max(1, limit))
    ids = list(session.scalars(stmt))
    return _stories(session, ids)


def alert_stories(session: Session, alert_ids: Sequence[int]) -> dict[int, StoryTag]:
    """The story of each alert (by alert id) with its number of outlets."""
    story_of: dict[int, int] = {}
    for chunk in _chunks(alert_ids):
        stmt = (
            select(AlertRow.id, STORY_KEY)
            .join(ArticleRow, ArticleRow.id == AlertRow.article_id)
            .where(AlertRow.id.in_(chunk))
        )
        story_of.update({alert_id: story for alert_id, story in session.execute(stmt)})
    feeds: dict[int, set[int]] = {}
    for story, feed_id in _story_feeds(session, set(story_of.values())):
        feeds.setdefault(story, set()).add(feed_id)
    return {a: StoryTag(s, len(feeds.get(s, ()))) for a, s in story_of.items()}


def stored_rules(session: Session) -> list[str]:
    """Every rule name with a stored match (a rule since removed from the config too)."""
    return list(session.scalars(select(MatchRow.rule).distinct().order_by(MatchRow.rule)))


def _in_stories(story_ids: Sequence[int]) -> ColumnElement[bool]:
    """Articles of these stories, through the story_id index and the primary key."""
    return or_(
        ArticleRow.story_id.in_(story_ids),
        and_(ArticleRow.story_id.is_(None), ArticleRow.id.in_(story_ids)),
    )


def _story_feeds(session: Session, story_ids: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(story, feed id) for every article of the stories and every sighting of them."""
    for chunk in _chunks(sorted(story_ids)):
        yield from session.execute(select(STORY_KEY, ArticleRow.feed_id).where(_in_stories(chunk)))
        yield from session.execute(
            select(STORY_KEY, SightingRow.feed_id)
            .join(ArticleRow, ArticleRow.id == SightingRow.article_id)
            .where(_in_stories(chunk))
        )


def _stories(session: Session, ids: Sequence[int]) -> list[Story]:
    """The stories of ``ids``, in that order, with their articles, outlets and rules."""
    names = _Names(session)
    articles: dict[int, list[tuple[StoryArticle, int]]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        stmt = (
            select(
                STORY_KEY, ArticleRow.id, ArticleRow.feed_id, ArticleRow.first_seen_at,
                ArticleRow.published_at, ArticleRow.language, ArticleRow.title, ArticleRow.link,
                ArticleRow.story_reason, ArticleRow.story_score, ArticleRow.title_history,
            )
            .where(_in_stories(chunk))
        )  # fmt: skip
        for (
            story,
            aid,
            feed,
            seen,
            published,
            lang,
            title,
            link,
            why,
            score,
            history,
        ) in session.execute(stmt):
            article = StoryArticle(
                aid, seen, published, names.of(feed), lang, title, link, why, score,
                _older_titles(history),
            )  # fmt: skip
            articles[story].append((article, feed))
    outlets = _outlets(session, ids, articles, names)
    rules = _rules(session, {a.id: s for s, arts in articles.items() for a, _ in arts})
    return [
        _story(i, [a for a, _ in articles[i]], outlets.get(i, ()), rules.get(i, ()))
        for i in ids
        if articles[i]
    ]


def _story(
    story_id: int,
    articles: list[StoryArticle],
    outlets: Sequence[str],
    rules: Sequence[StoryRule],
) -> Story:
    articles.sort(key=lambda a: (a.first_seen_at, a.id))
    languages = dict.fromkeys(a.language for a in articles if a.language)
    return Story(
        id=story_id,
        first_seen_at=articles[0].first_seen_at,
        last_seen_at=max(a.first_seen_at for a in articles),
        outlets=tuple(outlets),
        languages=tuple(languages),
        rules=tuple(rules),
        articles=tuple(articles),
    )


def _outlets(
    session: Session,
    ids: Sequence[int],
    articles: dict[int, list[tuple[StoryArticle, int]]],
    names: _Names,
) -> dict[int, tuple[str, ...]]:
    """Each story's outlets: its articles' feeds, oldest article first, then the other
    feeds that carried them (sightings, oldest first)."""
    feeds: dict[int, dict[int, None]] = {}
    for story, arts in articles.items():
        ordered = sorted(arts, key=lambda pair: (pair[0].first_seen_at, pair[0].id))
        feeds[story] = dict.fromkeys(feed for _, feed in ordered)
    for chunk in _chunks(ids):
        stmt = (
            select(STORY_KEY, SightingRow.feed_id)
            .join(ArticleRow, ArticleRow.id == SightingRow.article_id)
            .where(_in_stories(chunk))
            .order_by(SightingRow.seen_at, SightingRow.id)
        )
        for story, feed in session.execute(stmt):
            feeds[story].setdefault(feed)
    return {story: tuple(names.of(f) for f in fs) for story, fs in feeds.items()}


def _rules(session: Session, story_of: dict[int, int]) -> dict[int, tuple[StoryRule, ...]]:
    """Each story's rules: first match and first alert of each, by first match."""
    matched: dict[tuple[int, str], datetime] = {}
    alerted: dict[tuple[int, str], datetime] = {}
    for chunk in _chunks(sorted(story_of)):
        for aid, rule, at in session.execute(
            select(MatchRow.article_id, MatchRow.rule, MatchRow.created_at).where(
                MatchRow.article_id.in_(chunk)
            )
        ):
            _earliest(matched, (story_of[aid], rule), at)
        for aid, rule, at in session.execute(
            select(AlertRow.article_id, AlertRow.rule, func.min(AlertRow.created_at))
            .where(AlertRow.article_id.in_(chunk))
            .group_by(AlertRow.article_id, AlertRow.rule)
        ):
            _earliest(alerted, (story_of[aid], rule), at)
    out: dict[int, list[StoryRule]] = {}
    for (story, rule), at in sorted(matched.items(), key=lambda kv: (kv[1], kv[0][1])):
        out.setdefault(story, []).append(StoryRule(rule, at, alerted.get((story, rule))))
    return {story: tuple(rs) for story, rs in out.items()}


def _earliest(seen: dict[tuple[int, str], datetime], key: tuple[int, str], at: datetime) -> None:
    if key not in seen or at < seen[key]:
        seen[key] = at


def _older_titles(history: object) -> tuple[OlderTitle, ...]:
    """``title_history`` ([{"title", "until"}], ISO 8601 times) as records; anything else
    in it (a hand-edited row, a future shape) is skipped, never an error."""
    if not isinstance(history, list):
        return ()
    return tuple(
        OlderTitle(item["title"], _when(item.get("until")))
        for item in history
        if isinstance(item, dict) and isinstance(item.get("title"), str)
    )


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class _Names:
    """Feed names as shown (:func:`~monitor.store.feeds.source_name`), each read once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._names: dict[int, str] = {}

    def of(self, feed_id: int) -> str:
        if feed_id not in self._names:
            row = self._session.execute(
                select(FeedRow.name, FeedRow.title, FeedRow.url).where(FeedRow.id == feed_id)
            ).one_or_none()
            self._names[feed_id] = source_name(*row) if row else f"feed {feed_id}"
        return self._names[feed_id]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
