"""Plain text from feed strings: HTML stripped to text, mojibake repaired, hostile
characters scrubbed, links vetted. No I/O.

Every string a feed, a page or a redirect supplies is hostile. :func:`scrub` removes what
must never reach the database, a terminal, Telegram or an email: lone surrogates (they
cannot even be encoded as UTF-8), NUL and the other C0/C1 controls (an ESC sequence
rewrites the operator's terminal), and the bidi embeddings, overrides and isolates that
make text read differently from what it is (U+202A-E, U+2066-9); tabs and newlines stay.
:func:`scrub_line` does the same for one-line strings (titles, ids). :func:`url_problem`
says what is wrong with a link (:func:`clean_http_url`: the link, or None).

:func:`html_to_text` strips tags, decodes entities, collapses whitespace, keeps paragraph
breaks as single newlines, and scrubs. :func:`repair_mojibake` undoes UTF-8 text that was
misread as Windows-1252, Latin-1 or Windows-1251 ("Ð¯Ð½Ð´ÐµÐºÑ") when the repair is
unambiguous (run it before :func:`scrub`: misread UTF-8 holds C1 characters). Used by
parsing, normalising, article extraction and fetching alike.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

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
# Lone surrogates, C0 controls but \t and \n (\r becomes \n first), DEL, C1 controls, and
# the bidi embeddings/overrides (U+202A-E) and isolates (U+2066-9). PostgreSQL refuses NUL.
_HOSTILE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What a link may not hold anywhere: the above, every whitespace character, and the
# invisible marks that disguise a host (zero-width space/joiners, LRM/RLM, BOM).
_URL_HOSTILE = re.compile(
    "[\ud800-\udfff\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2028\u2029\ufeff\\s]"
)
MAX_URL_CHARS = 8192  # longer is no link a person follows; servers refuse it anyway
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
    text = scrub(text.replace("\xa0", " "))
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def scrub(text: str) -> str:
    """``text`` without lone surrogates, NUL, C0/C1 controls (``\\t`` and ``\\n`` stay;
    ``\\r\\n`` and ``\\r`` become ``\\n``) and bidi embeddings, overrides and isolates.
    The result always encodes as UTF-8. No I/O."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _HOSTILE.sub("", text)


def scrub_line(text: str) -> str:
    """:func:`scrub` for a one-line string (a title, a name, an id): every run of
    whitespace, newlines included, becomes one space; ends stripped. No I/O."""
    return " ".join(scrub(text).split())


def printable(text: str, limit: int = 200) -> str:
    """``text`` as an error message may quote it: every non-printable character (controls,
    bidi marks, surrogates...) written as an escape such as ``\\x1b``, at most ``limit``
    characters. No I/O."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def url_problem(url: str, *, relative: bool = False) -> str | None:
    """What makes ``url`` no usable absolute http(s) link, in a few words, or None when
    it is one: it must be at most :data:`MAX_URL_CHARS` long, hold no whitespace,
    control, bidi, zero-width or surrogate character, and have an http(s) scheme, a host
    and, if any, a port from 1 to 65535. With ``relative`` only the length and the
    characters are checked (a link to resolve: check it before ``urljoin``, which
    silently drops leading controls and every tab and newline). No I/O."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    bad = _URL_HOSTILE.search(url)
    if bad:
        return f"holds the character U+{ord(bad.group()):04X}"
    if relative:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535"
        return str(exc).lower()
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "port 0"
    return None


def clean_http_url(url: str | None) -> str | None:
    """``url`` stripped when it is a usable absolute http(s) link (:func:`url_problem`),
    else None: a link with a control character, whitespace or bidi mark inside is
    dropped, never repaired. No I/O."""
    if url is None:
        return None
    url = url.strip()
    return url if url and url_problem(url) is None else None


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
