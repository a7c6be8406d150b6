"""Query language: parsing, errors with positions, and each operator's behaviour."""

from __future__ import annotations

import pytest

from monitor.errors import QueryError
from monitor.match import compile_rules
from monitor.match.query import And, Near, Not, Or, Term, parse_query
from monitor.records import Document, RuleConfig

GROUPS = {"coalition": ["coalition of the willing", "коаліція рішучих"]}


def _fires(query: str, text: str, title: str = "") -> bool:
    matcher = compile_rules([RuleConfig(name="r", query=query)], GROUPS)
    return bool(matcher.match(Document(title=title, text=text)))


def test_juxtaposition_means_and() -> None:
    """``a b`` parses as ``a AND b``."""
    assert parse_query("Witkoff Kushner", {}) == parse_query("Witkoff AND Kushner", {})
    assert isinstance(parse_query("a b", {}), And)


def test_and_binds_tighter_than_or() -> None:
    """``a b OR c`` is ``(a AND b) OR c``."""
    tree = parse_query("a b OR c", {})
    assert isinstance(tree, Or) and isinstance(tree.children[0], And)


def test_group_expands_to_or_of_its_entries() -> None:
    """``@coalition`` becomes one term per [terms] entry, labelled as written."""
    tree = parse_query("@coalition", GROUPS)
    assert isinstance(tree, Or)
    assert [t.label for t in tree.children] == GROUPS["coalition"]


def test_modifiers_are_parsed() -> None:
    """``title:``, ``=`` and ``*`` set the scope, exactness and prefix of a word."""
    tree = parse_query("title:=Віткофф Кушн*", {})
    first, second = tree.children
    assert isinstance(first, Term) and first.title_only and first.words[0].exact
    assert second.words[0].prefix and second.words[0].text == "кушн"


def test_near_and_not_nodes() -> None:
    """NEAR/n keeps its distance; NOT wraps the following operand."""
    tree = parse_query("a NEAR/3 b NOT c", {})
    assert isinstance(tree, And)
    assert isinstance(tree.children[0], Near) and tree.children[0].distance == 3
    assert isinstance(tree.children[1], Not)


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("", 0),
        ("(Witkoff", 0),
        ("Witkoff AND", 11),
        ("Witkoff OR OR Kushner", 11),
        ('"коаліція рішучих', 0),
        ("a NEAR/x b", 2),
        ("(a AND b) NEAR/2 c", 10),
        ("Witkoff @nope", 8),
        ("x*y", 0),
        ("a)", 1),
    ],
)
def test_bad_query_raises_with_position(query: str, position: int) -> None:
    """Each malformed query names the rule and the character where it went wrong."""
    with pytest.raises(QueryError) as err:
        compile_rules([RuleConfig(name="bad", query=query)], GROUPS)
    assert err.value.rule == "bad"
    assert err.value.position == position


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("NOT Witkoff", 0, "NOT alone matches everything"),
        ("NOT (a OR b)", 0, "NOT alone matches everything"),
        ("NOT a NOT b", 0, "NOT alone matches everything"),
        ("(NOT a)", 1, "NOT alone matches everything"),
        ("title:(NOT a)", 0, "NOT alone matches everything"),
        ("a OR NOT b", 5, "every OR alternative needs a term"),
        ("a OR NOT b NOT c", 5, "every OR alternative needs a term"),
        ("a OR (b OR NOT c)", 11, "every OR alternative needs a term"),
        ("(a OR NOT b) OR c", 6, "every OR alternative needs a term"),
    ],
)
def test_query_without_a_present_term_is_refused(query: str, position: int, message: str) -> None:
    """A query that could match an article containing none of its terms does not compile."""
    with pytest.raises(QueryError, match=message) as err:
        compile_rules([RuleConfig(name="neg", query=query)], GROUPS)
    assert (err.value.rule, err.value.position) == ("neg", position)


@pytest.mark.parametrize(
    "query",
    [
        "a NOT b",
        "(a OR NOT b) c",
        "NOT b a",
        "a NEAR/2 b NOT c",
        "(a OR b) NOT (c OR d)",
        "x (a OR NOT b) OR c",
        "@coalition",
    ],
)
def test_query_with_a_present_term_compiles(query: str) -> None:
    """NOT is fine wherever some term must still be present."""
    assert compile_rules([RuleConfig(name="ok", query=query)], GROUPS).rule_names == ("ok",)


