"""Compiled indexes: word patterns, terms and the per-token cache. No I/O.

Every distinct rule word becomes a *pattern* (an id). At compile time each pattern is
expanded into index entries: its inflected forms (``forms``), its name keys
(``names`` plus a one-deletion index for long keys), or its prefix (``prefixes``).
An article token is looked up once per distinct spelling and the resulting
``{pattern id: score}`` is cached, so matching an article costs one dict look-up per
token whatever the number of rules. Terms (phrases) are sequences of patterns,
indexed by their first pattern. A phrase does not run across a sentence break
(``coalition. Of the willing``, or a new line that starts with a capital) unless the rule
itself has one there; brackets, quotes, commas and dashes between its words are allowed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import compress
from typing import cast

from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from monitor.errors import QueryError
from monitor.match.keys import (
    MIN_FUZZY_KEY,
    Lexicon,
    NameKeys,
    deletes,
    english_forms,
    name_keys,
    plural_keys,
)
from monitor.match.places import is_official, place_phrases
from monitor.match.query import Term, Word, parse_term_text
from monitor.match.sound import capitalised, latin_spellings, rendering_origins
from monitor.match.tokens import (
    PUNCT_BREAK_RE,
    SENTENCE_BREAK_RE,
    TOKEN_RE,
    is_cyrillic,
    is_latin,
    normalize_token,
)
from monitor.match.transcribe import transcriptions
from monitor.records import EvidenceField

_CACHE_LIMIT = 200_000
_LINE_BREAKS = "\n\r\v\f\x85\u2028\u2029"
_NO_HITS: dict[int, int] = {}
_MAX_PARTICLE_TOKEN = 6  # «бін», «фон», «аль»: longer tokens are never a particle's reading
_MIN_SOUND_KEY = 3  # "Ng" renders as «Нг»: too short to stand for a name
# A rendering ending in one of these is not declined (one in -о is: Кличко -> Кличка).
_INDECLINABLE_ENDS = frozenset("еєуюіиыэї")

# One term occurrence: (field, first token, end token, score).
Hit = tuple[EvidenceField, int, int, int]


def word_forms(word: Word, lexicon: Lexicon) -> frozenset[str]:
    """The normalised spellings a non-prefix rule word matches exactly."""
    if word.exact:
        return frozenset({word.text})
    if any(is_cyrillic(c) for c in word.text):
        return lexicon.forms(word.text)
    if any(is_latin(c) for c in word.text):
        return frozenset(english_forms(word.text))
    return frozenset({word.text})


@dataclass(frozen=True, slots=True)
class TermSpec:
    """A compiled term: its pattern ids in order, its label for evidence, and the gaps
    between its words (index k = between word k and k+1) that must hold no sentence break."""

    patterns: tuple[int, ...]
    label: str
    unbroken: tuple[int, ...] = ()


class WordIndex:
    """Rule words -> pattern ids, and article tokens -> ``{pattern id: score}``."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.ids: dict[Word, int] = {}
        self.forms: dict[str, list[int]] = defaultdict(list)
        # The forms of proper names (every word of the term capitalised): met only by
        # capitalised tokens, so lower-case «козак» or "trump card" is not a name.
        self.name_forms: dict[str, list[int]] = defaultdict(list)
        self.names: dict[str, list[int]] = defaultdict(list)  # whole key of a rule name
        self.stems: dict[str, list[int]] = defaultdict(list)  # its stems (trailing vowels off)
        # Whole keys of names written in Cyrillic: also met by a Latin token's English
        # plural (Witkoffs). A Latin rule name gets its plurals by spelling (english_forms).
        self.plural_names: dict[str, list[int]] = defaultdict(list)
        # Keys of a Latin rule name's renderings by sound (Trump -> «Трамп»): met only by
        # Cyrillic tokens, so a Latin "Tramp" is not Trump.
        self.sound: dict[str, list[int]] = defaultdict(list)
        self.sound_stems: dict[str, list[int]] = defaultdict(list)
        # Keys of the short lower-case words of names ("bin", "von"): any token, any case.
        self.particles: dict[str, list[int]] = defaultdict(list)
        self.fuzzy: dict[str, set[str]] = defaultdict(set)
        self.longest_fuzzy = 0  # the longest whole key in ``fuzzy``: one edit away at most
        self.prefixes: dict[str, list[int]] = defaultdict(list)
        self.prefix_lengths: tuple[int, ...] = ()
        self.cache: dict[str, dict[int, int]] = {}  # raw token -> hits; read without a lock

    def add(self, word: Word) -> int:
        """The pattern id of ``word``, indexing it on first sight."""
        pid = self.ids.get(word)
        if pid is not None:
            return pid
        pid = self.ids[word] = len(self.ids)
        if word.prefix:
            self.prefixes[word.text].append(pid)
            self.prefix_lengths = tuple(sorted({*self.prefix_lengths, len(word.text)}))
            return pid
        table = self.name_forms if word.proper else self.forms
        for form in word_forms(word, self.lexicon):
            table[form].append(pid)
        if word.name:
            self._add_name(word.text, pid)
        if word.particle:
            self._add_particle(word.text, pid)
        return pid

    def _add_particle(self, text: str, pid: int) -> None:
        """Index the keys of a name's particle and of its readings (``von`` -> «фон»,
        ``bin`` -> «бін», «бен»), met by tokens in either case."""
        keys = {name_keys(text, inflected=False).whole}
        if is_latin(text[:1]):
            keys |= {name_keys(r, inflected=False).whole for r in transcriptions(text)}
        for key in keys:
            if key:
                _index(self.particles, key, pid)

    def _add_name(self, text: str, pid: int) -> None:
        keys = name_keys(text, inflected=False)
        if len(keys.whole) < 2:
            return
        self.names[keys.whole].append(pid)
        if is_cyrillic(text[0]):
            self.plural_names[keys.whole].append(pid)
        for stem in keys.stems:
            self.stems[stem].append(pid)
        self._add_renderings(text, keys.whole, pid)
        if is_cyrillic(text[0]):
            for latin in latin_spellings(keys.whole):  # «Трамп» -> "Trump", "Trump's", "Trumps"
                latin_key = name_keys(latin, inflected=False).whole
                _index(self.names, latin_key, pid)
                _index(self.plural_names, latin_key, pid)
        if len(keys.whole) >= MIN_FUZZY_KEY:
            self.longest_fuzzy = max(self.longest_fuzzy, len(keys.whole))
            self.fuzzy[keys.whole].add(keys.whole)
            for d in deletes(keys.whole):
                self.fuzzy[d].add(keys.whole)

    def _add_renderings(self, text: str, whole: str, pid: int) -> None:
        """Index the keys of ``text``'s renderings by sound, by its source language's
        spelling (Scholz -> «Шольц», Czaputowicz -> «Чапутович») and, for a place, of
        its other names in every case form (Kyiv -> «Києві», «Киеве»)."""
        for rendering, origins in rendering_origins(text).items():
            keys = name_keys(rendering, inflected=False)
            for origin in origins:
                if origin in ("sound", "transcription"):
                    self._add_sound(rendering, keys, pid)
                elif origin == "spelling":
                    self._add_keys(keys, whole, pid)
                elif self._usable_place(rendering, keys):
                    self._add_keys(keys, whole, pid)
                    if is_cyrillic(rendering[:1]):
                        for form in self.lexicon.proper_forms(rendering):
                            _index(self.names, name_keys(form, inflected=False).whole, pid)

    def _add_keys(self, keys: NameKeys, whole: str, pid: int) -> None:
        if keys.whole != whole:
            _index(self.names, keys.whole, pid)
        for stem in keys.stems:
            _index(self.stems, stem, pid)

    def _add_sound(self, rendering: str, keys: NameKeys, pid: int) -> None:
        """A rendering by sound is met by Cyrillic words only. Its stems are indexed only
        when Ukrainian and Russian decline it: a name ending in a consonant, -а/-я or -о
        (Трамп -> Трампом, Кошта -> Кошти, Кличко -> Кличка); one ending in another vowel
        is indeclinable (Нетаньяху, Рютте), and its stem would find other words
        («Нетаньї», «Санди»)."""
        if len(keys.whole) < _MIN_SOUND_KEY:
            return
        _index(self.sound, keys.whole, pid)  # renderings often share a key (е/э, і/и fold)
        if rendering[-1:] not in _INDECLINABLE_ENDS:
            for stem in keys.stems:
                _index(self.sound_stems, stem, pid)

    def _usable_place(self, rendering: str, keys: NameKeys) -> bool:
        """A place's other name is indexed unless it is too short, or a Cyrillic name the
        dictionaries do not know (GeoNames lists Chuvash «Кыйив» in the same letters) or
        read as a first name («Питер» for Petersburg); CLDR's names are always used
        («Ізраїль» is also a first name)."""
        return len(keys.whole) >= _MIN_SOUND_KEY and self.kept_place_name(rendering)

    def kept_place_name(self, name: str) -> bool:
        """Whether a place's other name (normalised) is used: any Latin or CLDR name; a
        GeoNames Cyrillic name the dictionaries know, unless it is one word they read as
        a first name («Питер» is Saint Petersburg to some, Peter Navarro to the press)."""
        if not is_cyrillic(name[:1]) or is_official(capitalised(name)):
            return True
        one_word = " " not in name and "-" not in name
        return self.lexicon.knows(name) and not (one_word and self.lexicon.is_first_name(name))

    def lookup(self, raw: str) -> dict[int, int]:
        """``{pattern id: score}`` for one raw article token (cached by spelling)."""
        hits = self.cache.get(raw)
        if hits is None:
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            hits = self.cache[raw] = self._analyse(raw) or _NO_HITS
        return hits

    def _analyse(self, raw: str) -> dict[int, int]:
        norm = normalize_token(raw)
        hits = dict.fromkeys(self.forms.get(norm, ()), 100)
        keys: NameKeys | None = None
        if raw[:1].isupper():
            for pid in self.name_forms.get(norm, ()):
                hits[pid] = 100
        if self.names and raw[:1].isupper():
            keys = name_keys(norm)
            for key in keys.all:
                self._match_name(key, hits)
            for stem in keys.stems:
                for pid in self.stems.get(stem, ()):
                    hits.setdefault(pid, 100)
            if self.sound and is_cyrillic(norm[:1]):
                for key in keys.all:
                    for pid in self.sound.get(key, ()):
                        hits.setdefault(pid, 100)
                for stem in keys.stems:
                    for pid in self.sound_stems.get(stem, ()):
                        hits.setdefault(pid, 100)
            if self.plural_names:
                for key in plural_keys(norm):
                    for pid in self.plural_names.get(key, ()):
                        hits.setdefault(pid, 100)
        if self.particles and len(norm) <= _MAX_PARTICLE_TOKEN:
            whole = keys.whole if keys is not None else name_keys(norm, inflected=False).whole
            for pid in self.particles.get(whole, ()):
                hits.setdefault(pid, 100)
        for length in self.prefix_lengths:
            if len(norm) < length:
                break
            for pid in self.prefixes.get(norm[:length], ()):
                hits[pid] = 100
        return hits

    def _match_name(self, key: str, hits: dict[int, int]) -> None:
        for pid in self.names.get(key, ()):
            hits[pid] = 100
        # A key longer than every rule key plus one is no edit away from any: skip it, or
        # a 20,000-letter "word" from a feed builds 20,000 deletions of 20,000 characters.
        if len(key) < MIN_FUZZY_KEY or len(key) > self.longest_fuzzy + 1:
            return
        candidates = set(self.fuzzy.get(key, ()))
        for d in deletes(key):
            candidates |= self.fuzzy.get(d, set())
        for rule_key in candidates:
            if rule_key != key and Levenshtein.distance(key, rule_key, score_cutoff=1) <= 1:
                score = int(ratio(key, rule_key))
                for pid in self.names[rule_key]:
                    hits[pid] = max(hits.get(pid, 0), score)

    @property
    def cache_size(self) -> int:
        """Distinct token spellings analysed so far."""
        return len(self.cache)


