"""What an article is about, in a form shared across scripts: the phonetic keys of its
capitalised names (the matcher's :func:`~monitor.match.keys.name_keys`, so ``Witkoff``,
``Віткоффа`` and ``Уиткофф`` meet on ``vitkof``) and the numbers it states. No I/O.
"""

from __future__ import annotations

import functools
import re

from anyascii import anyascii

from monitor.match.keys import name_keys
from monitor.match.sound import key_skeleton
from monitor.match.tokens import SENTENCE_BREAK_RE, TOKEN_RE, fold_text, normalize_token
from monitor.stories.lexicon import concept_key, stem

MAX_ENTITY_CHARS = 6_000  # names of a story are in its head; the tail is boilerplate
MAX_TITLE_CHARS = 500  # a headline is a line; a 5 MB one is an attack
MAX_ENTITIES = 40
MAX_TITLE_WORDS = 24
_MIN_NAME = 3
_VOWELS = "aeiou"
_NUMBER_RE = re.compile(r"(?<![\d.,])\d{2,}(?:[.,]\d+)?(?![\d])")
_YEAR_RE = re.compile(r"(19|20)\d\d")


@functools.lru_cache(maxsize=32_768)
def token_keys(token: str) -> frozenset[str]:
    """Script-independent keys of one capitalised token: its name keys (whole and case
    stems), the keys without trailing vowels (``Zelensky`` -> ``zelensk``, as
    ``Зеленського`` stems) and their consonant skeletons."""
    keys = name_keys(normalize_token(token)).all
    found = {k for k in keys if len(k) >= _MIN_NAME}
    found |= {k.rstrip(_VOWELS) for k in keys if len(k.rstrip(_VOWELS)) >= _MIN_NAME + 1}
    # The consonant skeleton meets the renderings uk and ru spell apart (Москві/Moscow,
    # Володимир/Vladimir, Кремль/Kremlin: ``mSk``, ``vlTmr``, ``krml``).
    whole = name_keys(normalize_token(token), inflected=False).whole
    skeletons = {key_skeleton(k) for k in {whole, *keys}}
    return frozenset(found | {f"~{s}" for s in skeletons if len(s) >= _MIN_NAME})


def entities(title: str, text: str) -> list[frozenset[str]]:
    """The names of an article, each as its set of keys, first-mentioned first.

    A capitalised word counts as a name inside a sentence; at a sentence's start (and
    anywhere in a Title-Cased English headline) only when the article also writes it
    capitalised inside a sentence, unless the article has no such words at all.
    """
    return [keys for keys, _ in located_entities(title, text)]


def located_entities(title: str, text: str) -> list[tuple[frozenset[str], int]]:
    """:func:`entities` with where each is first mentioned: -1 in the headline, else its
    offset in ``text``."""
    inner: list[tuple[str, int]] = []
    initial: list[tuple[str, int]] = []
    title = title[:MAX_TITLE_CHARS]
    _capitalised(title, inner, initial, title_case=_is_title_case(title), base=None)
    _capitalised(text[:MAX_ENTITY_CHARS], inner, initial, title_case=False, base=0)
    inner_keys: set[str] = set()
    found: dict[str, tuple[frozenset[str], int]] = {}
    for token, at in inner:
        keys = token_keys(token)
        inner_keys |= keys
        _first(found, keys, at)
    for token, at in initial:
        keys = token_keys(token)
        if not inner or keys & inner_keys:
            _first(found, keys, at)
    found.pop("", None)
    return list(found.values())[:MAX_ENTITIES]


def _first(found: dict[str, tuple[frozenset[str], int]], keys: frozenset[str], at: int) -> None:
    name = min(keys, key=len, default="")
    known = found.get(name)
    if known is None:
        found[name] = (keys, at)
    elif at < known[1]:
        found[name] = (known[0], at)


def _capitalised(
    text: str,
    inner: list[tuple[str, int]],
    initial: list[tuple[str, int]],
    *,
    title_case: bool,
    base: int | None,
) -> None:
    """Append the capitalised words of ``text`` (with their offsets, or -1 for a
    headline's: ``base`` None) to ``inner`` or ``initial``."""
    last = 0
    for m in TOKEN_RE.finditer(text):
        word = m.group()
        previous, last = last, m.end()
        if len(word) < _MIN_NAME or not word[0].isupper():
            continue  # (most words: the sentence-break search below only for names)
        start = m.start()
        starts = (
            title_case or previous == 0 or bool(SENTENCE_BREAK_RE.search(text, previous, start))
        )
        (initial if starts else inner).append((word, -1 if base is None else start))


def _is_title_case(title: str) -> bool:
    """True for an English Title Case headline (most of its longer words capitalised,
    not only the names of a sentence-case one)."""
    words = [w for w in TOKEN_RE.findall(title) if len(w) >= 4]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def numbers(title: str, text: str) -> frozenset[str]:
    """The numbers of two digits or more an article states, years left out (every
    article of a year states it)."""
    head = f"{title[:MAX_TITLE_CHARS]}\n{text[:MAX_ENTITY_CHARS]}"
    return frozenset(
        n.replace(",", ".") for n in _NUMBER_RE.findall(head) if not _YEAR_RE.fullmatch(n)
    )


def title_keys(title: str) -> list[frozenset[str]]:
    """The keys of a headline's words of 4+ letters, one set per word, for comparing
    headlines across languages: a lexicon word's concept (``envoy`` = ``спецпредставник``)
    or else its cross-script name keys (``Witkoff`` = ``Віткофф``, ``palace`` = ``палац``)."""
    out = []
    for word in TOKEN_RE.findall(fold_text(title[:MAX_TITLE_CHARS])):
        if len(word) < _MIN_WORD:
            continue
        key = _stem(word)
        out.append(frozenset({key}) if key.startswith("@") else token_keys(word))
    return out[:MAX_TITLE_WORDS]


def folded_title(title: str) -> str:
    """A headline transliterated and lower-cased, for comparing headlines across scripts."""
    return anyascii(" ".join(TOKEN_RE.findall(title[:MAX_TITLE_CHARS]))).lower()


_MIN_WORD = 4


@functools.lru_cache(maxsize=32_768)
def _stem(word: str) -> str:
    return concept_key(stem(word))


def word_stems(title: str, text: str) -> frozenset[str]:
    """The transliterated 6-letter stems of an article's words of 4+ letters: what it is
    about beyond names (``переговори`` and ``переговоры`` meet on ``perego``); a word of
    the news lexicon is its concept's key instead (``talks`` = ``переговоры`` =
    ``@talks``, :mod:`monitor.stories.lexicon`)."""
    head = fold_text(f"{title[:MAX_TITLE_CHARS]}\n{text[:MAX_ENTITY_CHARS]}")
    return frozenset(_stem(w) for w in TOKEN_RE.findall(head) if len(w) >= _MIN_WORD)
