"""Pure key functions: phonetic folding, endings, English forms, lexeme expansion."""

from __future__ import annotations

import pytest

from monitor.match.keys import (
    Lexicon,
    case_stems,
    english_forms,
    name_keys,
    phonetic_key,
    strip_possessive,
)


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("Witkoff", "vitkof"),
        ("Whitkoff", "vitkof"),
        ("Uitkoff", "vitkof"),
        ("Kushner", "kushner"),
        ("Cameroon", "kamerun"),
        ("Cameron", "kameron"),
        ("Vance", "vanse"),
        ("Dzhared", "jared"),
        ("Umierov", "umerov"),
        ("Garri", "hari"),
    ],
)
def test_phonetic_key(word: str, key: str) -> None:
    """Transliterated spellings fold to one key by sound."""
    assert phonetic_key(word) == key


@pytest.mark.parametrize(
    ("word", "stem"),
    [("віткоффом", "віткофф"), ("кушнера", "кушнер"), ("зеленського", "зеленськ"), ("лі", "лі")],
)
def test_case_stems_keep_three_letters(word: str, stem: str) -> None:
    """One case ending comes off; very short words stay."""
    assert stem in case_stems(word)
    assert all(len(s) >= 2 for s in case_stems(word))


def test_case_stems_try_every_ending() -> None:
    """«Лаврові» is Лавров + і, not only Лавр + ові."""
    assert {"лавров", "лавр"} <= case_stems("лаврові")


@pytest.mark.parametrize(
    ("word", "base"), [("witkoff's", "witkoff"), ("witkoffs'", "witkoffs"), ("witkoff", "witkoff")]
)
def test_strip_possessive(word: str, base: str) -> None:
    """English possessives come off."""
    assert strip_possessive(word) == base


def test_rule_stems_only_meet_inflected_cyrillic_tokens() -> None:
    """A Latin token has no stems, so a rule stem cannot meet ``Milo`` for ``Milei``."""
    assert name_keys("milo").stems == frozenset()
    assert "kost" in name_keys("косту").stems
    assert "kost" not in name_keys("кость").stems
    assert "kost" in name_keys("costa", inflected=False).stems
    assert not name_keys("modi", inflected=False).stems  # "mod" is too short to trust


def test_english_forms_only_add_endings() -> None:
    """Plurals and possessives, never shorter words."""
    forms = english_forms("willing")
    assert {"willing", "willings", "willing's"} <= forms
    assert "will" not in forms
    assert "policies" in english_forms("policy")


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """One lexicon for the module (dictionaries load once)."""
    return Lexicon()


@pytest.mark.parametrize(
    ("word", "present", "absent"),
    [
        ("коаліція", {"коаліції", "коаліцією"}, set()),
        ("рішучих", {"рішучий", "рішучими"}, {"рішення"}),
        ("желающих", {"желающие", "желающим"}, {"желает", "желать"}),
        ("решительных", {"решительные"}, {"решение"}),
        ("прем'єр", {"прем'єра", "прем'єром"}, {"прем'єрою"}),
        ("еще", {"еще"}, set()),
        ("віткофф", {"віткофф"}, set()),  # unknown: only itself
    ],
)
def test_lexicon_forms(lexicon: Lexicon, word: str, present: set, absent: set) -> None:
    """Lexeme forms of the same part of speech; lemma parses win over others."""
    forms = lexicon.forms(word)
    assert present <= forms
    assert not absent & forms


def test_a_feeds_huge_word_is_folded_but_not_kept_in_the_key_cache() -> None:
    from monitor.match import keys

    before = keys._cached_fold.cache_info().currsize
    huge = "Witkoff" * 1_000
    assert keys.phonetic_key(huge) == keys._fold(huge)
    assert keys._cached_fold.cache_info().currsize == before  # a 7,000-letter word is not kept
    keys.phonetic_key("Witkoff")
    assert keys.phonetic_key("Witkoff") == "vitkof"