class TermIndex:
    """Terms indexed by their first pattern; finds every term occurrence in a field."""

    def __init__(self, words: WordIndex) -> None:
        self.words = words
        self.ids: dict[TermSpec, int] = {}
        self.specs: list[TermSpec] = []
        # One-word terms by their pattern; phrases by their first two patterns, so a word
        # that starts 5,000 phrases ("the ...") costs a look-up of what follows it, not
        # 5,000 checks at each of its occurrences.
        self.by_first: dict[int, list[int]] = defaultdict(list)
        self.by_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.phrase_starts: set[int] = set()

    def add(self, words: tuple[Word, ...], label: str, breaks: tuple[bool, ...] = ()) -> int:
        """The term id for a phrase, indexing it on first sight.

        ``breaks[k]`` is True when the rule itself has a sentence break after word k.
        """
        unbroken = tuple(k for k in range(len(words) - 1) if not (breaks and breaks[k]))
        spec = TermSpec(tuple(self.words.add(w) for w in words), label, unbroken)
        tid = self.ids.get(spec)
        if tid is None:
            tid = self.ids[spec] = len(self.specs)
            self.specs.append(spec)
            if len(spec.patterns) == 1:
                self.by_first[spec.patterns[0]].append(tid)
            else:
                self.by_pair[spec.patterns[0], spec.patterns[1]].append(tid)
                self.phrase_starts.add(spec.patterns[0])
        return tid

    def alternatives(self, term: Term) -> list[Term]:
        """The other names, as terms, of the place a proper-name term names when they are
        of several words (``Saint Petersburg`` -> «Санкт-Петербург»; ``United Kingdom``
        -> «Велика Британія», «Великобритания»). Empty for any other term."""
        if len(term.words) < 2 or not all(w.proper or w.particle for w in term.words):
            return []  # one word: its place names are indexed with the word itself
        out = []
        for name in sorted(place_phrases(term.label)):
            if not self.words.kept_place_name(normalize_token(name)):
                continue
            try:
                out.append(parse_term_text(f'"{name}"', 0, None))
            except QueryError:  # a name the query language cannot hold: not an alternative
                continue
        return out

    def scan(self, field: EvidenceField, text: str, found: dict[int, list[Hit]]) -> TokenOffsets:
        """Add every term occurrence in ``text`` to ``found`` (term id -> hits).

        Returns the field's tokens (for evidence offsets).
        """
        tokens = TOKEN_RE.findall(text)
        offsets = TokenOffsets(text, tokens)
        cached = list(map(self.words.cache.get, tokens))  # C loop: most tokens are cached
        if None in cached:
            lookup = self.words.lookup
            hits_at = [
                lookup(raw) if h is None else h for raw, h in zip(tokens, cached, strict=True)
            ]
        else:
            # True: the check above found no None (no token missed the cache).
            hits_at = cast("list[dict[int, int]]", cached)
        positions = {i: hits_at[i] for i in compress(range(len(hits_at)), hits_at)}
        by_first, by_pair, starts, specs = (
            self.by_first,
            self.by_pair,
            self.phrase_starts,
            self.specs,
        )
        for i, hits in positions.items():
            following = positions.get(i + 1)
            for pid, score in hits.items():
                for tid in by_first.get(pid, ()):
                    found.setdefault(tid, []).append((field, i, i + 1, score))
                if following is None or pid not in starts:
                    continue
                for second in following:
                    for tid in by_pair.get((pid, second), ()):
                        spec = specs[tid]
                        end = _phrase_end(spec.patterns, i, score, positions)
                        if end is not None and (
                            not spec.unbroken or offsets.unbroken(i, spec.unbroken)
                        ):
                            found.setdefault(tid, []).append((field, i, end[0], end[1]))
        return offsets


