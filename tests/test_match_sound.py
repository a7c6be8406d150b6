"""Names as the press writes them (issue 11): by sound, and in every case form.

The Slavic paradigms are not listed here: pymorphy3's dictionaries generate them, so a
surname class that the matcher's case stems miss shows up as a failing form.
"""

from __future__ import annotations

import pytest

from monitor.match import compile_rules
from monitor.match.sound import sound_renderings, spelling_variants
from monitor.records import Document, RuleConfig


def _matches(query: str, text: str) -> bool:
    matcher = compile_rules([RuleConfig(name="r", query=query)], {})
    return bool(matcher.match(Document(title="", text=text)))


# Renderings by sound, uk and ru, as the press writes them (none is a spelling of the
# Latin name: the vowels or consonants differ).
BY_SOUND = [
    ("Trump", "Трамп"),
    ("Trump", "Трампом"),
    ("Trump", "Трампові"),
    ("Blinken", "Блінкена"),
    ("Blinken", "Блинкеном"),
    ("Haley", "Гейлі"),
    ("Haley", "Хейли"),
    ("Waltz", "Волц"),
    ("Waltz", "Уолтца"),
    ("Thatcher", "Тетчер"),
    ("Heath", "Хіт"),
    ("Biden", "Байдена"),
    ("Vance", "Венс"),
    ("Vance", "Вэнсом"),
    ("Scholz", "Шольц"),
    ("Merz", "Мерца"),
    ("Miami", "Маямі"),
    ("Starmer", "Стармера"),
]


@pytest.mark.parametrize(("query", "surface"), BY_SOUND)
def test_latin_name_finds_its_rendering_by_sound(query: str, surface: str) -> None:
    assert _matches(query, f"Сьогодні {surface} заявив про нове.")


@pytest.mark.parametrize(
    "surface", ["Стів Віткофф", "Стива Уиткоффа", "Стівом Віткоффом", "Steve Witkoff"]
)
def test_multi_word_name_across_scripts(surface: str) -> None:
    assert _matches('"Steve Witkoff"', f"Сьогодні {surface} прибув.")


def test_near_finds_an_inflected_rendering() -> None:
    assert _matches("Witkoff NEAR/5 Putin", "Уиткофф встретился с Путиным в Кремле.")


def test_an_exclusion_uses_the_same_renderings() -> None:
    """``NOT Miami`` excludes «Маямі»: an exclusion never fails open."""
    assert _matches("Lavrov", "Лавров прилетів до Маямі.")
    assert not _matches("Lavrov AND NOT Miami", "Лавров прилетів до Маямі.")


@pytest.mark.parametrize(
    ("query", "surface"),
    [
        ("Putin", "Путилов"),  # a longer surname that starts with it
        ("Witkoff", "Whitaker"),
        ("Witkoff", "Вітков"),
        ("Witkoff", "Віткопф"),
        ("Trump", "Tramp"),  # sound renderings are for the other script only
        ("Trump", "трамп"),  # lower case: not a name
        ("Haley", "Гелій"),
        ("Biden", "Бідон"),
    ],
)
def test_look_alikes_stay_different(query: str, surface: str) -> None:
    assert not _matches(query, f"Сьогодні {surface} заявив про нове.")


def test_renderings_follow_each_language() -> None:
    """``HH`` is «г» in Ukrainian and «х» in Russian; ``W`` is «в» or «у»."""
    assert {"гейлі", "хейлі"} <= sound_renderings("haley")
    assert {"волц", "уолц"} <= sound_renderings("waltz")
    assert sound_renderings("trump") == {"трамп"}
    assert sound_renderings("qzxwv") == frozenset()  # not in the dictionary


def test_spelling_variants_of_source_languages() -> None:
    assert "sholts" in spelling_variants("scholz")
    assert "chavushoğlu" in spelling_variants("çavuşoğlu")
    assert spelling_variants("witkoff") == frozenset()


@pytest.mark.parametrize(
    ("query", "latin_rule"),
    [("Çavuşoğlu", "Чавушоглу"), ("Szydło", "Шидло"), ("Czaputowicz", "Чапутовичем")],
)
def test_source_language_spellings(query: str, latin_rule: str) -> None:
    assert _matches(query, f"Сьогодні {latin_rule} заявив.")


# (Latin rule, language, a nominative the dictionary knows as a surname)
PARADIGMS = [
    ("Lavrov", "ru", "лавров"),
    ("Lavrov", "ru", "лаврова"),
    ("Lavrov", "uk", "лавров"),
    ("Lavrov", "uk", "лаврова"),
    ("Putin", "ru", "путин"),
    ("Putin", "uk", "путін"),
    ("Peskov", "ru", "песков"),
    ("Dmitriev", "ru", "дмитриев"),
    ("Ushakov", "ru", "ушаков"),
    ("Zelensky", "ru", "зеленский"),
    ("Zelensky", "uk", "зеленський"),
    ("Zelensky", "uk", "зеленська"),
    ("Shevchenko", "ru", "шевченко"),
    ("Shevchenko", "uk", "шевченко"),
]


@pytest.mark.parametrize(("query", "lang", "nominative"), PARADIGMS)
def test_every_case_form_of_a_slavic_surname(query: str, lang: str, nominative: str) -> None:
    pymorphy3 = pytest.importorskip("pymorphy3")
    morph = pymorphy3.MorphAnalyzer(lang=lang)
    parses = [p for p in morph.parse(nominative) if "Surn" in p.tag or "ADJF" in p.tag]
    assert parses, f"the {lang} dictionary does not know {nominative}"
    forms = {form.word for parse in parses[:1] for form in parse.lexeme}
    assert forms  # -ко is indeclinable in Russian: one form
    missed = [f for f in sorted(forms) if not _matches(query, f"Сьогодні {f.title()} заявив.")]
    assert missed == []