def test_every_match_has_evidence() -> None:
    """Since every query needs a present term, no match comes with empty evidence."""
    queries = ["Witkoff NOT Putin", "(Witkoff OR NOT Putin) Kushner", "title:Witkoff NOT x"]
    rules = [RuleConfig(name=str(i), query=q) for i, q in enumerate(queries)]
    matcher = compile_rules(rules, GROUPS)
    matches = matcher.match(Document(title="Witkoff", text="Kushner and Witkoff"))
    assert [m.rule for m in matches] == ["0", "1", "2"]
    assert all(m.evidence for m in matches)


def test_unknown_group_message_says_where_to_define_it() -> None:
    """An unknown @group tells the user about [terms]."""
    with pytest.raises(QueryError, match=r"unknown group @nope.*\[terms\]"):
        compile_rules([RuleConfig(name="r", query="@nope")], {})


@pytest.mark.parametrize(
    ("query", "title", "text", "expected"),
    [
        ("Witkoff AND Kushner", "", "Witkoff met Kushner", True),
        ("Witkoff AND Kushner", "", "Witkoff met Putin", False),
        ("Witkoff OR Kushner", "", "Kushner only", True),
        ("Witkoff NOT Kushner", "", "Witkoff met Kushner", False),
        ("Witkoff NOT Kushner", "", "Witkoff alone", True),
        ("Witkoff OR Kushner NOT Putin", "", "Kushner met Putin", False),
        ("(Witkoff OR NOT Putin) Kushner", "", "Kushner alone", True),
        ("(Witkoff OR NOT Putin) Kushner", "", "Kushner met Putin", False),
        ("(Witkoff OR Kushner) Putin", "", "Kushner and Putin", True),
        ("Witkoff NEAR/2 Putin", "", "Witkoff will meet Putin", True),
        ("Witkoff NEAR/2 Putin", "", "Putin will meet Witkoff", True),
        ("Witkoff NEAR/1 Putin", "", "Witkoff will soon meet Putin", False),
        ("Witkoff NEAR/0 Putin", "", "Witkoff Putin", True),
        ("Witkoff NEAR/5 Putin", "Witkoff", "Putin", False),  # different fields
        ("title:Witkoff", "Witkoff arrives", "", True),
        ("title:Witkoff", "News", "Witkoff arrives", False),
        ("title:(Witkoff OR Kushner)", "Kushner", "", True),
        ("title:@coalition", "Засідання коаліції рішучих", "", True),
        ("=коаліція", "", "засідання коаліції", False),
        ("=коаліція", "", "Коаліція зібралась", True),
        ("=Witkoff", "", "Віткофф", False),
        ('="коаліція рішучих"', "", "коаліції рішучих", False),
        ("коаліц*", "", "засідання коаліції", True),
        ("коаліц*", "", "коаліція", True),
        ("Віткоф*", "", "Віткоффом", True),
        ("Віткоф*", "", "Вітковський", False),
        ("коаліц*", "", "коала", False),
        ('"коаліц* рішучих"', "", "коаліцією рішучих", True),
    ],
)
def test_operators(query: str, title: str, text: str, expected: bool) -> None:
    """AND, OR, NOT, NEAR/n, title:, exact = and prefix * behave as documented."""
    assert _fires(query, text, title) is expected


def test_rule_names_in_config_order() -> None:
    """``rule_names`` lists every compiled rule in order."""
    rules = [RuleConfig(name=n, query="x") for n in ("b", "a", "c")]
    assert compile_rules(rules, {}).rule_names == ("b", "a", "c")


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("Witkoff NEAR/5 Putin NEAR/10 Kremlin", "Witkoff met Putin in the Kremlin", True),
        (
            "Witkoff NEAR/5 Putin NEAR/1 Kremlin",
            "Witkoff met Putin later that day in the Kremlin",
            False,
        ),
        ("Zelensky", "Зеленська та Зеленський", True),
        ("Zelensky", "President Zelenskyy", True),
        ("Vance", "Венс заявив", True),  # by sound (CMU: V AE1 N S)
        ('Witkoff "and" Kushner', "Witkoff and Kushner", True),  # quoted: the word "and"
        ('Witkoff "and" Kushner', "Witkoff, Kushner", False),
        ("«коаліція рішучих»", "засідання коаліції рішучих", True),  # typographic quotes
        ("«коаліція рішучих»", "рішучих дій коаліції", False),
        ("“coalition of the willing”", "Coalition of the Willing met", True),
    ],
)
def test_documented_examples(query: str, text: str, expected: bool) -> None:
    """Examples promised in docs/rules.md hold."""
    assert _fires(query, text) is expected