class TokenOffsets:
    """Character spans of a field's tokens, computed only as far as evidence needs.

    Each token starts at the first word character after the previous one ends, so
    ``str.find`` from there finds it: cheaper than a second regex pass.
    """

    def __init__(self, text: str, tokens: list[str]) -> None:
        self.text = text
        self.tokens = tokens
        self.spans: list[tuple[int, int]] = []

    def span(self, index: int) -> tuple[int, int]:
        """``(start, end)`` of token ``index`` in the text."""
        spans = self.spans
        if index >= len(spans):
            find, append = self.text.find, spans.append
            pos = spans[-1][1] if spans else 0
            for token in self.tokens[len(spans) : index + 1]:
                start = find(token, pos)
                pos = start + len(token)
                append((start, pos))
        return spans[index]

    def unbroken(self, first: int, gaps: tuple[int, ...]) -> bool:
        """True when no sentence break lies in the given gaps after token ``first``
        (gap k is between tokens ``first + k`` and ``first + k + 1``).

        A line break counts unless the next line goes on in lower case: HTML sources
        wrap lines mid-sentence, and their newlines survive into the text.
        """
        text, span = self.text, self.span
        for k in gaps:
            end, start = span(first + k)[1], span(first + k + 1)[0]
            if not SENTENCE_BREAK_RE.search(text, end, start):
                continue
            if PUNCT_BREAK_RE.search(text, end, start):
                return False
            gap = text[end:start]
            line = gap[max(gap.rfind(c) for c in _LINE_BREAKS) + 1 :].lstrip()
            if not (line or text[start])[0].islower():  # a bullet, a capital: a new block
                return False
        return True


def _index(table: dict[str, list[int]], key: str, pid: int) -> None:
    """List ``pid`` under ``key`` once."""
    ids = table[key]
    if pid not in ids:
        ids.append(pid)


def _phrase_end(
    patterns: tuple[int, ...], start: int, score: int, positions: dict[int, dict[int, int]]
) -> tuple[int, int] | None:
    """``(end token, lowest score)`` when the phrase continues from ``start``, else None."""
    for k in range(1, len(patterns)):
        next_hits = positions.get(start + k)
        if next_hits is None or patterns[k] not in next_hits:
            return None
        score = min(score, next_hits[patterns[k]])
    return start + len(patterns), score
