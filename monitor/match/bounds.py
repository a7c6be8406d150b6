"""What the matcher looks at of one article: a bounded prefix. No I/O.

Matching costs time in proportion to an article's length (and, for a hostile article,
to how densely it repeats the rules' words), so an article is matched on its first
:data:`MAX_MATCH_CHARS` characters and its title on its first :data:`MAX_TITLE_CHARS`.
The limits come from ``bench/match_adversarial.py``: the worst article it can build
costs under a second on one core against 1,000 rules with wildcards and NEAR. A real
article is far shorter (a long read is about 50,000 characters).
"""

from __future__ import annotations

import re
from dataclasses import replace

from monitor.match.tokens import WORD_CHARS
from monitor.records import Document

MAX_MATCH_CHARS = 200_000  # worst article built: ~0.55 s CPU (bench/match_adversarial.py)
MAX_TITLE_CHARS = 2_000
_NEAR_BREAK = 4_096  # look this far back for a break between words before searching it all
_WORD_CHAR_RE = re.compile(f"[{WORD_CHARS}]")
_LAST_BREAK_RE = re.compile(f"(?s:.*)[^{WORD_CHARS}]")  # greedy: up to the last non-word char


def bound_document(doc: Document) -> tuple[Document, bool]:
    """``doc`` cut to what the matcher looks at, and whether anything was cut.

    The text keeps at most :data:`MAX_MATCH_CHARS` characters, the title at most
    :data:`MAX_TITLE_CHARS`, each cut between words, so that no word is cut into a
    shorter one that some rule might match. An uncut ``doc`` is returned as it is.
    """
    title, text = _cut(doc.title, MAX_TITLE_CHARS), _cut(doc.text, MAX_MATCH_CHARS)
    if title is doc.title and text is doc.text:
        return doc, False
    return replace(doc, title=title, text=text), True


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` characters that ends between
    words; ``text`` itself when it is short enough."""
    if len(text) <= limit:
        return text
    if not _WORD_CHAR_RE.match(text, limit):  # the first character dropped ends a word
        return text[:limit]
    for start in (max(0, limit - _NEAR_BREAK), 0):
        end = _last_break(text, start, limit)
        if end is not None:
            return text[:end]
    return ""  # one "word" of more than ``limit`` characters: nothing to match


def _last_break(text: str, start: int, end: int) -> int | None:
    """The position just after the last non-word character in ``text[start:end]``."""
    m = _LAST_BREAK_RE.match(text, start, end)
    return m.end() if m else None
