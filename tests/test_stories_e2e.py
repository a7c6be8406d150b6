"""One story, one alert, end to end: two local feeds carrying 10 entries of 6 stories (a
wire copy with a footer, an AMP pair, a uk/ru pair, a republication with straight
instead of curly quotes, two single articles) through ``monitor run --once`` to a
json:// channel on a real HTTP server: 6 messages, not 10."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.cli import main
from monitor.store import db
from monitor.store.schema import AlertRow, ArticleRow, MatchRow
from tests.support import LocalServer, accept_json

EN = (
    "US envoy Steve Witkoff met Russian President Vladimir Putin in Moscow on Tuesday, "
    "the Kremlin said, as talks on the 28-point peace plan went on for five hours. "
    "Jared Kushner and Kirill Dmitriev also took part, Yuri Ushakov told reporters."
)
ABU = (
    "Steve Witkoff will travel to Abu Dhabi for a trilateral round with Ukrainian and "
    "Russian negotiators, the White House said on Thursday; Rustem Umerov leads Kyiv's team, "
    "and the talks are expected to focus on a ceasefire along the front line."
)
UK = (
    "Радник та спецпосланець президента Дональда Трампа Стів Віткофф після зустрічі "
    '"коаліції рішучих" у Парижі заявив, що 7 січня американська делегація продовжить '
    "переговори із українською делегацією. Про це він написав у соцмережі Х. Віткофф "
    "заявив, що американська делегація 6 січня зустрілася з Еммануелем Макроном."
)
RU = (
    "Советник и спецпосланник президента Дональда Трампа Стив Уиткофф после встречи "
    '"коалиции решительных" в Париже заявил, что 7 января американская делегация продолжит '
    "переговоры с украинской делегацией. Об этом он написал в соцсети Х. Уиткофф "
    "заявил, что американская делегация 6 января встретилась с Эммануэлем Макроном."
)
MIAMI = (
    "Witkoff’s team hosted Ukraine’s delegation in Miami on Saturday: “We made real "
    "progress,” Witkoff’s spokesman said after Rustem Umerov and Andriy Hnatov spent "
    "six hours on the security guarantees annex — the third such meeting in Florida."
)
SENATE = (
    "Special envoy Steve Witkoff will brief the Senate Foreign Relations Committee "
    "behind closed doors next week on sanctions relief, senators Jim Risch and Jeanne "
    "Shaheen said, amid questions over Congress's role in any deal."
)
FINLAND = (
    "Witkoff praised Finland's mediation offer in an interview with Helsingin Sanomat, "
    "saying Alexander Stubb had been 'a steady voice' as Nordic leaders met in Oslo "
    "to coordinate air-defence deliveries worth 400 million euros."
)
STRAIGHT = MIAMI.replace("’", "'").replace("“", '"').replace("”", '"')
FOOTER = "\n\nSubscribe to our Telegram channel for the latest news."

# (feed, hours after T0, link, title, text): 10 entries, 6 stories
ENTRIES = [
    ("a", 0, "https://a.example/moscow", "Witkoff meets Putin in Moscow", EN),
    ("a", 5, "https://a.example/abu-dhabi", "Witkoff heads to Abu Dhabi for new round", ABU),
    (
        "a",
        8,
        "https://a.example/uk/paris",
        "Віткофф після зустрічі «коаліції рішучих» у Парижі",
        UK,
    ),
    (
        "a",
        10,
        "https://a.example/miami",
        "Witkoff’s team hosts Ukraine’s delegation in Miami",
        MIAMI,
    ),
    ("a", 12, "https://a.example/senate", "Witkoff to brief senators on sanctions relief", SENATE),
    ("a", 14, "https://a.example/finland", "Witkoff praises Finland’s mediation", FINLAND),
    ("b", 1, "https://wire.example/moscow", "Witkoff meets Putin in Moscow | Wire", EN + FOOTER),
    ("b", 6, "https://m.a.example/abu-dhabi/amp/", "Witkoff heads to Abu Dhabi for new round", ABU),
    (
        "b",
        9,
        "https://b.example/ru/paris",
        "Уиткофф после встречи «коалиции решительных» в Париже",
        RU,
    ),
    (
        "b",
        11,
        "https://b.example/miami",
        "Witkoff's team hosts Ukraine's delegation in Miami",
        STRAIGHT,
    ),
]


def rss(entries: list[tuple[str, int, str, str, str]], t0: datetime) -> str:
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid>"
        f"<pubDate>{format_datetime(t0 + timedelta(hours=h))}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for _feed, h, link, title, text in entries
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>f</title>{items}</channel></rss>'


@pytest.fixture
def hook(http_server: LocalServer) -> list[dict[str, str]]:
    return accept_json(http_server)


def write_config(tmp_path: Path, http_server: LocalServer, entries=ENTRIES) -> Path:  # type: ignore[no-untyped-def]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
    for feed in ("a", "b"):
        mine = [e for e in entries if e[0] == feed]
        (tmp_path / f"{feed}.xml").write_text(rss(mine, t0), encoding="utf-8")
    hook_url = http_server.url("/hook").removeprefix("http://")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[monitor]
timezone = "UTC"

[channels]
hook = "json://{hook_url}"

[[feeds]]
url = "a.xml"
name = "Outlet A"

[[feeds]]
url = "b.xml"
name = "Outlet B"

[[rules]]
name = "witkoff"
query = "Witkoff"
channels = ["hook"]
""",
        encoding="utf-8",
    )
    return config


