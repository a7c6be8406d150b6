"""``monitor test-rule --since``: a backtest over the stored articles, end to end on a
database filled by ``run --once`` from local uk/ru/en feeds; and the proof that the
key prefilter never loses an article the matcher would match."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.match import compile_rules
from monitor.match.prefilter import KeyMaker, query_expression
from monitor.records import Document, RuleConfig
from monitor.store import db
from monitor.store.history import Entry, KeyIndex
from monitor.store.schema import AlertRow, ArticleRow, MatchRow
from tests.history_support import filled_database

TERMS = {"coalition": ["coalition of the willing", "коаліція рішучих", "коалиция решительных"]}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_database(tmp_path_factory.mktemp("backtest"))


def monitor(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str]:
    code = main(["--config", str(config), *argv])
    return code, capsys.readouterr().out


def stored(config: Path) -> list[ArticleRow]:
    factory = db.make_session_factory(db.make_engine(f"sqlite:///{config.parent}/monitor.db"))
    with factory() as s:
        return list(s.query(ArticleRow).order_by(ArticleRow.id))


def test_a_new_rule_lists_exactly_the_stored_articles_it_matches(config, capsys) -> None:
    """The backtest's articles are those the matcher itself matches among all stored
    rows (the judge), each with its evidence; alerts per day count stories."""
    query = "Witkoff NOT Putin"
    code, out = monitor(capsys, config, "test-rule", "--query", query, "--since", "7d", "--json")

    doc = json.loads(out)
    judge = compile_rules([RuleConfig(name="query", query=query)], TERMS)
    rows = stored(config)
    expected = {
        r.id for r in rows if judge.match(Document(title=r.title, text=r.text, language=r.language))
    }
    assert code == 0 and {a["article_id"] for a in doc["articles"]} == expected
    assert {a["link"] for a in doc["articles"]} == {
        "https://uk.example/paris",
        "https://ru.example/paris",
        "https://en.example/finland",
    }
    for article in doc["articles"]:
        assert article["evidence"] and all(e["term"] == "Witkoff" for e in article["evidence"])
    stories = {r.story_id for r in rows if r.id in expected}
    assert sum(d["alerts"] for d in doc["per_day"]) == len(stories)
    assert sum(d["matches"] for d in doc["per_day"]) == 3


def test_the_report_shows_evidence_labels_and_alerts_per_day(config, capsys) -> None:
    code, out = monitor(capsys, config, "test-rule", "--query", "Witkoff", "--since", "7d")

    assert code == 0
    assert "backtest of query: nothing is sent, nothing is stored" in out
    assert "'Witkoff' <- 'Уиткофф' in title (across scripts)" in out
    assert "'Witkoff' <- 'Witkoff' in title (exact)" in out
    assert "DAY" in out and "MATCHES" in out and "ALERTS" in out
    assert "stored history reaches back to" in out


def test_a_configured_rule_is_backtested_by_name(config, capsys) -> None:
    code, out = monitor(capsys, config, "test-rule", "--rule", "putin", "--since", "7d", "--csv")
    assert code == 0 and "https://en.example/moscow" in out and "paris" not in out
    code, _ = monitor(capsys, config, "test-rule", "--rule", "nobody", "--since", "7d")
    assert code == 2


def test_a_backtest_sends_nothing_and_changes_nothing(config, capsys) -> None:
    database = config.parent / "monitor.db"
    rows = stored(config)
    factory = db.make_session_factory(db.make_engine(f"sqlite:///{database}"))
    with factory() as s:
        before = (s.query(MatchRow).count(), s.query(AlertRow).count())
    digest = hashlib.sha256(database.read_bytes()).hexdigest()

    code, out = monitor(capsys, config, "test-rule", "--query", "Віткофф", "--since", "30d")

    assert code == 0 and "[query]" not in out  # the console channel printed nothing
    with factory() as s:
        assert (s.query(MatchRow).count(), s.query(AlertRow).count()) == before
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert len(stored(config)) == len(rows)


def test_nothing_in_the_window_exits_1(config, capsys) -> None:
    code, out = monitor(capsys, config, "test-rule", "--query", "Zelensky", "--since", "1h")
    assert code == 1 and "0 matching articles" in out


def test_pruned_articles_are_gone_from_backtest_and_search(tmp_path, capsys) -> None:
    config = filled_database(tmp_path, extra="")
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nretention = "30d"\nkeep_matched = false',
    )
    config.write_text(text, encoding="utf-8")
    database = db.make_engine(f"sqlite:///{tmp_path}/monitor.db")
    with db.make_session_factory(database).begin() as s:
        old = s.query(ArticleRow).filter(ArticleRow.link == "https://en.example/finland").one()
        old.first_seen_at = old.first_seen_at.replace(year=old.first_seen_at.year - 1)
    assert main(["--config", str(config), "db", "prune"]) == 0
    capsys.readouterr()

    code, out = monitor(capsys, config, "test-rule", "--query", "Witkoff", "--since", "400d")

    assert code == 0 and "finland" not in out and "https://en.example/moscow" in out
    assert "(retention 30d)" in out


def test_the_index_forgets_pruned_articles(tmp_path, capsys) -> None:
    """Retention deletes articles: the next search drops their documents from the key
    index (its file would otherwise grow with every article ever stored)."""
    import sqlite3

    config = filled_database(tmp_path)
    assert main(["--config", str(config), "search", "Witkoff"]) == 0
    index = tmp_path / "monitor.db-history"
    with sqlite3.connect(index) as con:
        assert con.execute("SELECT count(*) FROM docs").fetchone()[0] == 8
    engine = db.make_engine(f"sqlite:///{tmp_path}/monitor.db")
    with db.make_session_factory(engine).begin() as s:
        s.query(ArticleRow).filter(ArticleRow.link == "https://en.example/markets").delete()
    capsys.readouterr()

    assert main(["--config", str(config), "search", "Witkoff"]) == 0

    with sqlite3.connect(index) as con:
        assert con.execute("SELECT count(*) FROM docs").fetchone()[0] == 7


# -- the prefilter never loses a match ------------------------------------------------------

TRICKY = [
    ("Wit\u2063koff in Paris", ""),  # an invisible separator inside the name
    ("Вiткофф у Парижі", ""),  # a Latin i among Cyrillic letters
    ("Ｗｉｔｋｏｆｆ", "fullwidth letters"),
    ("The Witkoffs arrived", "plural"),
    ("Witkoff's team", "possessive"),
    ("Уиткоффом", "instrumental"),
    ("Зеленського", "Zelensky across scripts"),
    ("Zelenskyy", "another spelling"),
    ("Zelenskiy said", "one edit"),
    ("нові санкції проти", "a prefix"),
    ("EU sanctions Russia", "an English prefix"),
    ("Mohammed bin Salman", "a particle"),
    ("Мохаммед бін Салман", "a particle across scripts"),
    ("м’ясо", "curly apostrophe"),
    ("Київ і Києві", "a place and its forms"),
    ("Kyiv and Kiev", "a place"),
    ("коаліції рішучих", "a phrase's form"),
    ("x" * 5000 + " Witkoff", "a huge token before the name"),
    ("Witkoff" + "a" * 60, "a long token"),
    ("Trump met Трамп", "sound"),
    ("Лавровим", "Lavrov's case form"),
]
QUERIES = [
    "Witkoff",
    "Віткофф",
    "Zelensky",
    "Зеленський",
    "санкці*",
    "sanction*",
    '"bin Salman"',
    "Kyiv",
    "Київ",
    "Trump",
    "Lavrov",
    "=м'ясо",
    "Witkoff AND @coalition",
    '@coalition NOT "coalition of the willing"',
    "Witkoffaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]


def _corpus() -> list[tuple[str, str]]:
    docs = [(title, text) for title, text in TRICKY]
    docs += [(text, "") for _, text in TRICKY if text]
    from tests import history_support as h

    docs += [(e[3], e[4]) for e in h.ENTRIES]
    return docs


@pytest.mark.parametrize("query", QUERIES)
def test_the_key_index_finds_every_article_the_matcher_matches(tmp_path, query) -> None:
    """For each query, the articles the stored index offers are a superset of the
    articles the matcher matches: the prefilter skips, it never decides."""
    matcher = compile_rules([RuleConfig(name="q", query=query)], TERMS)
    docs = _corpus()
    expression = query_expression(matcher)
    assert isinstance(expression, str)
    maker = KeyMaker()
    entries = {i: Entry(i, "t", None) for i in range(1, len(docs) + 1)}
    with KeyIndex(tmp_path / "index", "test") as index:
        index.add(((i, *docs[i - 1], "t", None) for i in entries), maker.document_keys)
        offered = index.candidates(expression)
    matched = {
        i for i in entries if matcher.match(Document(title=docs[i - 1][0], text=docs[i - 1][1]))
    }
    assert matched <= offered, [docs[i - 1][0][:40] for i in matched - offered]
    assert matched, "a query of this table that matches nothing proves nothing"


def test_every_rule_backtest_counts_each_story_once(tmp_path, capsys) -> None:
    """Two rules matching the same story ('putin' and 'witkoff' both match Moscow): the
    summary counts stories, not the sum of each rule's."""
    config = filled_database(
        tmp_path, extra='\n[[rules]]\nname = "witkoff"\nquery = "Witkoff"\nchannels = ["console"]\n'
    )
    capsys.readouterr()  # what run --once printed
    code, out = monitor(capsys, config, "test-rule", "--since", "7d", "--json")
    doc = json.loads(out)
    stories = {a["story_id"] for a in doc["articles"]}
    code, out = monitor(capsys, config, "test-rule", "--since", "7d")
    assert code == 0
    summary = next(line for line in out.splitlines() if "matching article" in line)
    assert summary.startswith(f"{doc['matched']} matching articles in {len(stories)} stories")


def test_the_summary_line_is_never_cut(config, capsys, monkeypatch) -> None:
    """At 40 columns the notice 'prefilter off: <why>' is printed whole."""
    import monitor.cli.scan as scan_module
    from monitor.match.prefilter import ALWAYS

    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr(scan_module, "query_expression", lambda matcher: ALWAYS)
    _, out = monitor(capsys, config, "test-rule", "--query", "Witkoff", "--since", "7d")
    assert "read whole, prefilter off: the query would not narrow the articles" in out
    code = main(["--config", str(config), "search", "Witkoff"])
    assert code == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.endswith("prefilter off: the query would not narrow the articles"), last
