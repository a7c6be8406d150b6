"""Turn parsed entries into :class:`Article` records: plain text, UTC dates, stable ids. No I/O.

Every string of an entry is hostile: title and text become plain, scrubbed text
(:func:`monitor.text.html_to_text` drops surrogates, controls and bidi overrides), the
guid is scrubbed, and a link is kept only when it is a clean absolute http(s) URL that
fits its column (:func:`monitor.text.clean_http_url`): a link with a newline, NUL, bidi
mark or space inside is dropped, and the guid stands in when it is such a URL.

The guid is the entry id, else its link, else a hash of title and summary; a guid seen
twice in one fetch yields one article (the first).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from monitor.normalize.change import entry_hash
from monitor.normalize.urls import canonical_url
from monitor.records import Article, Entry, FeedConfig, ParsedFeed
from monitor.text import clean_http_url, html_to_text, repair_mojibake, scrub

MAX_KEY_CHARS = 2048  # guid and link columns are String(2048)
MAX_TITLE_CHARS = 2_000  # a title is a line; a 5 MB one is an attack (the matcher reads 2,000)


def entry_guid(entry: Entry) -> str:
    """The entry's id, else its link, else a hash of title and summary, each scrubbed;
    an id longer than :data:`MAX_KEY_CHARS` is replaced by its hash. No I/O."""
    key = _scrubbed(entry.guid) or _scrubbed(entry.link)
    if key is None:
        key = scrub(f"{entry.title}\n{entry.summary_html}")
    elif len(key) <= MAX_KEY_CHARS:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _scrubbed(value: str | None) -> str | None:
    return scrub(value).strip() or None if value else None


def entry_link(entry: Entry) -> str | None:
    """The entry's link when it is a clean http(s) URL that fits its column; for a link
    that is not, the guid when that is one (RSS permalinks); else None. No I/O."""
    link = _bounded(clean_http_url(entry.link))
    if link is None and entry.link:
        return _bounded(clean_http_url(entry.guid))
    return link


def normalize_entry(entry: Entry, feed: FeedConfig, now: datetime) -> Article:
    """One :class:`Article` from one parsed entry. No I/O."""
    link = entry_link(entry)
    title = html_to_text(repair_mojibake(entry.title)).replace("\n", " ")[:MAX_TITLE_CHARS]
    text = html_to_text(repair_mojibake(entry.summary_html))
    return Article(
        feed_url=feed.url,
        guid=entry_guid(entry),
        link=link,
        canonical_link=_bounded(canonical_url(link)),
        title=title,
        text=text,
        published=plausible_date(entry.published, now),
        first_seen=now,
        language=feed.language,
        entry_hash=entry_hash(title, text),
    )


EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=7)  # clocks and time zones that are off; beyond is nonsense


def plausible_date(published: datetime | None, now: datetime) -> datetime | None:
    """A feed's publication date, or None (unknown) when it cannot be true: before 1900
    or more than a week ahead of ``now`` (year 9999 cannot even be shown in a time zone
    east of UTC). No I/O."""
    if published is None or not EARLIEST_DATE <= published <= now + FUTURE_SLACK:
        return None
    return published


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
