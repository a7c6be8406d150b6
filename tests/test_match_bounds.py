"""Bounded matching: huge groups and flat lists work, deep nesting is a clean QueryError,
no query string raises RecursionError, articles are matched on a bounded prefix, and
one Matcher serves several threads at once (issue 10)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from monitor.errors import QueryError
from monitor.match import (
    MAX_MATCH_CHARS,
    MAX_TITLE_CHARS,
    Matcher,
    bound_document,
    compile_rules,
)
from monitor.match.query import MAX_DEPTH, parse_query
from monitor.records import Document, RuleConfig


def _rule(query: str, terms: dict[str, list[str]] | None = None) -> Matcher:
    return compile_rules([RuleConfig(name="r", query=query)], terms or {})


def _word(i: int) -> str:
    """A distinct lower-case letters-only word per ``i`` (``qbaa``, ``qbab``, ...)."""
    letters = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        letters = chr(97 + r) + letters
    return "q" + letters


def test_group_of_5000_alternatives_matches_its_last_spelling() -> None:
    """A 5,000-entry @group compiles, and an article with only its last entry matches it."""
    terms = {"names": [_word(i) for i in range(5000)]}
    matcher = _rule("@names", terms)
    [match] = matcher.match(Document(title="", text=f"Only {_word(4999)} is here."))
    assert [(e.term, e.surface) for e in match.evidence] == [(_word(4999), _word(4999))]
    assert matcher.match(Document(title="", text="Nobody here.")) == []


def test_title_scoped_group_of_5000_alternatives() -> None:
    """``title:@group`` with thousands of entries matches in the title only."""
    terms = {"names": [_word(i) for i in range(5000)]}
    matcher = _rule("title:@names", terms)
    assert matcher.match(Document(title=f"{_word(4999)} speaks", text=""))
    assert not matcher.match(Document(title="", text=f"{_word(4999)} speaks"))


def test_or_of_20000_terms_and_5000_side_by_side_nots_work() -> None:
    """Long flat lists are legitimate: they compile and match like short ones."""
    ors = _rule(" OR ".join(f"w{i}q" for i in range(20_000)))
    assert ors.match(Document(title="", text="a w19999q b"))
    nots = _rule("anchor " + " ".join(f"NOT n{i}q" for i in range(5000)))
    assert nots.match(Document(title="", text="anchor only"))
    assert not nots.match(Document(title="", text="anchor n4999q"))


def test_group_of_5000_inside_near() -> None:
    """A huge group as a NEAR operand is one merged list of positions."""
    terms = {"names": [_word(i) for i in range(5000)]}
    matcher = _rule("@names NEAR/2 Putin", terms)
    assert matcher.match(Document(title="", text=f"{_word(4999)} met Putin"))
    assert not matcher.match(Document(title="", text=f"{_word(4999)} met with the Putin"))


@pytest.mark.parametrize(
    "query",
    [
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "(" * 10_000 + "a" + ")" * 10_000,
        "x " + "NOT " * 5000 + "a",
        "a NEAR/1 " * (MAX_DEPTH + 2) + "b",
        "x " + "NOT (" * 100 + "a" + ")" * 100,
    ],
    ids=["parens-65", "parens-10000", "not-5000", "near-chain-66", "not-paren-100"],
)
def test_nesting_past_the_limit_is_a_clear_query_error(query: str) -> None:
    """Too deep a query names the limit and says what to do, at config load."""
    with pytest.raises(QueryError, match=rf"nests more than {MAX_DEPTH} levels.*flatten it") as err:
        compile_rules([RuleConfig(name="deep", query=query)], {})
    assert err.value.rule == "deep"


def test_nesting_up_to_the_limit_compiles_and_matches() -> None:
    """64 levels of parentheses, NOT or chained NEAR are still a rule."""
    assert _rule("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH).match(Document(title="", text="a"))
    nots = "x " + "NOT (" * (MAX_DEPTH // 2 - 1) + "a" + ")" * (MAX_DEPTH // 2 - 1)
    assert _rule(nots).match(Document(title="", text="x"))  # 31 NOTs: x without a
    assert not _rule(nots).match(Document(title="", text="x a"))
    chain = "a NEAR/1 " * MAX_DEPTH + "a"
    assert _rule(chain).match(Document(title="", text="a " * (MAX_DEPTH + 1)))


_FUZZ_TOKENS = ["(", ")", "NOT", "AND", "OR", "NEAR/2", "title:", "a", "b", '"a b"', "@g", "cc*"]
_WRAPPERS = [
    "({})",
    "a NOT ({})",
    "NOT NOT {}",
    "{} OR b",
    "a {}",
    "({}) NEAR/2 b",
    "a NEAR/1 {}",
    "title:({})",
    "@g NEAR/3 ({} OR cc*)",
]


def _fuzz_query(rng: random.Random) -> str:
    """A query wrapped in random operators 1-300 times, sometimes with tokens mangled."""
    query = rng.choice(["a", "b", '"a b"', "@g", "cc*"])
    for _ in range(rng.choice([1, 5, 30, 60, 70, 300])):
        query = rng.choice(_WRAPPERS).format(query)
    if rng.random() < 0.3:
        toks = query.split()
        for _ in range(rng.randint(1, 5)):
            toks.insert(rng.randrange(len(toks) + 1), rng.choice(_FUZZ_TOKENS))
        query = " ".join(toks)
    return query


@pytest.mark.parametrize("seed", range(8))
def test_no_query_string_raises_anything_but_query_error(seed: int) -> None:
    """Random deeply nested and mangled queries: parse_query returns or raises
    QueryError, and what parses also compiles, matches and explains (no RecursionError)."""
    rng = random.Random(seed)
    doc = Document(title="a b", text="a b cc ccc a b a")
    groups = {"g": ["a", "b c"]}
    outcomes = set()
    for _ in range(40):
        query = _fuzz_query(rng)
        try:
            parse_query(query, groups, rule="f")
        except QueryError:
            outcomes.add("error")
            continue
        outcomes.add("parsed")
        matcher = compile_rules([RuleConfig(name="f", query=query)], groups)
        matcher.match(doc)
        matcher.explain(doc, "f")
    assert outcomes == {"error", "parsed"}  # the generator exercises both


def test_short_document_is_not_cut() -> None:
    """An article under the bounds is returned as it is."""
    doc = Document(title="Title", text="Some text.")
    assert bound_document(doc) == (doc, False)


def test_long_text_is_cut_between_words() -> None:
    """A long text keeps at most MAX_MATCH_CHARS characters and ends on a whole word."""
    doc = Document(title="t", text="слово " * (MAX_MATCH_CHARS // 3))
    cut, was_cut = bound_document(doc)
    assert was_cut and cut.title == "t"
    assert len(cut.text) <= MAX_MATCH_CHARS
    assert doc.text.startswith(cut.text) and cut.text.endswith(("слово", "слово "))


def test_a_word_across_the_limit_is_dropped_not_shortened() -> None:
    """``Witkoffski`` straddling the limit must not become ``Witkoff`` and match."""
    pad = "x " * ((MAX_MATCH_CHARS - 4) // 2)
    doc = Document(title="", text=pad + "Witkoffski more words")
    assert len(pad) < MAX_MATCH_CHARS < len(pad) + len("Witkoffski")
    cut, was_cut = bound_document(doc)
    assert was_cut and "Witk" not in cut.text
    assert _rule("Witkoff").match(doc) == []


def test_one_giant_word_is_cut_to_nothing() -> None:
    """A text that is one 'word' longer than the bound leaves nothing to match."""
    cut, was_cut = bound_document(Document(title="", text="a" * (MAX_MATCH_CHARS + 10)))
    assert (cut.text, was_cut) == ("", True)


def test_long_title_is_cut_to_its_own_bound() -> None:
    """The title has its own, smaller bound; the text is left alone when short."""
    doc = Document(title="Заголовок " * 1000, text="short")
    cut, was_cut = bound_document(doc)
    assert was_cut and len(cut.title) <= MAX_TITLE_CHARS and cut.text == "short"


def test_match_and_explain_see_only_the_bounded_prefix() -> None:
    """Every caller is bounded: a term past the limit is not found, one before it is."""
    matcher = compile_rules(
        [RuleConfig(name="late", query="Witkoff"), RuleConfig(name="early", query="Kushner")], {}
    )
    doc = Document(title="", text="Kushner " + "x " * MAX_MATCH_CHARS + "Witkoff")
    assert [m.rule for m in matcher.match(doc)] == ["early"]
    report = matcher.explain(doc, "late")
    assert not report.matched and report.terms == (("Witkoff", ()),)


def test_matcher_is_safe_to_share_between_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent match calls on one Matcher give what a separately compiled matcher
    gives sequentially; the shared token cache is kept tiny and the GIL switched often,
    so threads really miss, fill and clear it under each other."""
    import sys

    from monitor.match import index

    rules = [
        RuleConfig(name="near", query="Witkoff NEAR/3 Putin"),
        RuleConfig(name="group", query="@g NOT Zelensky"),
        RuleConfig(name="title", query="title:Kushner OR санкці*"),
    ]
    terms = {"g": ["Witkoff", "Віткофф", "coalition of the willing"]}
    matcher, reference = compile_rules(rules, terms), compile_rules(rules, terms)
    rng = random.Random(7)
    words = ["Witkoff", "Putin", "Віткофф", "Kushner", "санкціями", "Zelensky", "x", "y"]
    docs = [
        Document(title=" ".join(rng.choices(words, k=3)), text=" ".join(rng.choices(words, k=300)))
        for _ in range(40)
    ]
    expected = [reference.match(d) for d in docs]
    monkeypatch.setattr(index, "_CACHE_LIMIT", 5)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(3):
                assert list(pool.map(matcher.match, docs)) == expected
    finally:
        sys.setswitchinterval(interval)