def test_ten_articles_of_six_stories_are_six_alerts(tmp_path, http_server, hook, capsys) -> None:
    config = write_config(tmp_path, http_server)

    code = main(["--config", str(config), "run", "--once"])

    err = capsys.readouterr().err
    assert code == 0, err
    titles = sorted(m["title"] for m in hook)
    assert len(hook) == 6, titles  # one per story
    # each story alerted by whichever of its articles was stored first (the two feeds
    # are polled concurrently): of each pair (a's article, b's copy) exactly one title
    for a, b in zip(ENTRIES[:4], ENTRIES[6:], strict=True):
        if a[3] != b[3]:
            assert (f"[witkoff] {a[3]}" in titles) != (f"[witkoff] {b[3]}" in titles), titles
    assert "[witkoff] Witkoff to brief senators on sanctions relief" in titles
    engine = db.make_engine(f"sqlite:///{tmp_path}/data/monitor.db")
    factory = db.make_session_factory(engine)
    with factory() as s:
        articles = s.query(ArticleRow).order_by(ArticleRow.id).all()
        # the AMP edition is the same article (one canonical link): 9 stored
        assert len(articles) == 9
        stories = {a.story_id for a in articles}
        assert len(stories) == 6
        reasons = sorted(a.story_reason for a in articles if a.story_id != a.id)
        assert reasons == ["near_duplicate", "near_duplicate", "same_story"]
        # no feed names its language: each article's is guessed from its letters, so
        # stories can name the languages of their outlets
        assert {a.language for a in articles} == {"uk", "ru", "en"}
        # a story's first article says so (monitor stories showed "-  -" for it)
        assert {(a.story_reason, a.story_score) for a in articles if a.story_id == a.id} == {
            ("new", 100)
        }
        # every article's match is recorded; only the first of each story alerted
        assert s.query(MatchRow).count() == 9
        assert s.query(AlertRow).count() == 6


def test_a_second_run_adds_later_outlets_to_the_stories_and_alerts_nobody(
    tmp_path, http_server, hook, capsys
) -> None:
    """The clusterer of a new process is restored from the database: an article of an
    alerted story arriving in a later run joins it, silently."""
    config = write_config(tmp_path, http_server, [e for e in ENTRIES if e[0] == "a"])
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert len(hook) == 6
    write_config(tmp_path, http_server)  # feed b now carries the copies

    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    assert len(hook) == 6  # nothing new: every b article belongs to an alerted story


pytest_plugins = ["tests.test_delivery_support"]  # the telegram stand-in


def telegram_config(tmp_path: Path, http_server: LocalServer, tg_url: str, entries) -> Path:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, http_server, entries)
    text = config.read_text(encoding="utf-8").replace(
        "[channels]\n", f'[channels]\ntg = {{ url = "{tg_url}", story_updates = "reply" }}\n'
    )
    config.write_text(text.replace('channels = ["hook"]', 'channels = ["tg"]'), "utf-8")
    return config


