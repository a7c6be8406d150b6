"""Edited entries: an entry whose guid the feed's articles hold, whose words changed
(:mod:`monitor.normalize.change` gives the hash), is updated in place, its former
headlines kept, and matched again by the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.records import Article, StoredArticle
from monitor.store.articles import stored_article
from monitor.store.feeds import FeedState
from monitor.store.schema import ArticleRow

MAX_TITLES = 20  # former headlines kept per article


def edited_articles(
    session: Session, feed_id: int, articles: Iterable[Article]
) -> list[tuple[int, Article]]:
    """The feed's stored articles that ``articles`` now say something else about: (row
    id, the article as the feed has it now). A row stored before hashes were kept gets
    its hash now, as a baseline (no edit: nothing is known of what it said)."""
    by_guid = {a.guid: a for a in articles if a.entry_hash}
    guids = list(by_guid)
    edited: list[tuple[int, Article]] = []
    for start in range(0, len(guids), 500):
        rows = session.execute(
            select(ArticleRow.id, ArticleRow.guid, ArticleRow.entry_hash).where(
                ArticleRow.feed_id == feed_id, ArticleRow.guid.in_(guids[start : start + 500])
            )
        ).all()
        for row_id, guid, stored in rows:
            article = by_guid[guid]
            if stored is None:
                session.get_one(ArticleRow, row_id).entry_hash = article.entry_hash
            elif stored != article.entry_hash:
                edited.append((row_id, article))
    return edited


def session_title(session: Session, row_id: int) -> str:
    """The stored headline of an article."""
    return session.get_one(ArticleRow, row_id).title


def apply_edit(
    session: Session,
    feed: FeedState,
    row_id: int,
    article: Article,
    now: datetime,
    *,
    new_title: bool,
    keep_text: bool,
) -> StoredArticle:
    """Update a stored article to what its feed says now and return it, marked edited.
    A ``new_title`` pushes the old headline onto ``title_history`` (the last
    :data:`MAX_TITLES`); ``keep_text`` (a full_text feed: the stored text holds the
    page) changes the title only."""
    row = session.get_one(ArticleRow, row_id)
    if new_title:
        history = [*(row.title_history or []), {"title": row.title, "until": now.isoformat()}]
        row.title_history = history[-MAX_TITLES:]
    row.title = article.title
    if not keep_text:
        row.text = article.text
    row.entry_hash = article.entry_hash
    row.updated_at = now
    return stored_article(row, feed, edited=True, title_changed=new_title)
