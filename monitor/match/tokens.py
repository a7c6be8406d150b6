"""Text normalisation and the word tokenizer shared by rules and articles. No I/O.

Tokens are found on the original text (so offsets point into what the user sees) and
each token is normalised on its own: NFKC, casefold, apostrophe variants folded to
``'``, every default-ignorable code point removed (soft hyphen, zero-width and bidi
controls, variation selectors, tag characters: Unicode's Default_Ignorable_Code_Point,
so ``Wit\u2063koff`` is ``witkoff``), ``ё`` folded to ``е``, and a mixed-script token
(``Вiткофф`` with a Latin ``i``) repaired to its majority script.
A right single quote or modifier apostrophe inside a word never splits it
(``м’ясо`` is one token); hyphens and dashes do (``Trump-style`` -> ``trump``, ``style``).
An ignorable character never starts a token nor is one on its own, so it shifts no
word position. :data:`SENTENCE_BREAK_RE` finds what a phrase may not run across
(``. ! ? ; …``, line breaks).
"""

from __future__ import annotations

import re
import unicodedata

import regex


def _ignorable_ranges() -> list[tuple[int, int]]:
    """``(first, last)`` code point ranges of Default_Ignorable_Code_Point.

    Python's unicodedata has no such property; the ``regex`` module has it. Every code
    point is laid out once as UTF-32 (C-speed slice writes, ~20 ms) and searched.
    """
    low = bytes(range(256)) * 256
    high = bytes(b for b in range(256) for _ in range(256))
    buf = bytearray(4 * 0x110000)
    for plane in range(17):
        seg = memoryview(buf)[plane * 0x40000 : (plane + 1) * 0x40000]
        seg[0::4], seg[1::4], seg[2::4] = low, high, bytes([plane]) * 0x10000
    every = buf.decode("utf-32-le", "surrogatepass")
    found = regex.finditer(r"\p{Default_Ignorable_Code_Point}+", every)
    return [(m.start(), m.end() - 1) for m in found]


IGNORABLE_RANGES = tuple(_ignorable_ranges())
_IGNORABLE = "".join(
    f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in IGNORABLE_RANGES
)  # a regex character class body
_IGNORABLE_RE = re.compile(f"[{_IGNORABLE}]")
_DROP: dict[int, str | None] = {c: None for a, b in IGNORABLE_RANGES for c in range(a, b + 1)}
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4\u2032\u02b9\u02bb"
_LETTERS = r"\w\u0300-\u036f"
# A token starts with a letter or digit; ignorable characters may follow inside it
# (``Віт\u200dкофф``), and so may an apostrophe that a letter follows.
TOKEN_RE = re.compile(
    rf"[{_LETTERS}][{_LETTERS}{_IGNORABLE}]*"
    rf"(?:[{_APOSTROPHES}][{_IGNORABLE}]*[{_LETTERS}][{_LETTERS}{_IGNORABLE}]*)*"
)
# What may sit inside a token (a class body): a text cut anywhere else splits no word.
WORD_CHARS = f"{_LETTERS}{_IGNORABLE}{_APOSTROPHES}"

_FOLD: dict[int, str | None] = {
    **_DROP,
    **{ord(c): "'" for c in _APOSTROPHES},
    **{ord(c): '"' for c in "\u00ab\u00bb\u201c\u201d\u201e\u201f\u2033"},
    **{ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"},
    ord("ё"): "е",
}

# Letters that look alike in Latin and Cyrillic (after casefolding).
_LATIN_TO_CYR = dict(zip("aceiopxykmthbjs", "асеіорхукмтнвјѕ", strict=True))
_CYR_TO_LATIN = {c: latin for latin, c in _LATIN_TO_CYR.items()}


# What ends a sentence (or a line) between two words: a phrase does not run across it.
SENTENCE_BREAK_RE = re.compile(r"[.!?;\u2026\u3002\uff01\uff1f\uff1b\n\r\v\f\x85\u2028\u2029]")
# The same without line breaks: a line that goes on in lower case was wrapped mid-sentence.
PUNCT_BREAK_RE = re.compile(r"[.!?;\u2026\u3002\uff01\uff1f\uff1b]")

_LATIN_RE = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_CYR_RE = re.compile(r"[\u0400-\u052f]")


def is_cyrillic(ch: str) -> bool:
    """True for a Cyrillic letter (U+0400..U+052F)."""
    return "\u0400" <= ch <= "\u052f"


def is_latin(ch: str) -> bool:
    """True for an ASCII Latin letter or a Latin letter with diacritics."""
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


def fold_text(text: str) -> str:
    """Ignorables removed + NFKC + casefold + apostrophe/quote/dash folding.

    Ignorables go first so that one between a letter and its combining accent does not
    keep NFKC from composing them, and again after (NFKC maps U+3164 to U+1160).
    """
    if text.isascii():
        return text.lower().translate(_FOLD)
    if _IGNORABLE_RE.search(text):  # rare: only then the extra pass
        text = text.translate(_DROP)
    return unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)


def repair_homoglyphs(token: str) -> str:
    """Rewrite the minority-script look-alike letters of a mixed-script token.

    ``вiткофф`` (Latin i) -> ``віткофф``; ``witкoff`` -> ``witkoff``. A token whose
    minority letters are not all look-alikes is left as it is.
    """
    if token.isascii() or not _LATIN_RE.search(token) or not _CYR_RE.search(token):
        return token
    cyr = sum(1 for c in token if is_cyrillic(c))
    lat = sum(1 for c in token if is_latin(c))
    table = _LATIN_TO_CYR if cyr >= lat else _CYR_TO_LATIN
    minority = is_latin if cyr >= lat else is_cyrillic
    if any(minority(c) and c not in table for c in token):
        return token
    return "".join(table.get(c, c) if minority(c) else c for c in token)


def normalize_token(raw: str) -> str:
    """The normalised form of one token as found by :data:`TOKEN_RE`."""
    return repair_homoglyphs(fold_text(raw))


def tokenize(text: str) -> list[str]:
    """Normalised tokens of ``text`` (empty ones dropped), for rule terms."""
    out = []
    for raw in TOKEN_RE.findall(text):
        norm = normalize_token(raw)
        if norm.strip("'"):
            out.append(norm)
    return out
