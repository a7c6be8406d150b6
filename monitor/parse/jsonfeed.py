"""Parse JSON Feed 1.0/1.1 documents (https://www.jsonfeed.org/version/1.1/) into a
:class:`~monitor.records.ParsedFeed`.

:func:`looks_like_json` decides from the first bytes and the Content-Type whether a body
is a JSON Feed candidate; :func:`parse_json_feed` parses it or raises ``FetchError``
(``parse_error`` for invalid JSON, ``not_a_feed`` for JSON without an ``items`` list).
JSON escapes can spell what no document bytes can (a lone surrogate ``"\\ud800"``, NUL):
the feed title is scrubbed here, entries when normalised (:mod:`monitor.text`). No I/O.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from monitor.errors import FetchError
from monitor.parse.limits import MAX_ENTRIES, too_many_entries
from monitor.records import Entry, ParsedFeed
from monitor.secrets import mask_url
from monitor.text import scrub


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """True when ``body`` starts like a JSON object and is served or marked as JSON Feed. No I/O."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    ctype = (content_type or "").lower()
    return start == b"{" and ("json" in ctype or b"jsonfeed.org/version" in body[:4096])


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed 1.0/1.1 document. Raises ``FetchError``. No I/O."""
    try:
        doc = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        raise FetchError("parse_error", f"{mask_url(url)} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FetchError(
            "not_a_feed", f"{mask_url(url)} is JSON but not a JSON Feed (no 'items' list)"
        )
    items = [item for item in doc["items"] if isinstance(item, dict)]
    entries = tuple(_json_entry(item) for item in items[:MAX_ENTRIES])
    warning = too_many_entries(len(items)) if len(items) > MAX_ENTRIES else None
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    return ParsedFeed(title=scrub(title or "").strip() or None, entries=entries, warning=warning)


def _json_entry(item: dict[str, Any]) -> Entry:
    def text(key: str) -> str:
        value = item.get(key)
        return value if isinstance(value, str) else ""

    link = text("url") or text("external_url")
    return Entry(
        guid=str(item["id"]) if item.get("id") not in (None, "") else None,
        link=link or None,
        title=text("title"),
        summary_html=text("content_html") or html.escape(text("content_text") or text("summary")),
        published=_iso_to_utc(text("date_published") or text("date_modified")),
    )


def _iso_to_utc(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+14:00" has no UTC time
        return None
