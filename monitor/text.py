"""Plain text from feed strings: HTML stripped to text, mojibake repaired. No I/O.

:func:`html_to_text` strips tags, decodes entities, collapses whitespace and keeps
paragraph breaks as single newlines. :func:`repair_mojibake` undoes UTF-8 text that was
misread as Windows-1252, Latin-1 or Windows-1251 ("Ð¯Ð½Ð´ÐµÐºÑ") when the repair is
unambiguous. Used by parsing, normalising and article extraction alike.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