def test_later_outlets_answer_the_first_alert_on_telegram(
    tmp_path, http_server, telegram, capsys
) -> None:
    """story_updates = "reply": an outlet joining an alerted story is a reply to that
    story's alert in the chat, not a new alert."""
    config = telegram_config(
        tmp_path, http_server, telegram.url(), [e for e in ENTRIES if e[0] == "a"]
    )
    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err
    first = telegram.payloads()
    assert len(first) == 6 and not any("reply_parameters" in p for p in first)
    ids = {p["text"].split("\n")[0]: 101 + i for i, p in enumerate(first)}  # the stub's ids

    telegram_config(tmp_path, http_server, telegram.url(), ENTRIES)
    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    replies = telegram.payloads()[6:]
    # the wire copy, the ru edition, the straight-quote republication (the AMP edition is
    # the same article as a's: a sighting, no message)
    assert len(replies) == 3, [r["text"] for r in replies]
    for reply in replies:
        assert reply["text"].startswith("<b>Also reported by:</b>\n• Outlet B · ")
        answered = reply["reply_parameters"]["message_id"]
        assert answered in ids.values()
    headlines = {r["reply_parameters"]["message_id"] for r in replies}
    assert len(headlines) == 3  # each answers its own story's alert


def test_reply_needs_a_telegram_channel(tmp_path, http_server, capsys) -> None:
    config = write_config(tmp_path, http_server)
    text = config.read_text(encoding="utf-8").replace(
        'hook = "json://', 'hook = { story_updates = "reply", url = "json://'
    )
    text = text.replace('/hook"\n', '/hook" }\n', 1)
    config.write_text(text, encoding="utf-8")

    code = main(["--config", str(config), "check-config"])

    err = capsys.readouterr().err
    assert code == 2
    assert "channels.hook.story_updates" in err and '"reply" needs a Telegram channel' in err


