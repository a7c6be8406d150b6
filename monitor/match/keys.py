"""Word keys: inflected forms of rule words and script-independent name keys. No I/O.

Two mechanisms, both applied to *rule* words at compile time so that matching an
article needs only dictionary look-ups:

* :class:`Lexicon` expands a Ukrainian/Russian dictionary word to the forms of its
  lexeme (pymorphy3), restricted to the rule word's part of speech so a participle
  does not pull in its verb (``желающих`` never yields ``желает``); English words
  get plural and possessive endings only (``willing`` never yields ``will``).
* :func:`name_keys` turns a capitalised word into phonetic keys: case endings
  stripped, transliterated with anyascii, folded (w->v, wh->v, initial u+vowel->v,
  g/kh->h, c->k/s, y->i, doubled letters collapsed, ie->e), so ``Witkoff``, ``Віткоффа``,
  ``Уиткоффом`` and ``Whitkoff`` share the key ``vitkof``. :func:`plural_keys` reads a
  Latin token as an English plural (``Witkoffs``) so a Cyrillic-written rule name
  (``Віткофф``) finds it as the Latin rule ``Witkoff`` does by spelling.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from anyascii import anyascii

from monitor.match.tokens import is_cyrillic, is_latin

# Case endings of Ukrainian/Russian surnames and nouns, longest first.
_CASE_ENDINGS = tuple(
    sorted(
        [
            "ами",
            "ями",
            "ыми",
            "ими",
            "ым",
            "ых",
            "их",
            "ові",
            "еві",
            "єві",
            "ому",
            "ого",
            "ою",
            "ею",
            "єю",
            "ом",
            "ем",
            "єм",
            "ой",
            "ей",
            "ій",
            "ий",
            "ої",
            "им",
            "ім",
            "ам",
            "ям",
            "ах",
            "ях",
            "а",
            "я",
            "у",
            "ю",
            "і",
            "и",
            "е",
            "ы",
            "ї",
        ],
        key=len,
        reverse=True,
    )
)
_MIN_STEM = 3
_ALTERNATIONS = {"зі": "г", "ці": "к", "сі": "х"}
_MIN_RULE_STEM = 4  # shorter rule stems meet common words: "Modi" -> "mod" would find "Мода"
_VOWELS = "aeiou"
_FOLDS = (
    (re.compile(r"^wh"), "v"),
    (re.compile(r"w"), "v"),
    (re.compile(r"^u(?=[aeiouy])"), "v"),
    (re.compile(r"dzh"), "j"),
    (re.compile(r"tch"), "ch"),  # «Тетчер» = Thatcher's "ch" sound
    (re.compile(r"[kg]h|g"), "h"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck|c(?![eiy])|q"), "k"),
    (re.compile(r"c"), "s"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"y"), "i"),
    (re.compile(r"[^a-z]"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
    (re.compile(r"ie"), "e"),
)
MIN_FUZZY_KEY = 8  # keys shorter than this must be equal; longer ones may differ by one edit


def phonetic_key(ascii_word: str) -> str:
    """Fold a transliterated word to its phonetic key (``Whitkoff`` -> ``vitkof``)."""
    if len(ascii_word) > _MAX_CACHED_KEY:  # a feed's 150,000-letter "word" is not kept
        return _fold(ascii_word)
    return _cached_fold(ascii_word)


def _fold(ascii_word: str) -> str:
    key = ascii_word.lower()
    for pattern, repl in _FOLDS:
        key = pattern.sub(repl, key)
    return key


_MAX_CACHED_KEY = 40
# An article's case forms share their stems (Трампа, Трампом: трамп); bounded in entries
# and, through _MAX_CACHED_KEY, in size (65,536 x 40 letters).
_cached_fold = functools.lru_cache(maxsize=65_536)(_fold)


def strip_possessive(word: str) -> str:
    """``witkoff's`` -> ``witkoff``; ``witkoffs'`` -> ``witkoffs`` (apostrophes already folded)."""
    if word.endswith("'s"):
        return word[:-2]
    return word.rstrip("'")


def case_stems(word: str) -> set[str]:
    """Every stem one case ending away from ``word``: the longest ending alone would read
    ``Лаврові`` as ``Лавр`` + ``ові``, where it is ``Лавров`` + ``і``."""
    stems = {
        word[: -len(ending)]
        for ending in _CASE_ENDINGS
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM
    }
    # Ukrainian dative/locative of -га/-ка/-ха nouns changes the consonant: Сибіга ->
    # Сибізі, Рука -> руці, Муха -> мусі.
    alternated = _ALTERNATIONS.get(word[-2:])
    if alternated and len(word) - 2 >= _MIN_STEM:
        stems.add(word[:-2] + alternated)
    # A fleeting е of -ець/-ец surnames: Лубінець -> Лубінця, Кравець -> Кравцем.
    stems |= {s[:-1] + "ець" for s in stems if s.endswith("ц") and len(s) >= _MIN_STEM + 1}
    stems |= {s[:-1] + "ец" for s in stems if s.endswith("ц") and len(s) >= _MIN_STEM + 1}
    return stems or {word}


@dataclass(frozen=True, slots=True)
class NameKeys:
    """Phonetic keys of one word: ``whole`` as written, ``stems`` without an ending.

    A rule word's whole key may meet either key set of an article token
    (``Віткоффа`` -> stem ``vitkof`` = ``Witkoff``); a rule word's stem only meets
    a token's stems, so ``Costa`` (stem ``kost``) finds ``Косту`` but not ``Кость``.
    """

    whole: str
    stems: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        """The whole key and the stems."""
        return self.stems | {self.whole}


def name_keys(word: str, *, inflected: bool = True) -> NameKeys:
    """Phonetic keys of a normalised word used as a name, across scripts and case forms.

    ``inflected`` (article tokens) also strips a Cyrillic case ending; rule words are
    written in the nominative and keep theirs. Stems also drop trailing vowels
    (``Зеленського``/``Zelensky`` meet on ``zelensk``). No I/O.
    """
    base = strip_possessive(word).replace("'", "")
    whole = phonetic_key(anyascii(base))
    stems = set()
    if not inflected:
        stem = whole.rstrip(_VOWELS)
        if len(stem) >= _MIN_RULE_STEM:
            stems.add(stem)
    elif base and is_cyrillic(base[0]):  # Latin tokens do not inflect (possessives aside)
        for cut in case_stems(base):
            stem = phonetic_key(anyascii(cut))
            stems |= {stem, stem.rstrip(_VOWELS)}
    stems = {k for k in stems if len(k) >= _MIN_STEM and k != whole}
    return NameKeys(whole, frozenset(stems))


_MIN_PLURAL_BASE = 4  # "Bass" is not "Ba" + s


def plural_keys(word: str) -> frozenset[str]:
    """Phonetic keys of a normalised Latin word read as an English plural or plural
    possessive: ``witkoffs``, ``witkoffs'``, ``witkoffes`` -> ``{"vitkof", ...}``. No I/O.

    Empty for a word that is not Latin, does not end in ``s``, or ends in ``ss``.
    """
    base = strip_possessive(word).replace("'", "")
    if not base or not is_latin(base[0]) or not base.endswith("s") or base.endswith("ss"):
        return frozenset()
    bases = {base[:-1], base[:-2] if base.endswith("es") else ""}
    return frozenset(phonetic_key(anyascii(b)) for b in bases if len(b) >= _MIN_PLURAL_BASE)


def deletes(key: str) -> set[str]:
    """Every string one deletion away from ``key`` (for one-edit look-ups)."""
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def english_forms(word: str) -> set[str]:
    """A Latin word plus its plural and possessive forms (never shorter forms)."""
    forms = {word, word + "s", word + "es", word + "'s", word + "s'", word + "'"}
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        forms.add(word[:-1] + "ies")
    return forms


_UK_ONLY = set("іїєґ'")
_RU_ONLY = set("ыэъ")


# What we use of pymorphy3, which has no type hints: a MorphAnalyzer and its Parse results.


class _Tag(Protocol):
    @property
    def POS(self) -> str | None: ...  # pymorphy3's spelling
    @property
    def number(self) -> str | None: ...


class _Parse(Protocol):
    @property
    def normal_form(self) -> str: ...
    @property
    def word(self) -> str: ...
    @property
    def tag(self) -> _Tag: ...
    @property
    def methods_stack(self) -> Sequence[Sequence[object]]: ...
    @property
    def lexeme(self) -> Sequence[_Parse]: ...


class _Analyzer(Protocol):
    def word_is_known(self, word: str) -> bool: ...
    def parse(self, word: str) -> Sequence[_Parse]: ...


_ANALYZERS: dict[str, _Analyzer] = {}
_ANALYZERS_LOCK = threading.Lock()


class Lexicon:
    """pymorphy3 analyzers for uk and ru, loaded on first use (about 25 MB each)."""

    def __init__(self) -> None:
        self._cache: dict[str, frozenset[str]] = {}

    @staticmethod
    def analyzer(lang: str) -> _Analyzer:
        """The process's analyzer for ``lang``: loaded once (0.2 s, ~25 MB) and shared by
        every compile, so a reload or ``terms show`` does not load the dictionaries again."""
        with _ANALYZERS_LOCK:
            if lang not in _ANALYZERS:
                import pymorphy3

                _ANALYZERS[lang] = pymorphy3.MorphAnalyzer(lang=lang)
            return _ANALYZERS[lang]

    def forms(self, word: str) -> frozenset[str]:
        """All inflected forms of a normalised Cyrillic word; ``{word}`` when unknown."""
        cached = self._cache.get(word)
        if cached is None:
            cached = frozenset(self._expand(word))
            self._cache[word] = cached
        return cached

    def knows(self, name: str) -> bool:
        """True when the Ukrainian or Russian dictionary knows a normalised Cyrillic name:
        the whole of it (``санкт-петербург``), or each word of a name written with spaces
        (``сполучені штати``). GeoNames lists Tatar, Chuvash and Bashkir spellings in
        the same letters («Дондагъы Ростов», «Киев ош»); the dictionaries do not."""
        if self._known_word(name):
            return True
        parts = name.split()
        return len(parts) > 1 and all(len(p) <= 3 or self._known_word(p) for p in parts)

    def is_first_name(self, word: str) -> bool:
        """True when a dictionary reads a normalised Cyrillic word as a first name
        (``питер``: Peter). Surnames are not asked: «Київ», «Ростов» are surnames too."""
        return any(
            parse.normal_form.replace("ё", "е") == word
            and "Name" in str(parse.tag).replace(" ", ",").split(",")
            for lang in ("uk", "ru")
            for parse in self.analyzer(lang).parse(word)
        )

    def _known_word(self, word: str) -> bool:
        return any(self.analyzer(lang).word_is_known(word) for lang in ("uk", "ru"))

    def proper_forms(self, word: str) -> frozenset[str]:
        """The singular case forms of a normalised Cyrillic proper noun the dictionaries
        know as a lemma (``київ`` -> ``києва``, ``києві``...; ``газа`` -> ``гази``, never
        ``газу`` of ``газ``); empty when neither knows it."""
        key = "\0proper:" + word
        cached = self._cache.get(key)
        if cached is None:
            cached = frozenset(self._proper(word))
            self._cache[key] = cached
        return cached

    def _proper(self, word: str) -> set[str]:
        forms: set[str] = set()
        for lang in self._languages(word):
            morph = self.analyzer(lang)
            if not morph.word_is_known(word):
                continue
            for parse in morph.parse(word):
                if (
                    parse.normal_form.replace("ё", "е") == word
                    and parse.tag.POS == "NOUN"
                    and type(parse.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"
                ):
                    forms |= {f.word for f in parse.lexeme if f.tag.number != "plur"}
        return {f.replace("ё", "е") for f in forms}

    @staticmethod
    def _languages(word: str) -> list[str]:
        letters = set(word)
        return ["uk"] if letters & _UK_ONLY else ["ru"] if letters & _RU_ONLY else ["uk", "ru"]

    def _expand(self, word: str) -> set[str]:
        forms = {word}
        for lang in self._languages(word):
            morph = self.analyzer(lang)
            if not morph.word_is_known(word):
                continue
            forms |= _lexeme_forms(morph.parse(word), word)
        return {f.replace("ё", "е") for f in forms}


def _lexeme_forms(parses: Iterable[_Parse], word: str) -> set[str]:
    """Forms of the dictionary parses of ``word``, same part of speech as the parse.

    When the word is itself a dictionary form of some parse, only those parses count
    (``прем'єр`` the person, not the genitive plural of ``прем'єра``).
    """
    known = [p for p in parses if type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"]
    lemmas = [p for p in known if p.normal_form.replace("ё", "е") == word]
    forms: set[str] = set()
    for parse in lemmas or known:
        same = ("POS", "tense", "voice") if parse.tag.POS in ("PRTF", "PRTS") else ("POS",)
        for form in parse.lexeme:
            if all(getattr(form.tag, g) == getattr(parse.tag, g) for g in same):
                forms.add(form.word)
    return forms
