"""Matcher contract: evidence, languages, detection, normalisation."""

from __future__ import annotations

import pytest

from monitor.match import compile_rules, detect_language
from monitor.match.tokens import normalize_token, tokenize
from monitor.records import Document, Evidence, RuleConfig


def test_evidence_has_term_surface_field_and_offsets() -> None:
    """Evidence points at the surface as written, in the field where it was found."""
    matcher = compile_rules([RuleConfig(name="w", query="Witkoff")], {})
    doc = Document(title="Новини", text="Учора Віткоффа бачили в Парижі.")
    [match] = matcher.match(doc)
    assert match.rule == "w"
    assert match.evidence == (Evidence("Witkoff", "Віткоффа", "text", 100, 6, 14),)
    assert doc.text[6:14] == "Віткоффа"


def test_phrase_evidence_covers_the_whole_phrase_in_the_title() -> None:
    """A phrase's surface spans all its words; title evidence says field 'title'."""
    matcher = compile_rules([RuleConfig(name="c", query='"коаліція рішучих"')], {})
    [match] = matcher.match(Document(title="Засідання «коаліції рішучих»", text=""))
    [ev] = match.evidence
    assert (ev.surface, ev.field, ev.start, ev.end) == ("коаліції рішучих", "title", 11, 27)


@pytest.mark.parametrize(
    ("query", "text", "surface"),
    [
        (
            '"coalition of the willing"',
            "the coalition of the willing met",
            "coalition of the willing",
        ),
        ('"coalition of the willing"', "a new coalition. Of the willing, few came", None),
        ('"coalition of the willing"', "coalition! Of the willing", None),
        ('"coalition of the willing"', "a coalition? Of the willing", None),
        ('"coalition of the willing"', "the coalition of; the willing", None),
        ('"coalition of the willing"', "The Coalition Of The\nWilling meets", None),
        ('"coalition of the willing"', "the coalition of the.\nwilling", None),
        ('"coalition of the willing"', "a coalition\n\u2022 of the willing", None),
        (  # a line wrapped mid-sentence in the HTML source goes on in lower case
            '"coalition of the willing"',
            "the coalition of the\nwilling met",
            "coalition of the\nwilling",
        ),
        ('"коаліція рішучих"', "засідання коаліції\nрішучих", "коаліції\nрішучих"),
        ('"коаліція рішучих"', "Коаліція\nРішучих лідерів", None),
        ('"coalition of the willing"', "the coalition\u2026 of the willing", None),
        (
            '"coalition of the willing"',
            "the coalition (of the willing)",
            "coalition (of the willing",
        ),
        ('"коаліція рішучих"', '"Коаліція (рішучих, – Ред.) також', "Коаліція (рішучих"),
        ('"коаліція рішучих"', "коаліції «рішучих»", "коаліції «рішучих"),
        ('"коаліція рішучих"', "коаліція – рішучих", "коаліція – рішучих"),
        ('"коаліція рішучих"', "Зібралась коаліція. Рішучих мало.", None),
        ('"U.S. sanctions"', "new U.S. sanctions on", "U.S. sanctions"),  # the rule's own "."
        ('"U.S. sanctions"', "U.S! sanctions", "U.S! sanctions"),
        ('"1.5 million"', "about 1.5 million", "1.5 million"),
        ("Witkoff NEAR/3 Putin", "Witkoff arrived. Putin waited", "Witkoff"),  # NEAR may cross
    ],
)
def test_phrase_does_not_cross_a_sentence_break(query: str, text: str, surface: str | None) -> None:
    """. ! ? ; … and line breaks end a phrase; brackets, quotes and dashes do not, and the
    surface runs from the first to the last word of the phrase."""
    matches = compile_rules([RuleConfig(name="p", query=query)], {}).match(
        Document(title="", text=text)
    )
    assert (matches[0].evidence[0].surface if matches else None) == surface


def test_fuzzy_evidence_scores_below_100() -> None:
    """A one-edit match on a long name reports a score under 100."""
    matcher = compile_rules([RuleConfig(name="z", query="Zelenskyy")], {})
    [match] = matcher.match(Document(title="", text="President Zelenskiy said"))
    assert match.evidence[0].surface == "Zelenskiy"
    matcher = compile_rules([RuleConfig(name="s", query="Schwarzenegger")], {})
    [match] = matcher.match(Document(title="", text="Actor Schwarzenigger said"))
    assert 0 < match.evidence[0].score < 100


def test_only_matching_rules_are_returned() -> None:
    """Rules that do not match are absent from the result."""
    rules = [RuleConfig(name="a", query="Witkoff"), RuleConfig(name="b", query="Kushner")]
    matches = compile_rules(rules, {}).match(Document(title="", text="Kushner spoke"))
    assert [m.rule for m in matches] == ["b"]


