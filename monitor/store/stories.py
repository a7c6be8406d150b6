"""Stories in the database: each article's story (the id of the story's first article,
set when it is stored), the window of articles a restarted daemon replays into its
clusterer, and what a rule already alerted on in a story.

The clustering itself is pure (:mod:`monitor.stories`); the pipeline asks it and stores
the answer here, in the transaction that stores the article.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.store.feeds import source_name
from monitor.store.schema import AlertRow, ArticleRow, FeedRow, MatchRow, SightingRow


@dataclass(frozen=True, slots=True)
class WindowArticle:
    """A stored article as the clusterer is given it again after a restart."""

    id: int
    outlet: str  # the feed's URL: one feed, one outlet
    language: str | None
    title: str
    text: str
    canonical_link: str | None
    published: datetime  # UTC: the feed's date, never after first seen
    story_id: int


def story_time(published: datetime | None, first_seen: datetime, window: timedelta) -> datetime:
    """The time a story counts for an article: its feed's date, but never later than when
    we first saw it (a feed dating an entry in 2099 would otherwise move the window's
    clock forward and empty it) nor more than a window before (a syndicated copy keeping
    an old original date arrives now, and must meet the original in the window)."""
    if published is None or published > first_seen or published < first_seen - window:
        return first_seen
    return published


def set_story(session: Session, article_id: int, story_id: int, reason: str, score: float) -> None:
    """Record the story of a stored article and why it joined it (score 0..1)."""
    session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id)
        .values(story_id=story_id, story_reason=reason, story_score=round(score * 100))
    )


def story_exists(session: Session, story_id: int) -> bool:
    """Whether the story's first article is stored (retention may have pruned it, or the
    clusterer remembers an article of a database since restored)."""
    # the id only: session.get loaded the whole row, text and all, once per placed article
    return session.scalar(select(ArticleRow.id).where(ArticleRow.id == story_id)) is not None


def window_articles(
    session: Session, now: datetime, window: timedelta, batch: int = 2000, *, after: int = 0
) -> Iterator[WindowArticle]:
    """The articles first seen in the ``window`` before ``now`` (with ``after``: only
    those of a higher id), oldest first (read in batches: a 72 h window of a large
    install holds tens of thousands)."""
    since = now - window
    last = max(0, after)
    while True:
        rows = session.execute(
            select(ArticleRow, FeedRow.url)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .where(ArticleRow.first_seen_at >= since, ArticleRow.id > last)
            .order_by(ArticleRow.id)
            .limit(batch)
        ).all()
        for row, url in rows:
            yield WindowArticle(
                id=row.id,
                outlet=url,
                language=row.language,
                title=row.title,
                text=row.text,
                canonical_link=row.canonical_link,
                published=story_time(row.published_at, row.first_seen_at, window),
                story_id=row.story_id or row.id,
            )
        if len(rows) < batch:
            return
        last = rows[-1][0].id


def matched_in_story(session: Session, story_id: int, rule: str, article_id: int) -> bool:
    """Whether ``rule`` already matched another article of the story (it alerted then, or
    it is held for min_sources: either way this article must not alert again)."""
    # The story's articles first (by its index: a few rows), then each one's match of
    # the rule (the unique index): joined the other way round, SQLite walked every match
    # of the rule ever stored (bench/cycle.py's query plans).
    members = select(ArticleRow.id).where(
        ArticleRow.story_id == story_id, ArticleRow.id != article_id
    )
    found = session.scalar(
        select(MatchRow.id).where(MatchRow.rule == rule, MatchRow.article_id.in_(members)).limit(1)
    )
    return found is not None


def wake_held(session: Session, story_id: int, now: datetime) -> None:
    """A story gained an outlet: its pending alerts (held for ``min_sources``, say) are
    looked at by the next delivery instead of a minute later. Those held for quiet hours
    or a digest slot are held again by the planner."""
    articles = select(ArticleRow.id).where(ArticleRow.story_id == story_id)
    session.execute(
        update(AlertRow)
        .where(
            AlertRow.status == "pending",
            AlertRow.article_id.in_(articles),
            AlertRow.next_attempt_at > now,
            AlertRow.attempts == 0,  # a retry after a failure keeps its back-off
        )
        .values(next_attempt_at=now)
    )


def first_alert(session: Session, story_id: int, rule: str, channel: str) -> int | None:
    """The alert of ``rule`` on ``channel`` that announced the story (its first one)."""
    return session.scalar(
        select(AlertRow.id)
        .join(ArticleRow, ArticleRow.id == AlertRow.article_id)
        .where(
            ArticleRow.story_id == story_id,
            AlertRow.rule == rule,
            AlertRow.channel == channel,
            AlertRow.kind != "story",
        )
        .order_by(AlertRow.id)
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class StoryCoverage:
    """Who carries a story: its outlets (display name and the languages of their articles
    in it, first-seen order) and the feeds counted for min_sources."""

    outlets: tuple[tuple[str, tuple[str, ...]], ...]
    feeds: int

    def besides(self, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The other outlets than ``source`` and their languages."""
        others = [(name, langs) for name, langs in self.outlets if name != source]
        languages = dict.fromkeys(lang for _name, langs in others for lang in langs)
        return tuple(name for name, _ in others), tuple(languages)


def coverage(session: Session, story_ids: Iterable[int]) -> dict[int, StoryCoverage]:
    """Each story's outlets and languages: the feeds of its articles and their sightings."""
    ids = list(set(story_ids))
    out: dict[int, StoryCoverage] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        feeds: dict[int, dict[int, str]] = {}
        langs: dict[int, dict[int, dict[str, None]]] = {}  # story -> feed -> languages
        own = session.execute(
            select(ArticleRow.story_id, FeedRow.id, FeedRow.name, FeedRow.title, FeedRow.url,
                   ArticleRow.language)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .where(ArticleRow.story_id.in_(chunk))
            .order_by(ArticleRow.id)
        )  # fmt: skip
        seen = session.execute(
            select(ArticleRow.story_id, FeedRow.id, FeedRow.name, FeedRow.title, FeedRow.url,
                   ArticleRow.language)
            .join(SightingRow, SightingRow.article_id == ArticleRow.id)
            .join(FeedRow, FeedRow.id == SightingRow.feed_id)
            .where(ArticleRow.story_id.in_(chunk))
            .order_by(SightingRow.id)
        )  # fmt: skip
        for story, feed_id, name, title, url, language in [*own, *seen]:
            if story is None:  # not in a story (cannot happen after migration 0002)
                continue
            feeds.setdefault(story, {}).setdefault(feed_id, source_name(name, title, url))
            by_feed = langs.setdefault(story, {}).setdefault(feed_id, {})
            if language:  # a sighting is the same article: its language
                by_feed[language] = None
        for story, names in feeds.items():
            outlets: dict[str, dict[str, None]] = {}
            for feed_id, shown in names.items():
                outlets.setdefault(shown, {}).update(langs[story][feed_id])
            out[story] = StoryCoverage(
                tuple((shown, tuple(ls)) for shown, ls in outlets.items()), len(names)
            )
    return out
