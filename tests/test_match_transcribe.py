"""Names of other languages than English are found as the press transcribes them: by their
own language's reading rules (French silent endings, Dutch u, German ei/st, Portuguese s)."""

from __future__ import annotations

import pytest

from monitor.match import compile_rules
from monitor.match.transcribe import LANGUAGES, read, transcriptions
from monitor.records import Document, RuleConfig

RULES = [
    "Rutte",
    "Lecornu",
    "Barrot",
    "Bayrou",
    "Villepin",
    "Hollande",
    "Steinmeier",
    "Baerbock",
    "Guterres",
    "Sánchez",
    "Nawrocki",
    "Hegseth",
    "Witkoff",
    "Putin",
]
MATCHER = compile_rules([RuleConfig(name=q, query=q) for q in RULES], {})


def fired(text: str) -> set[str]:
    return {m.rule for m in MATCHER.match(Document(title="", text=text))}


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Rutte", "Генсек НАТО Марк Рютте заявив про підтримку."),  # Dutch u
        ("Rutte", "Генсек НАТО Марк Рютте заявил о поддержке."),
        ("Lecornu", "Прем'єр Франції Себастьян Лекорню подав у відставку."),  # French u
        ("Barrot", "Глава МЗС Франції Жан-Ноель Барро прибув до Києва."),  # silent t
        ("Barrot", "Министр Барро заявил."),
        ("Bayrou", "Уряд Франсуа Байру пішов у відставку."),  # ou
        ("Villepin", "Домінік де Вільпен виступив."),  # in, mute e
        ("Hollande", "Франсуа Олланд прокоментував."),  # silent h and e
        ("Steinmeier", "Президент Німеччини Штайнмаєр."),  # st, ei
        ("Steinmeier", "Президент Германии Штайнмайер."),
        ("Baerbock", "Анналена Бербок зустрілася з колегами."),  # ae
        ("Guterres", "Генсек ООН Антоніу Гутерреш закликав."),  # Portuguese final s
        ("Sánchez", "Прем'єр Іспанії Педро Санчес."),  # Spanish z
        ("Nawrocki", "Президент Польщі Кароль Навроцький."),  # -cki adapted
        ("Nawrocki", "Президент Польши Кароль Навроцкий."),
        ("Hegseth", "Міністр Гегсет заявив."),  # English, not in the CMU dictionary
        ("Rutte", "Зустріч із Рютте тривала годину."),  # a vowel ending: indeclinable
        ("Lecornu", "Уряд Лекорню."),
        ("Nawrocki", "Зустріч з Навроцьким."),  # a case form of the transcription
        ("Steinmeier", "Лист Штайнмаєру."),
    ],
)
def test_a_name_is_found_as_its_language_reads_it(rule: str, text: str) -> None:
    assert rule in fired(text)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Putin", "Інженер Путилов відкрив завод."),
        ("Witkoff", "Вітков і Уітакер."),
        ("Barrot", "Барон приїхав."),
        ("Rutte", "Рут прийшла."),
        ("Bayrou", "Бейрут під обстрілом."),
    ],
)
def test_a_transcription_does_not_find_another_word(rule: str, text: str) -> None:
    assert rule not in fired(text)


def test_transcriptions_are_compared_with_cyrillic_words_only() -> None:
    assert "Rutte" not in fired("Mr Riutte arrived.")


def test_every_language_table_reads_plain_latin_letters() -> None:
    for language, rules in LANGUAGES.items():
        assert read("abcdefghijklmnopqrstuvwxyz", rules), language


def test_a_word_with_an_unknown_letter_has_no_reading() -> None:
    assert read("ab☃", LANGUAGES["fr"]) == set()


def test_renderings_are_bounded_per_language() -> None:
    assert len(transcriptions("chchchchchchchchchchchchchchchch")) <= 16 * len(LANGUAGES)
