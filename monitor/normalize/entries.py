"""Turn parsed entries into :class:`Article` records: plain text, UTC dates, stable ids. No I/O.

The guid is the entry id, else its link, else a hash of title and summary; a guid seen
twice in one fetch yields one article (the first). Text is plain (:mod:`monitor.text`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from monitor.normalize.urls import canonical_url
from monitor.records import Article, Entry, FeedConfig, ParsedFeed
from monitor.text import html_to_text, repair_mojibake

MAX_KEY_CHARS = 2048  # guid and link columns are String(2048)


def entry_guid(entry: Entry) -> str:
    """The entry's id, else its link, else a hash of title and summary; an id longer
    than :data:`MAX_KEY_CHARS` is replaced by its hash. No I/O."""
    key = entry.guid or entry.link
    if key is None:
        key = f"{entry.title}\n{entry.summary_html}"
    elif len(key) <= MAX_KEY_CHARS:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def normalize_entry(entry: Entry, feed: FeedConfig, now: datetime) -> Article:
    """One :class:`Article` from one parsed entry. No I/O."""
    return Article(
        feed_url=feed.url,
        guid=entry_guid(entry),
        link=_bounded(entry.link),
        canonical_link=_bounded(canonical_url(entry.link)),
        title=html_to_text(repair_mojibake(entry.title)).replace("\n", " "),
        text=html_to_text(repair_mojibake(entry.summary_html)),
        published=entry.published,
        first_seen=now,
        language=feed.language,
    )


def _bounded(url: str | None) -> str | None:
    """An http(s) link that fits its column, else None: a truncated URL would point
    elsewhere, and ``javascript:``/``data:`` links must never reach an alert."""
    if url is None or len(url) > MAX_KEY_CHARS:
        return None
    return url if url.lower().startswith(("http://", "https://")) else None


def normalize_entries(parsed: ParsedFeed, feed: FeedConfig, now: datetime) -> list[Article]:
    """Articles for every entry of ``parsed``, one per guid, in feed order. No I/O."""
    articles: dict[str, Article] = {}
    for entry in parsed.entries:
        article = normalize_entry(entry, feed, now)
        articles.setdefault(article.guid, article)
    return list(articles.values())