def test_a_page_naming_its_canonical_link_is_the_article_another_feed_links(
    tmp_path, http_server, hook, capsys
) -> None:
    """A full_text feed links a short URL; its page names the canonical one (rel=
    canonical), which a second feed links: one article, one alert. A page naming an
    article of another site as its canonical one is not believed."""
    story = "/2026/02/17/witkoff-moscow"
    body = f"<p>{EN}</p>" * 3
    page = (
        f'<html><head><link rel="canonical" href="{http_server.url(story)}">'
        f"<title>Witkoff meets Putin</title></head><body><article>{body}</article></body></html>"
    ).encode()
    liar = page.replace(http_server.url(story).encode(), b"https://elsewhere.example/x")
    http_server.static("/short/1", page, {"Content-Type": "text/html"})
    http_server.static("/short/2", liar, {"Content-Type": "text/html"})

    def rss(*items: tuple[str, str]) -> bytes:
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
            + "".join(
                f"<item><title>{t}</title><link>{http_server.url(path)}</link>"
                f"<guid>{path}</guid><description>Witkoff and Putin.</description></item>"
                for t, path in items
            )
            + "</channel></rss>"
        ).encode()

    short = http_server.static(
        "/short.xml",
        rss(("Witkoff meets Putin", "/short/1"), ("Witkoff and the elsewhere page", "/short/2")),
        {"Content-Type": "application/rss+xml"},
    )
    full = http_server.static(
        "/full.xml", rss(("Witkoff meets Putin", story)), {"Content-Type": "application/rss+xml"}
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[channels]
hook = "json://{http_server.url("/hook").removeprefix("http://")}"

[[feeds]]
url = "{short}"
full_text = true

[[feeds]]
url = "{full}"

[[rules]]
name = "witkoff"
query = "Witkoff"
channels = ["hook"]
""",
        encoding="utf-8",
    )

    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    factory = db.make_session_factory(db.make_engine(f"sqlite:///{tmp_path}/data/monitor.db"))
    with factory() as s:
        links = sorted(a.canonical_link for a in s.query(ArticleRow))
    assert links == [http_server.url(story), http_server.url("/short/2")]
    assert len(hook) == 2


def test_a_stored_article_the_clusterer_fails_on_does_not_stop_the_next_run(
    tmp_path, http_server, hook, capsys, monkeypatch
) -> None:
    """Restoring the window after a restart: an article that makes the clusterer raise is
    left out of the window; the run goes on and the others are stored and alerted."""
    from monitor.stories.cluster import StoryClusterer

    config = write_config(tmp_path, http_server, [e for e in ENTRIES if e[0] == "a"])
    assert main(["--config", str(config), "run", "--once"]) == 0
    real = StoryClusterer.restore

    def restore(self, doc, story_id):  # type: ignore[no-untyped-def]
        if doc.id == 1:
            raise RecursionError("a stored article the clusterer cannot take")
        return real(self, doc, story_id)

    monkeypatch.setattr(StoryClusterer, "restore", restore)
    write_config(tmp_path, http_server)

    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err
    # article 1's story was left out of the window: its wire copy starts a story and
    # alerts; the other copies join their stories silently
    assert len(hook) == 7


def test_one_feed_naming_the_same_people_in_every_entry_is_not_one_story(
    tmp_path, http_server, hook, capsys
) -> None:
    """A feed whose entries all carry the same list of names (a hostile feed, or an
    outlet's template) keeps its entries apart: each alerts. Its copies still join."""
    names = "Witkoff Putin Zelensky Umerov Kushner Dmitriev Macron Starmer Merz Rutte"
    topics = {
        "harvest festival": "Farmers brought pumpkins, apples and honey to the square; "
        "the mayor opened the fair and children rode a small carousel until dark.",
        "museum reopening": "After four years of repairs the gallery shows its icons again, "
        "with a new glass roof, a cafe and free entry for students on Sundays.",
        "airport strike": "Baggage handlers walked out at dawn over pay; forty flights were "
        "cancelled and queues reached the car park before the union agreed to talks.",
        "river floods": "Heavy rain swelled the river past its banks; boats carried families "
        "from flooded streets while volunteers stacked sandbags along the embankment.",
    }
    entries = [
        ("a", i, f"https://a.example/{i}", f"{names}: {topic}", f"{names} {names}. {body}")
        for i, (topic, body) in enumerate(topics.items())
    ]
    config = write_config(tmp_path, http_server, entries)

    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    assert len(hook) == len(topics)


def test_a_copy_keeping_an_old_original_date_joins_its_story(
    tmp_path, http_server, hook, capsys
) -> None:
    """Syndicators keep the original's date: a copy dated a week ago, arriving now beside
    the original, is the original's story (the window counts from when we saw them)."""
    config = write_config(tmp_path, http_server, [])
    assert main(["--config", str(config), "run", "--once"]) == 0  # a first poll: no backlog
    week_old = -7 * 24 + 20  # hours after the test's T0 (20 h ago): 7 days ago
    entries = [
        ("a", week_old, "https://a.example/moscow", "Witkoff meets Putin in Moscow", EN),
        (
            "b",
            week_old,
            "https://wire.example/moscow",
            "Witkoff meets Putin in Moscow | Wire",
            EN + FOOTER,
        ),
    ]
    write_config(tmp_path, http_server, entries)

    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    assert len(hook) == 1


def test_min_sources_alerts_when_the_second_outlet_carries_the_story(
    tmp_path, http_server, hook, capsys
) -> None:
    """min_sources = 2: held while one outlet has the story, sent in the very run the
    second one (another language) joins it, naming that outlet and its language only."""
    uk = [e for e in ENTRIES if e[2] == "https://a.example/uk/paris"]
    ru = [e for e in ENTRIES if e[2] == "https://b.example/ru/paris"]
    config = write_config(tmp_path, http_server, uk)
    config.write_text(config.read_text(encoding="utf-8") + "min_sources = 2\n", "utf-8")
    text = config.read_text(encoding="utf-8").replace(
        'url = "b.xml"\nname = "Outlet B"', 'url = "b.xml"\nname = "Outlet B"\nlanguage = "ru"'
    )
    config.write_text(
        text.replace(
            'url = "a.xml"\nname = "Outlet A"', 'url = "a.xml"\nname = "Outlet A"\nlanguage = "uk"'
        ),
        "utf-8",
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert hook == [] and "1 held for later" in capsys.readouterr().err

    write_config(tmp_path, http_server, uk + ru)
    config.write_text(
        text.replace(
            'url = "a.xml"\nname = "Outlet A"', 'url = "a.xml"\nname = "Outlet A"\nlanguage = "uk"'
        ),
        "utf-8",
    )
    assert main(["--config", str(config), "run", "--once"]) == 0, capsys.readouterr().err

    [message] = hook
    assert message["title"].startswith("[witkoff] Віткофф")
    assert "Outlet A · " in message["message"]
    assert "also reported by 1 outlet (ru)" in message["message"]


def test_stories_limit_takes_one_or_more(tmp_path, http_server, capsys) -> None:
    config = write_config(tmp_path, http_server, [])
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config), "stories", "--limit", "0"])
    assert exit_.value.code == 2
    assert "expected a whole number of 1 or more, not '0'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["stories", "alerts"])
