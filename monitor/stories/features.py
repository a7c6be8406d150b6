"""What the clusterer compares of two articles, computed once per article. No I/O."""

from __future__ import annotations

import zlib
from array import array
from dataclasses import dataclass

from rapidfuzz import fuzz

from monitor.stories.doc import StoryDoc
from monitor.stories.entities import (
    MAX_TITLE_CHARS,
    folded_title,
    located_entities,
    numbers,
    title_keys,
    word_stems,
)
from monitor.stories.fingerprint import MAX_FINGERPRINT_CHARS, signature
from monitor.stories.roundup import is_explainer, is_roundup


@dataclass(frozen=True, slots=True)
class Features:
    """An article's fingerprint and story signals (hashes: only equality matters)."""

    sig: array[int] | None  # MinHash of its text; None for too little text
    names: tuple[frozenset[int], ...]  # each name as the hashes of its cross-script keys
    name_of: dict[int, int]  # key hash -> index in ``names``
    words: frozenset[int]  # word stems of the headline and the lead
    lead_names: tuple[frozenset[int], ...]  # the names of the headline and the lead
    concepts: frozenset[int]  # those of ``words`` that are lexicon concepts (any language)
    roundup: bool  # a round-up of several events (:mod:`monitor.stories.roundup`)
    explainer: bool  # a question, guide, analysis or opinion: about a topic, not an event
    nums: frozenset[int]  # numbers stated
    title: str  # folded, transliterated headline
    heads: tuple[frozenset[int], ...]  # each headline word as its cross-language keys


def key_hash(key: str) -> int:
    """A key's 32-bit hash: the window keeps ~100 keys per article for 50,000 articles.
    Two keys of one hash count as one: among a million distinct keys about a hundred
    pairs collide, each a rare word counted as another. CRC-32, not ``hash``: Python's
    hash of a string changes with each process, and with it which keys collide, so the
    evaluation's figures did too (held-out recall 0.88 in one run, 0.93 in the next)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass"))


def features(doc: StoryDoc) -> Features:
    """The features of ``doc`` (every string bounded: a 10 MB text costs its head)."""
    located = located_entities(doc.title, doc.text)
    names = tuple(frozenset(map(key_hash, keys)) for keys, _ in located)
    start, end = lead_span(doc.title, doc.text)
    first = doc.text[start:end]
    stems = word_stems(doc.title, first)
    name_of: dict[int, int] = {}
    for i, keys in enumerate(names):
        for key in keys:
            name_of.setdefault(key, i)
    return Features(
        sig=signature(f"{doc.title[:MAX_TITLE_CHARS]}\n{doc.text[:MAX_FINGERPRINT_CHARS]}"),
        names=names,
        name_of=name_of,
        words=frozenset(map(key_hash, stems)),
        concepts=frozenset(key_hash(w) for w in stems if w.startswith("@")),
        roundup=is_roundup(doc.title),
        explainer=is_explainer(doc.title),
        lead_names=tuple(n for n, (_, at) in zip(names, located, strict=True) if at < end),
        nums=frozenset(map(key_hash, numbers(doc.title, doc.text))),
        title=folded_title(doc.title),
        heads=tuple(frozenset(map(key_hash, keys)) for keys in title_keys(doc.title)),
    )


LEAD_CHARS = 200  # what an article's first sentence or two says is its event


def lead(title: str, text: str) -> str:
    """The opening of ``text`` (after the headline, when the text repeats it), cut
    between words: where a news report says what happened, and what a feed's summary
    keeps. Comparing leads compares events; comparing whole texts compares topics (a
    long article names everyone a short one does)."""
    start, end = lead_span(title, text)
    return text[start:end]


def lead_span(title: str, text: str) -> tuple[int, int]:
    """Where :func:`lead` is in ``text``: its start and end offsets."""
    raw = text[: LEAD_CHARS * 4]
    start = len(raw) - len(raw.lstrip())
    head = title[:MAX_TITLE_CHARS].strip()
    if head and raw.startswith(head, start):
        start += len(head)
        while start < len(raw) and raw[start] in " .:-\u2014\n\t\r":
            start += 1
    end = min(len(raw), start + LEAD_CHARS)
    if end < len(raw) and raw[end].isalnum():
        space = raw.rfind(" ", start, end)
        end = space if space > start else end
    return start, end


def headline_likeness(a: str, b: str) -> float:
    """How alike two folded headlines are, 0..1 (0 when either is missing)."""
    return fuzz.token_set_ratio(a, b) / 100.0 if a and b else 0.0


def heads_keys(heads: tuple[frozenset[int], ...]) -> array[int]:
    """Every key of a headline's words, sorted (what an indexed article keeps)."""
    return array("I", sorted(set().union(*heads)))


def cross_likeness(heads: tuple[frozenset[int], ...], other: frozenset[int], n_other: int) -> float:
    """How alike two headlines are across languages, 0..1: the share of the shorter
    one's words (``n_other`` words for ``other``, the other's keys) that the other
    headline also has by a key (a concept of the lexicon, a name)."""
    n = min(len(heads), n_other)
    if n < 3:  # two words alike are no headline alike
        return 0.0
    return min(1.0, sum(1 for keys in heads if not keys.isdisjoint(other)) / n)
