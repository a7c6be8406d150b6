"""Whether an entry we already stored says something else now. No I/O.

Feeds re-send their entries on every fetch, and some rewrite them each time: a
"published 5 min ago" counter, a view count, a timestamp in the text. An edit is a
change of the words of the title or text (NFKC, case-folded, punctuation and every
token holding a digit left out), so those rewrites are no edits and cause no storm,
while a new headline or a sentence added is one.
"""

from __future__ import annotations

import hashlib
import unicodedata

import regex

_TOKEN = regex.compile(r"\w+")
MAX_CHARS = 200_000  # a hostile entry: its words are hashed from this prefix


def meaning_words(text: str) -> list[str]:
    """The words of ``text`` that carry its meaning, in order (see the module doc)."""
    folded = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    return [w for w in _TOKEN.findall(folded) if not any(c.isdigit() for c in w)]


def entry_hash(title: str, text: str) -> str:
    """The hash an entry is compared by: equal for entries that say the same."""
    digest = hashlib.sha256()
    digest.update(" ".join(meaning_words(title)).encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(" ".join(meaning_words(text)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def title_changed(old: str, new: str) -> bool:
    """Whether a headline says something else now (not only punctuation, case, digits)."""
    return meaning_words(old) != meaning_words(new)
