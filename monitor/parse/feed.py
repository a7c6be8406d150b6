"""Parse feed bytes into a :class:`ParsedFeed`: feedparser gets bytes and headers, never a URL.

:func:`parse_feed` is pure (no I/O): RSS 0.9x/1.0/2.0, Atom and RDF through feedparser
(which decodes legacy charsets such as an undeclared windows-1251 with chardet), and
JSON Feed 1.x (:mod:`monitor.parse.jsonfeed`). Before feedparser sees a document,
:func:`~monitor.parse.xmlguard.defuse_entities` neutralises external entities (XXE) and refuses
DTDs whose entities could amplify, and character references to code points no text may
hold (``&#xD800;``, ``&#0;``, past U+10FFFF: feedparser crashes on them) become U+FFFD.
A feedparser ``bozo`` flag is a warning (``ParsedFeed.warning``); zero entries plus a bozo
error is a ``parse_error``; an HTML page is ``not_a_feed``, naming the feed URLs the page
links to. The feed title and the warning are scrubbed here (:func:`monitor.text.scrub`:
they are stored as they are); entries are scrubbed when normalised. An entry link holding a
control, whitespace or bidi character is passed on unresolved, for normalising to drop.

:class:`~monitor.parse.pool.ParsePool` runs :func:`parse_feed` in worker processes with a
time and memory bound.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from monitor.errors import FetchError
from monitor.parse.discover import discover_feeds
from monitor.parse.jsonfeed import looks_like_json, parse_json_feed
from monitor.parse.limits import MAX_ENTRIES, too_many_entries
from monitor.parse.xmlguard import defuse_entities
from monitor.records import Entry, ParsedFeed
from monitor.secrets import mask_url
from monitor.text import repair_mojibake, scrub, scrub_line, url_problem

_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF|RDF|channel)[\s>]")
_HTML_SNIFF = re.compile(rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def parse_feed(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    """Parse ``body`` (served with ``content_type`` from ``url``) into a :class:`ParsedFeed`.

    Raises ``FetchError("not_a_feed")`` for an empty body, an HTML page or other non-feed,
    ``FetchError("parse_error")`` for a broken feed with no entries or a dangerous DTD.
    ``url`` only resolves relative links and names the feed in messages. No I/O.
    """
    if not body.strip():
        raise FetchError(
            "not_a_feed", f"{mask_url(url)} returned an empty body: check the feed URL"
        )
    if looks_like_json(body, content_type):
        return parse_json_feed(body, url)
    safe = _defuse_charrefs(defuse_entities(body))
    # No Content-Location: feedparser would "resolve" plain guids against it ("g1" ->
    # "http://site/g1"); relative entry links are resolved here instead.
    headers = {"content-type": content_type or "application/xml"}
    try:
        result = feedparser.parse(io.BytesIO(safe), response_headers=headers)
    except (ValueError, RecursionError) as exc:  # feedparser's loose parser on hostile input
        raise FetchError(
            "parse_error", f"the parser failed on {mask_url(url)}: {type(exc).__name__}"
        ) from exc
    return _to_parsed_feed(result, body, url)


def _defuse_charrefs(body: bytes) -> bytes:
    """``body`` with every character reference to NUL, a surrogate or past U+10FFFF
    replaced by ``&#xFFFD;`` (feedparser's fallback parser raises on them). No I/O."""
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_charref_replacement, body)


def _charref_replacement(m: re.Match[bytes]) -> bytes:
    hexa, digits = m.group(1), m.group(2)
    text = (hexa or digits).lstrip(b"0") or b"0"
    if len(text) > 7:  # past U+10FFFF in any base (and no 10,000-digit int() either)
        return b"&#xFFFD;"
    code = int(text, 16 if hexa else 10)
    return b"&#xFFFD;" if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else m[0]


def _to_parsed_feed(result: feedparser.FeedParserDict, body: bytes, url: str) -> ParsedFeed:
    where = mask_url(url)
    warning = _bozo_message(result)
    looks_empty = not result.get("version") and not result.entries
    if looks_empty and _HTML_SNIFF.search(body[:4096]):
        raise FetchError("not_a_feed", _html_page_message(body, url))
    if looks_empty and not result.feed:
        if warning and _FEED_ROOT.search(body[:65536]):
            raise FetchError("parse_error", f"{where} is not a readable feed: {warning}")
        raise FetchError("not_a_feed", f"{where} is not an RSS, Atom or JSON feed")
    base = url if url.startswith(("http://", "https://")) else None
    entries = tuple(_entry(e, base) for e in result.entries[:MAX_ENTRIES])
    if len(result.entries) > MAX_ENTRIES:
        warning = too_many_entries(len(result.entries)) + (f"; {warning}" if warning else "")
    if not entries and warning:
        raise FetchError("parse_error", f"{where} has no readable entries: {warning}")
    title = scrub(repair_mojibake(result.feed.get("title") or "")).strip() or None
    return ParsedFeed(title=title, entries=entries, ttl_s=_ttl_s(result.feed), warning=warning)


def _html_page_message(body: bytes, url: str) -> str:
    feeds = discover_feeds(body, url)
    if feeds:
        listed = ", ".join(mask_url(f) for f in feeds[:5])
        return f"{mask_url(url)} is an HTML page, not a feed; it links to the feed {listed}: use that URL"
    return f"{mask_url(url)} is an HTML page, not a feed, and links to no feed: find the site's RSS/Atom URL"


def _bozo_message(result: feedparser.FeedParserDict) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "ill-formed feed"
    return scrub_line(text)[:300]


def _ttl_s(feed: feedparser.FeedParserDict) -> float | None:
    try:
        minutes = float(str(feed.get("ttl", "")).strip())
    except ValueError:
        return None
    return minutes * 60.0 if 0 < minutes < 10**6 else None


def _entry(e: feedparser.FeedParserDict, base: str | None) -> Entry:
    link = (e.get("link") or "").strip() or None
    if base and link and url_problem(link, relative=True) is None:
        link = urljoin(base, link)  # urljoin would drop a newline or control: checked first
    return Entry(
        guid=(e.get("id") or "").strip() or None,
        link=link,
        title=e.get("title") or "",
        summary_html=_longest_text(e),
        published=_struct_to_utc(_first_date(e)),
    )


def _first_date(e: feedparser.FeedParserDict) -> time.struct_time | None:
    # dict.get: FeedParserDict.get maps a missing updated_parsed to published_parsed, warning.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value: time.struct_time | None = dict.get(e, key)  # feedparser's *_parsed dates
        if value:
            return value
    return None


def _longest_text(e: feedparser.FeedParserDict) -> str:
    """The fullest body feedparser found: ``content:encoded``/Atom content or the summary."""
    candidates = [c.get("value") or "" for c in e.get("content") or ()]
    candidates.append(e.get("summary") or "")
    return max(candidates, key=len)


def _struct_to_utc(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
