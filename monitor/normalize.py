"""Turn parsed entries into :class:`Article` records: plain text, UTC dates, stable ids. No I/O.

The guid is the entry id, else its link, else a hash of title and summary; a guid seen
twice in one fetch yields one article (the first). Text is plain: tags stripped, entities
decoded, whitespace collapsed, paragraph breaks kept as single newlines. Text that was
UTF-8 misread as Windows-1252 or Latin-1 ("Ð¯Ð½Ð´ÐµÐºÑ") is repaired when the repair is
unambiguous.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from html.parser import HTMLParser

from monitor.records import Article, Entry, FeedConfig, ParsedFeed
from monitor.urls import canonical_url

# Tags that end a paragraph or a line: they become a newline in the plain text.
_BLOCK_TAGS = frozenset(
    [
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "hr",
    ]
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})
_SPACES = re.compile(r"[^\S\n]+")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # PostgreSQL refuses NUL in text
MAX_KEY_CHARS = 2048  # guid and link columns are String(2048)
_NEWLINES = re.compile(r"\s*\n\s*")
# A UTF-8 lead byte followed by a continuation byte (0x80-0xBF), as they read when UTF-8
# is decoded as Windows-1252 ("Ð¯" for "Я", "Ã©" for "é") or as Windows-1251 ("Р°" for "а").
_CP1252_CONTINUATION = (
    "\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122"
)
_CP1251_CONTINUATION = bytes(range(0x80, 0xC0)).decode("cp1251", "ignore")
_MOJIBAKE_1252 = re.compile(f"[ÐÑÃÂ][{_CP1252_CONTINUATION}]")
_MOJIBAKE_1251 = re.compile(f"[РС][{re.escape(_CP1251_CONTINUATION)}]")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, whitespace
    collapsed, block elements and ``<br>`` kept as single newlines. No I/O."""
    if "<" not in html and "&" not in html:
        return _collapse(html)
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _collapse("".join(extractor.parts))


def _collapse(text: str) -> str:
    text = _CONTROLS.sub("", text.replace("\r", "\n").replace("\xa0", " "))
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Windows-1252/Latin-1 (``Ð¯Ð½`` -> ``Ян``) or
    as Windows-1251 (``Р’С–С‚`` -> ``Віт``), when the whole text then decodes as strict
    UTF-8; otherwise return ``text`` unchanged. No I/O."""
    if len(_MOJIBAKE_1252.findall(text)) >= 2:
        return _redecode(text, "cp1252") or text
    if len(_MOJIBAKE_1251.findall(text)) >= 2:
        return _redecode(text, "cp1251") or text
    return text


def _redecode(text: str, codec: str) -> str | None:
    raw = bytearray()
    for char in text:
        try:
            raw += char.encode(codec)
        except UnicodeEncodeError:
            if ord(char) > 0xFF or codec != "cp1252":
                return None
            raw.append(ord(char))  # the five bytes cp1252 leaves undefined pass through
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


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