@pytest.mark.parametrize(
    ("doc_language", "text", "expected"),
    [
        ("uk", "Witkoff", True),
        ("uk-UA", "Witkoff", True),
        ("ru", "Witkoff", False),
        (None, "Віткофф прибув до Парижа і зустрівся з лідерами.", True),
        (None, "Уиткофф прибыл в Париж и встретился с лидерами.", False),
        (None, "Witkoff arrived in Paris to meet the leaders.", False),
    ],
)
def test_rule_languages_restrict_matching(
    doc_language: str | None, text: str, expected: bool
) -> None:
    """A rule with ``languages`` fires only on those; a given language wins over detection."""
    matcher = compile_rules([RuleConfig(name="w", query="Witkoff", languages=("uk",))], {})
    assert bool(matcher.match(Document(title="", text=text, language=doc_language))) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Спецпредставник президента США прибув до Парижа і братиме участь.", "uk"),
        ("Спецпредставитель президента США прибыл в Париж и примет участие.", "ru"),
        ("The special envoy arrived in Paris and will take part.", "en"),
        ("", None),
        ("12345 !!!", None),
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    """Letter frequencies tell uk, ru and en apart."""
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("М’ЯСО", "м'ясо"),
        ("мʼясо", "м'ясо"),
        ("Віт\u00adкофф", "віткофф"),
        ("Віт\u200bкофф", "віткофф"),
        ("Вiткофф", "віткофф"),
        ("Witкoff", "witkoff"),
        ("ещё", "еще"),
        ("ﬁnal", "final"),
        ("cafe\u034f\u0301", "café"),  # an ignorable between letter and accent: still composed
    ],
)
def test_normalize_token(raw: str, expected: str) -> None:
    """Case, apostrophes, invisible characters, homoglyphs and compatibility forms fold."""
    assert normalize_token(raw) == expected


def test_apostrophe_does_not_split_but_hyphen_does() -> None:
    """``м’ясо`` is one token; ``Trump-style`` is two."""
    assert tokenize("м’ясо Trump-style") == ["м'ясо", "trump", "style"]


def test_explain_reports_language_and_every_term() -> None:
    """``explain`` says which terms were found and whether the language check passed."""
    rule = RuleConfig(name="w", query="Witkoff AND Kushner", languages=("ru",))
    matcher = compile_rules([rule], {})
    report = matcher.explain(Document(title="", text="Віткофф прибув до Парижа."), "w")
    assert (report.matched, report.language, report.languages) == (False, "uk", ("ru",))
    (witkoff, found), (kushner, missing) = report.terms
    assert (witkoff, kushner, missing) == ("Witkoff", "Kushner", ())
    assert found[0].surface == "Віткофф"


def test_many_rules_share_terms() -> None:
    """Rules repeating a term share one index entry; each still reports its own match."""
    rules = [RuleConfig(name=f"r{i}", query=f"Witkoff OR word{i}") for i in range(300)]
    matcher = compile_rules(rules, {})
    matches = matcher.match(Document(title="", text="Уиткофф і word7"))
    assert len(matches) == 300
    assert {e.term for e in next(m for m in matches if m.rule == "r7").evidence} == {
        "Witkoff",
        "word7",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Wit\u2063koff",  # invisible separator
        "Віт\u200dкофф",  # zero-width joiner
        "Wit\u200bkoff",
        "Wit\u200ekoff",  # left-to-right mark
        "\u202eWitkoff\u202c",  # bidi override and pop
        "Wit\u2066koff\u2069",  # isolates
        "Wit\u180ekoff",  # Mongolian vowel separator
        "Witkoff\ufe0f",  # variation selector
        "Wit\U000e0041\U000e007fkoff",  # tag characters
        "Wit\u00adkoff",  # soft hyphen
    ],
)
def test_a_word_split_by_an_invisible_character_still_matches(text: str) -> None:
    """Every default-ignorable code point is folded out of words, by Unicode property."""
    matcher = compile_rules([RuleConfig(name="w", query="Witkoff")], {})
    [match] = matcher.match(Document(title="", text=f"Envoy {text} arrived"))
    assert match.evidence[0].surface == text.lstrip("\u202e")  # a token starts at a letter


def test_invisible_characters_between_words_shift_no_position() -> None:
    """An ignorable alone between words is no word: NEAR/0 and phrases see through it."""
    rules = [
        RuleConfig(name="near", query="Witkoff NEAR/0 Putin"),
        RuleConfig(name="phrase", query='"coalition of the willing"'),
    ]
    matcher = compile_rules(rules, {})
    doc = Document(
        title="", text="Witkoff \u200b\u2063 Putin; coalition \u200e of the \ufeff willing"
    )
    assert [m.rule for m in matcher.match(doc)] == ["near", "phrase"]


def test_ignorables_come_from_the_unicode_property() -> None:
    """The folded set is Unicode's Default_Ignorable_Code_Point, not a short hand list."""
    from monitor.match.tokens import IGNORABLE_RANGES

    ignorable = {c for a, b in IGNORABLE_RANGES for c in range(a, b + 1)}
    assert {
        0x2063,
        0x200B,
        0x200F,
        0x202A,
        0x202E,
        0x2066,
        0x2069,
        0x180E,
        0xFE0F,
        0xAD,
    } <= ignorable
    assert set(range(0xE0000, 0xE0080)) <= ignorable
    assert not {ord(c) for c in "aя1 \u00a0-'"} & ignorable
    assert normalize_token("Wit\u2063koff") == "witkoff"