def test_a_near_side_with_hundreds_of_spellings_gives_a_bounded_evidence_list() -> None:
    """``wq*`` near a name, with 300 distinct wq-words beside it: the rule matches, and
    the evidence lists the name and at most MAX_NEAR_EVIDENCE spellings, in text order."""
    from monitor.match.evaluate import MAX_NEAR_EVIDENCE

    text = " ".join(f"Witkoff wq{i}x" for i in range(300))
    matcher = compile_rules([RuleConfig(name="r", query="Witkoff NEAR/1 wq*")], {})
    (match,) = matcher.match(Document(title="", text=text))
    spellings = [e.surface for e in match.evidence if e.surface.startswith("wq")]
    assert spellings == [f"wq{i}x" for i in range(MAX_NEAR_EVIDENCE)]
    assert any(e.surface == "Witkoff" for e in match.evidence)


def test_a_huge_capitalised_word_is_not_analysed_for_one_edit_names() -> None:
    """A 150,000-letter "word" against a name rule: no key that long is one edit from a
    rule's name, so no deletions are built (before: 20,000 letters took 5 s and 2 GB)."""
    import time

    matcher = compile_rules([RuleConfig(name="r", query="Zelensky NEAR/3 Witkoff")], {})
    started = time.process_time()
    found = matcher.match(Document(title="", text="Z" + "x" * 150_000 + " Zelenskyy Witkoff"))
    assert time.process_time() - started < 2.0
    assert [m.rule for m in found] == ["r"]  # the real one-edit spelling still matches


def test_a_wildcard_over_thousands_of_spellings_gives_a_bounded_evidence_list() -> None:
    """``wq*`` over 5,000 different words: the rule matches and shows its first
    MAX_TERM_EVIDENCE spellings in text order (before: all 5,000, with every match)."""
    from monitor.match.evidence import MAX_TERM_EVIDENCE

    matcher = compile_rules([RuleConfig(name="r", query="wq* OR Putin")], {})
    text = " ".join(f"wq{i}x" for i in range(5000))
    (match,) = matcher.match(Document(title="", text=text))
    assert [e.surface for e in match.evidence] == [f"wq{i}x" for i in range(MAX_TERM_EVIDENCE)]


def test_invisible_characters_do_not_make_a_spelling_distinct_in_the_evidence() -> None:
    """``Wit\\u200bkoff`` and ``Witkoff\\u2063`` are the word Witkoff: one entry, not one
    per invisible variant (a feed could list thousands)."""
    matcher = compile_rules([RuleConfig(name="r", query="Witkoff")], {})
    text = "Witkoff Wit\u200bkoff Witkoff\u2063 Wi\u00adtkoff"
    (match,) = matcher.match(Document(title="", text=text))
    assert [e.surface for e in match.evidence] == ["Witkoff"]