def test_a_limit_past_any_integer_the_database_takes_lists_everything(
    tmp_path, http_server, hook, capsys, command
) -> None:
    """`--limit 9223372036854775808` (2**63) crashed `alerts` and `stories` with an
    OverflowError traceback binding it into SQL (review): it means "all"."""
    config = write_config(tmp_path, http_server)
    assert main(["--config", str(config), "run", "--once"]) == 0
    capsys.readouterr()
    huge = str(2**63)
    assert main(["--config", str(config), command, "--limit", huge, "--json"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "OverflowError" not in out.err
    assert json.loads(out.out)


def test_commands_that_never_deliver_read_a_config_whose_channel_secret_is_unset(
    tmp_path, http_server, hook, capsys, monkeypatch
) -> None:
    """A colleague searching the history has no Telegram token (review): `stories`,
    `alerts`, `search` and the backtest run with a channel's ${VAR} unset; `run` and
    `check-config` still stop on it, naming the variable."""
    config = write_config(tmp_path, http_server)
    assert main(["--config", str(config), "run", "--once"]) == 0
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("/hook", "/hook?token=${HOOK_TOKEN}"), encoding="utf-8")
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    capsys.readouterr()
    for command in (
        ["stories"],
        ["alerts"],
        ["search", "Witkoff"],
        ["test-rule", "--since", "7d", "--query", "Witkoff"],
    ):
        assert main(["--config", str(config), *command]) == 0, (command, capsys.readouterr().err)
    capsys.readouterr()
    for command in (["check-config"], ["run", "--once"]):
        assert main(["--config", str(config), *command]) == 2, command
        assert "${HOOK_TOKEN} is not set" in capsys.readouterr().err


def test_reading_commands_work_on_a_database_this_process_cannot_write(
    tmp_path, http_server, hook, capsys, monkeypatch
) -> None:
    """An analyst reading the service's database directory (not writable for them):
    `search` and `alerts` failed with 'database error: … mounted read-only' (review).
    The suite runs as root, where chmod stops nothing: os.access is made to say the file
    and its folder are not writable, and the file is opened read-only (mode=ro) — a write
    through that engine fails."""
    import os as _os

    from monitor.store import db as store_db

    config = write_config(tmp_path, http_server)
    assert main(["--config", str(config), "run", "--once"]) == 0
    database = tmp_path / "data" / "monitor.db"
    import sqlite3

    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # its WAL folded into the file
    real_access = _os.access
    monkeypatch.setattr(
        store_db.os, "access", lambda p, mode: False if mode == _os.W_OK else real_access(p, mode)
    )
    before = database.read_bytes()
    capsys.readouterr()
    assert main(["--config", str(config), "search", "Witkoff", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["results"], found
    assert main(["--config", str(config), "alerts"]) == 0
    assert database.read_bytes() == before
    engine = store_db.make_engine(
        f"sqlite:///{database}", create=False, read_only_if_unwritable=True
    )
    with pytest.raises(Exception, match="readonly|read-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM alerts")


def test_an_unwritable_database_no_daemon_has_open_is_read_immutable(tmp_path, monkeypatch) -> None:
    """No -shm beside it (no process has it open): opened with immutable=1, which needs
    no -shm file in a folder this process cannot write."""
    import os as _os
    import sqlite3

    from sqlalchemy import text

    from monitor.store import db as store_db

    database = tmp_path / "m.db"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (7)")
        conn.commit()
    real_access = _os.access
    monkeypatch.setattr(
        store_db.os, "access", lambda p, mode: False if mode == _os.W_OK else real_access(p, mode)
    )
    engine = store_db.make_engine(
        f"sqlite:///{database}", create=False, read_only_if_unwritable=True
    )
    assert "immutable=1" in str(engine.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.db"]
