"""``monitor stories`` and the STORY column of ``monitor alerts`` through the CLI, on a
real migrated SQLite file filled with the store's ORM rows (story ids set here: the
clusterer is not what is under test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from monitor.cli import main
from monitor.cli.output import char_width, fit
from monitor.records import Article, FeedConfig, Match, RuleConfig
from monitor.store import articles, feeds
from monitor.store.db import make_engine, make_session_factory, session_scope, upgrade
from monitor.store.schema import AlertRow, ArticleRow, FeedRow, MatchRow, SightingRow
from monitor.store.story_views import StoryTag, alert_stories, recent_stories
from tests.pg import postgres_url  # noqa: F401  (fixture)
from tests.support import cli_env
from tests.test_cli_pipes import CLOSED_PIPE, run_into_closed_pipe

NOW = datetime.now(UTC)  # the CLI's window is counted back from the real clock


@dataclass
class Desk:
    """A config file on a migrated database, and a way to add rows to it."""

    config: Path
    db: Path

    @contextmanager
    def add(self) -> Iterator[Session]:
        """A session on the database; commits when the ``with`` block ends."""
        engine = make_engine(f"sqlite:///{self.db}")
        try:
            with session_scope(make_session_factory(engine)) as session:
                yield session
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, empty database per test session (migrating takes half a second)."""
    path = tmp_path_factory.mktemp("stories") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def desk(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    db = tmp_path / "monitor.db"
    shutil.copy(template, db)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[monitor]
database = "sqlite:///{db}"
timezone = "Europe/Kyiv"

[channels]
screen = "console://"

[[rules]]
name = "witkoff"
query = 'Witkoff'
channels = ["screen"]

[[rules]]
name = "energy"
query = 'energy'
channels = ["screen"]
""",
        encoding="utf-8",
    )
    monkeypatch.delenv("COLUMNS", raising=False)
    return Desk(config, db)


def feed(s: Session, url: str, name: str | None = None, title: str | None = None) -> FeedRow:
    row = FeedRow(url=url, name=name, title=title, created_at=NOW - timedelta(days=30))
    s.add(row)
    s.flush()
    return row


def article(
    s: Session,
    outlet: FeedRow,
    guid: str,
    *,
    title: str,
    language: str | None,
    age: timedelta,
    story: ArticleRow | None = None,
    reason: str = "same_story",
    history: list[dict[str, str]] | None = None,
) -> ArticleRow:
    """An article as the store keeps it, with its first sighting; ``story``: the story's
    first article (None: it starts one)."""
    seen = NOW - age
    row = ArticleRow(
        feed_id=outlet.id,
        guid=guid,
        link=f"https://news.example/{guid}",
        canonical_link=f"https://news.example/{guid}",
        title=title,
        text="text",
        language=language,
        first_seen_at=seen,
        story_reason="new" if story is None else reason,
        story_score=100 if story is None else 83,
        title_history=history,
    )
    s.add(row)
    s.flush()
    row.story_id = row.id if story is None else story.id
    s.add(SightingRow(article_id=row.id, feed_id=outlet.id, seen_at=seen))
    s.flush()
    return row


def match(s: Session, art: ArticleRow, rule: str, *, alert: bool) -> None:
    row = MatchRow(rule=rule, article_id=art.id, evidence=[], created_at=art.first_seen_at)
    s.add(row)
    s.flush()
    if alert:
        s.add(
            AlertRow(
                match_id=row.id,
                rule=rule,
                article_id=art.id,
                channel="screen",
                status="sent",
                created_at=art.first_seen_at + timedelta(minutes=1),
            )
        )


@pytest.fixture
def witkoff(desk: Desk) -> dict[str, int]:
    """A story of 3 articles in 2 outlets and 2 languages (witkoff alerted on its first,
    energy matched its last), and a story of one article."""
    with desk.add() as s:
        up = feed(s, "https://pravda.example/rss", name="Ukrainska Pravda")
        wire = feed(s, "https://wire.example/rss", title="Wire")
        first = article(s, up, "a1", title="Віткофф зустрівся з Умєровим", language="uk",
                        age=timedelta(hours=5))  # fmt: skip
        article(s, up, "a2", title="Віткофф і Умєров: деталі", language="uk",
                age=timedelta(hours=4), story=first, reason="near_duplicate")  # fmt: skip
        last = article(s, wire, "a3", title="Witkoff meets Umerov in Miami", language="en",
                       age=timedelta(hours=3), story=first,
                       history=[{"title": "Witkoff to meet Umerov",
                                 "until": (NOW - timedelta(hours=2)).isoformat()}])  # fmt: skip
        single = article(s, wire, "b1", title="Grid repairs after the storm", language="en",
                         age=timedelta(hours=1))  # fmt: skip
        match(s, first, "witkoff", alert=True)
        match(s, last, "witkoff", alert=False)  # a later article of an alerted story
        match(s, last, "energy", alert=False)
        return {"story": first.id, "single": single.id}


def stories(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(desk.config), "stories", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def heads(out: str) -> list[str]:
    """The head line of each story listed."""
    return [line for line in out.splitlines() if line.startswith("#")]


def test_three_articles_in_two_outlets_and_two_languages_are_one_story(desk, witkoff, capsys):
    code, out, _ = stories(desk, capsys)

    assert code == 0
    story, single = witkoff["story"], witkoff["single"]
    assert [h.split()[0] for h in heads(out)] == [f"#{single}", f"#{story}"]  # newest first
    head = heads(out)[1]
    assert "3 articles · 2 outlets · uk, en · first seen" in head
    assert "outlets: Ukrainska Pravda, Wire" in out
    assert "1 article · 1 outlet · en" in heads(out)[0]
    assert "near_duplicate (83)" in out and "same_story (83)" in out
    assert "Witkoff meets Umerov in Miami" in out and "https://news.example/a3" in out
    assert "rules: witkoff alerted" in out and "energy matched, no alert" in out
    assert ": Witkoff to meet Umerov" in out  # the headline before the edit
    assert all(len(line) <= 80 for line in out.splitlines())


def test_since_leaves_out_stories_seen_only_before_the_window(desk, capsys):
    with desk.add() as s:
        wire = feed(s, "https://wire.example/rss", title="Wire")
        old = article(s, wire, "old", title="Last week's talks", language="en",
                      age=timedelta(days=3))  # fmt: skip
        revived = article(s, wire, "r1", title="Talks resume", language="en",
                          age=timedelta(days=3, hours=1))  # fmt: skip
        article(s, wire, "r2", title="Talks resume today", language="en",
                age=timedelta(hours=2), story=revived)  # fmt: skip
        old_id, revived_id = old.id, revived.id

    _, day, _ = stories(desk, capsys)
    _, week, _ = stories(desk, capsys, "--since", "4d")

    assert [h.split()[0] for h in heads(day)] == [f"#{revived_id}"]
    assert "2 articles" in heads(day)[0] and "    Talks resume\n" in day  # the whole story
    assert "Last week's talks" not in day
    assert {h.split()[0] for h in heads(week)} == {f"#{revived_id}", f"#{old_id}"}
    code, none, _ = stories(desk, capsys, "--since", "1h")
    assert code == 0 and none.startswith("no stories since ")


def test_rule_keeps_only_the_stories_it_matched(desk, witkoff, capsys):
    _, out, _ = stories(desk, capsys, "--rule", "witkoff")

    assert [h.split()[0] for h in heads(out)] == [f"#{witkoff['story']}"]
    code, none, _ = stories(desk, capsys, "--rule", "witkoff", "--since", "2h")
    assert code == 0 and "no stories since" in none and "rule witkoff" in none


def test_an_unknown_rule_is_a_usage_error_that_names_the_closest(desk, witkoff, capsys):
    code, out, err = stories(desk, capsys, "--rule", "witkof")

    assert code == 2 and out == ""
    assert "unknown rule 'witkof'; did you mean 'witkoff'?" in err
    assert "rules: witkoff, energy" in err


def test_json_has_the_documented_shape_with_offsets_and_links(desk, witkoff, capsys):
    code, out, _ = stories(desk, capsys, "--json")

    data = json.loads(out)
    assert code == 0 and data["rule"] is None
    story = next(s for s in data["stories"] if s["id"] == witkoff["story"])
    assert (story["article_count"], story["outlet_count"]) == (3, 2)
    assert story["outlets"] == ["Ukrainska Pravda", "Wire"] and story["languages"] == ["uk", "en"]
    assert [(r["rule"], r["alerted"]) for r in story["rules"]] == [
        ("witkoff", True),
        ("energy", False),
    ]
    first, _, last = story["articles"]
    assert first["reason"] == "new" and last["reason"] == "same_story" and last["score"] == 83
    assert last["link"] == "https://news.example/a3"
    assert last["title_history"][0]["title"] == "Witkoff to meet Umerov"
    for at in (story["first_seen"], first["first_seen"], last["title_history"][0]["until"]):
        assert datetime.fromisoformat(at).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(story["first_seen"]) == datetime.fromisoformat(
        first["first_seen"]
    )


HOSTILE = "\u202eRLO\u2066 Breaking\n\nnews\x1b[31m red " + "Дуже довгий заголовок " * 500


def test_a_hostile_title_stays_on_one_line_and_is_cut_to_the_width(desk, capsys, monkeypatch):
    with desk.add() as s:
        wire = feed(s, "https://wire.example/rss", title="Wire\nnews\u202e")
        article(s, wire, "h", title=HOSTILE, language="uk", age=timedelta(minutes=5))
    assert len(HOSTILE) > 10_000

    _, out, _ = stories(desk, capsys)
    monkeypatch.setenv("COLUMNS", "120")
    _, wide, _ = stories(desk, capsys)

    lines = out.splitlines()
    assert len(lines) == 5  # head, outlets, facts, title, link: the title is one line
    title = lines[3]
    assert title.startswith("    RLO Breaking news[31m red Дуже") and title.endswith("…")
    assert "Wire news" in lines[1]
    for shown in (out, wide):
        assert not any(c in shown for c in "\u202e\u2066\x1b")
    assert 75 < sum(map(char_width, title)) <= 80
    assert max(sum(map(char_width, line)) for line in lines) <= 80
    assert 115 < max(sum(map(char_width, line)) for line in wide.splitlines()) <= 120
    data = json.loads(stories(desk, capsys, "--json")[1])
    assert data["stories"][0]["articles"][0]["title"].endswith("Дуже довгий заголовок")


def test_wide_characters_count_two_columns(desk, capsys):
    with desk.add() as s:
        wire = feed(s, "https://wire.example/rss", title="Wire")
        article(s, wire, "cjk", title="東京" * 100, language=None, age=timedelta(minutes=5))

    _, out, _ = stories(desk, capsys)

    title = out.splitlines()[3]
    assert title.endswith("…") and sum(map(char_width, title)) <= 80
    assert "language unknown" in out.splitlines()[0]


@pytest.mark.parametrize(
    ("text", "width", "shown"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven chars", 10, "eleven ch…"),
        ("Віткофф у Маямі", 10, "Віткофф у…"),
        ("東京東京東京", 7, "東京東…"),  # 2 columns each: 6 + the ellipsis
        ("e\u0301" * 12, 10, "e\u0301" * 9 + "…"),  # a combining accent takes no column
        ("a" + "\u0301" * 1000, 10, "a" + "\u0301" * 38 + "…"),  # 40 characters at most
    ],
)
def test_fit_cuts_by_terminal_columns(text: str, width: int, shown: str) -> None:
    assert fit(text, width) == shown


def test_an_article_without_a_story_yet_is_a_story_of_its_own(desk, capsys):
    with desk.add() as s:
        wire = feed(s, "https://wire.example/rss", title="Wire")
        row = article(s, wire, "n", title="Before the clusterer", language="en",
                      age=timedelta(minutes=5))  # fmt: skip
        row.story_id = row.story_reason = row.story_score = None
        aid = row.id

    _, out, _ = stories(desk, capsys)

    assert heads(out) and heads(out)[0].startswith(f"#{aid}  1 article · 1 outlet")
    assert out.splitlines()[2].endswith("  Wire  en  -")  # no reason: "-"


def test_limit_keeps_the_most_recent_and_says_so(desk, witkoff, capsys):
    _, out, _ = stories(desk, capsys, "--limit", "1")

    assert [h.split()[0] for h in heads(out)] == [f"#{witkoff['single']}"]
    assert out.rstrip().endswith("(the 1 most recent; --limit N for more)")


def test_stories_never_creates_a_database(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path}/none.db"\n', encoding="utf-8")

    code = main(["--config", str(config), "stories"])

    assert code == 1 and "database" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_alerts_show_the_story_and_its_outlets(desk, witkoff, capsys):
    code = main(["--config", str(desk.config), "alerts", "--wide"])
    out = capsys.readouterr().out

    assert code == 0
    header, line = out.splitlines()[:2]
    assert "STORY" in header and header.index("STORY") < header.index("TITLE")
    assert f"#{witkoff['story']} 2 outlets" in line
    assert line.index(f"#{witkoff['story']}") == header.index("STORY")


def test_a_second_feed_carrying_the_same_link_is_one_more_outlet(desk, capsys):
    with desk.add() as s:
        wire, echo = (
            feed(s, "https://wire.example/rss", title="Wire"),
            feed(s, "https://echo.example/rss", title="Echo"),
        )
        row = article(s, wire, "w", title="Witkoff in Miami", language="en",
                      age=timedelta(hours=1))  # fmt: skip
        s.add(SightingRow(article_id=row.id, feed_id=echo.id, seen_at=NOW))  # the same link
        match(s, row, "witkoff", alert=True)

    _, out, _ = stories(desk, capsys)
    main(["--config", str(desk.config), "alerts", "--wide"])

    assert "1 article · 2 outlets" in heads(out)[0] and "outlets: Wire, Echo" in out
    assert f"#{row.id} 2 outlets" in capsys.readouterr().out


@pytest.fixture
def many(desk: Desk) -> Iterator[Desk]:
    """300 stories: more output than a pipe buffer holds."""
    with desk.add() as s:
        wire = feed(s, "https://wire.example/rss", title="Wire")
        for i in range(300):
            article(s, wire, f"m{i}", title=f"Story number {i} " * 3, language="en",
                    age=timedelta(minutes=i + 1))  # fmt: skip
    yield desk


def test_stories_in_a_pipe_to_head_ends_quietly(many):
    done = subprocess.run(
        f"{sys.executable} -m monitor --config {many.config} stories --limit 500 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    code, err = run_into_closed_pipe(many.config, "stories")

    assert done.stdout.startswith("#") and done.stdout.count("\n") == 1
    assert "1 article · 1 outlet" in done.stdout
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert noise not in done.stderr + err
    assert code == CLOSED_PIPE, err


def test_story_views_run_on_postgresql(postgres_url: str) -> None:  # noqa: F811
    """The same queries on a real PostgreSQL server (a coalesced key grouped, ordered and
    compared with a subquery), the articles stored through the store's own functions."""
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as s:
        feeds.sync_feeds(
            s, [FeedConfig("https://a.example/rss"), FeedConfig("https://b.example/rss")], NOW
        )
        a, b = feeds.feed_states(s)
    first = Article(
        a.url, "g1", "https://a.example/1", "https://a.example/1", "Віткофф", "т", NOW, NOW
    )
    second = Article(
        b.url, "g2", "https://b.example/2", "https://b.example/2", "Witkoff", "t", NOW, NOW
    )
    with session_scope(factory) as s:
        [one] = articles.insert_new_articles(s, a, [first], now=NOW, backlog_s=86400)
        [two] = articles.insert_new_articles(s, b, [second], now=NOW, backlog_s=86400)
        rule = RuleConfig("r", "Witkoff", ("desk",))
        articles.record_matches(s, one, [Match("r", ())], {"r": rule}, NOW)
        s.get(ArticleRow, two.id).story_id = one.id  # type: ignore[union-attr]
        s.get(ArticleRow, one.id).story_id = one.id  # type: ignore[union-attr]
    with session_scope(factory) as s:
        [story] = recent_stories(s, NOW - timedelta(hours=1), rule="r")
        alert_id = s.scalar(select(AlertRow.id))
        tags = alert_stories(s, [alert_id])
    engine.dispose()
    assert (story.id, len(story.articles), len(story.outlets)) == (one.id, 2, 2)
    assert story.rules[0].rule == "r" and story.rules[0].alerted_at == NOW
    assert tags == {alert_id: StoryTag(one.id, 2)}
