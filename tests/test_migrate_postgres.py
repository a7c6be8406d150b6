"""``monitor db migrate-to``: a SQLite database filled by ``monitor run --once`` (two local
feeds carrying a story of several articles, one HTTP feed with an ETag, one alert sent
and one pending) is copied into a real PostgreSQL server; ``monitor run --once`` on
PostgreSQL then goes on where SQLite left off. Each test gets its own PostgreSQL
database; the SQLite scenario is built once per module and copied."""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from monitor.cli import main
from monitor.cli.ops import EXIT_RETRY
from monitor.store import db
from monitor.store.migrate import MARKER_KEY, TABLES
from monitor.store.schema import AlertRow, ArticleRow, FeedRow
from tests.pg import postgres_url  # noqa: F401  (fixture)
from tests.support import LocalServer, Request, Response
from tests.test_stories_e2e import ENTRIES, rss

PASSWORD = "Pg-s3cret/w#rd@x"  # trust auth ignores it; it must never be shown
ETAG = '"feed-c-v1"'
LAST_MODIFIED = "Tue, 06 Jan 2026 10:00:00 GMT"
FEED_C = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>c</title>
<item><title>Zelensky visits Kharkiv</title><link>https://c.example/kharkiv</link>
<guid>https://c.example/kharkiv</guid><description>Zelensky met troops in Kharkiv.</description>
</item></channel></rss>"""
_names = itertools.count()
T0 = datetime.now(UTC) - timedelta(hours=20)


class Hooks:
    """The json:// receivers: ``/ok`` accepts, ``/down`` answers 500 while ``down``."""

    def __init__(self, server: LocalServer) -> None:
        self.down = True
        self.ok: list[str] = []
        self.late: list[str] = []
        self.feed_c: list[Request] = []
        server.route("/ok", lambda r: self._take(r, self.ok))
        server.route("/down", self._down)
        server.route("/c.xml", self._feed_c)

    def _take(self, req: Request, into: list[str]) -> Response:
        into.append(req.body.decode())
        return Response(200, {}, b"{}")

    def _down(self, req: Request) -> Response:
        return Response(500, {}, b"down") if self.down else self._take(req, self.late)

    def _feed_c(self, req: Request) -> Response:
        self.feed_c.append(req)
        if req.headers.get("if-none-match") == ETAG:
            return Response(304, {"ETag": ETAG})
        headers = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, "Content-Type": "application/xml"}
        return Response(200, headers, FEED_C.encode())


@dataclass
class Scenario:
    folder: Path
    hooks: Hooks
    server: LocalServer

    @property
    def sqlite(self) -> Path:
        return self.folder / "monitor.db"


def write_config(folder: Path, feeds: Path, server: LocalServer, database: str) -> Path:
    """The config in ``folder``; feeds a and b are files in ``feeds`` (their paths are
    the feeds' keys in the database, so every copy of the database reads the same)."""
    config = folder / "config.toml"
    config.write_text(
        f"""
[monitor]
database = "{database}"
timezone = "UTC"

[fetch]
allow_private = true

[channels]
ok = "json://127.0.0.1:{server.port}/ok"
down = "json://127.0.0.1:{server.port}/down"

[[feeds]]
url = "{feeds}/a.xml"
name = "Outlet A"

[[feeds]]
url = "{feeds}/b.xml"
name = "Outlet B"

[[feeds]]
url = "{server.url("/c.xml")}"
name = "Outlet C"

[[rules]]
name = "witkoff"
query = "Witkoff"
channels = ["ok"]

[[rules]]
name = "zelensky"
query = "Zelensky"
channels = ["down"]
""",
        encoding="utf-8",
    )
    return config


def write_feeds(folder: Path, entries: list[tuple[str, int, str, str, str]]) -> None:
    t0 = T0
    for feed in ("a", "b"):
        mine = [e for e in entries if e[0] == feed]
        (folder / f"{feed}.xml").write_text(rss(mine, t0.replace(microsecond=0)), "utf-8")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """The SQLite database after one ``run --once``: 6 alerts sent to ``ok``, one pending
    on ``down`` (due again now), a title holding NUL and a text not valid UTF-8."""
    folder = tmp_path_factory.mktemp("sqlite")
    server = LocalServer().start()
    try:
        hooks = Hooks(server)
        write_feeds(folder, ENTRIES)
        config = write_config(folder, folder, server, f"sqlite:///{folder}/monitor.db")
        assert main(["--config", str(config), "run", "--once"]) == EXIT_RETRY
        assert len(hooks.ok) == 6 and hooks.late == []
        with sqlite3.connect(folder / "monitor.db") as conn:
            # the pending alert's retry is due (as if its backoff had passed)
            conn.execute(
                "UPDATE alerts SET next_attempt_at = '2026-01-01 00:00:00.000000' "
                "WHERE status = 'pending'"
            )
            # what older versions or other tools could leave: NUL, bytes not UTF-8
            conn.execute("UPDATE articles SET title = 'Null' || char(0) || 'title' WHERE id = 2")
            conn.execute("UPDATE articles SET text = CAST(x'ff41' AS TEXT) WHERE id = 3")
        conn.close()
        yield Scenario(folder, hooks, server)
    finally:
        server.stop()


@dataclass
class Moved:
    """A copy of the scenario's SQLite database, its config and an empty PostgreSQL
    database for it."""

    folder: Path
    config: Path
    sqlite: Path
    url: str  # with the password
    written: str  # as given on the command line: ${TEST_PG_PASSWORD}

    def pg_config(self, scenario: Scenario) -> Path:
        return write_config(self.folder, scenario.folder, scenario.server, self.written)

    def engine(self):  # type: ignore[no-untyped-def]
        return create_engine(self.url)


@pytest.fixture
def moved(
    scenario: Scenario,
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Moved]:
    name = f"migrate_{next(_names)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    with sqlite3.connect(scenario.sqlite) as src, sqlite3.connect(tmp_path / "monitor.db") as dst:
        src.backup(dst)
    src.close()
    dst.close()
    url = make_url(postgres_url).set(password=PASSWORD, database=name)
    monkeypatch.setenv("TEST_PG_PASSWORD", PASSWORD)
    written = url.set(password="PASSWORDREF").render_as_string(hide_password=False)
    written = written.replace("PASSWORDREF", "${TEST_PG_PASSWORD}")
    config = write_config(
        tmp_path, scenario.folder, scenario.server, f"sqlite:///{tmp_path}/monitor.db"
    )
    scenario.hooks.ok.clear()
    scenario.hooks.late.clear()
    scenario.hooks.feed_c.clear()
    yield Moved(
        tmp_path,
        config,
        tmp_path / "monitor.db",
        url.render_as_string(hide_password=False),
        written,
    )


def migrate(moved: Moved, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["--config", str(moved.config), "db", "migrate-to", moved.written, *extra])
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and "s3cret" not in out + err
    return code, out + err


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {
            t.name: conn.scalar(
                select(func.count()).select_from(t).where(t.c.key != MARKER_KEY)
                if t.name == "state"
                else select(func.count()).select_from(t)
            )
            for t in TABLES  # the history; workers and leases are runtime state
        }


def test_postgres_goes_on_where_sqlite_left_off(moved: Moved, scenario: Scenario, capsys) -> None:
    code, out = migrate(moved, capsys)

    assert code == 0, out
    for table in ("feeds", "articles", "matches", "sightings", "alerts", "state"):
        assert re.search(rf"^{table} .* ok", out, re.M), out
    assert "all 7 tables match" in out
    assert "1 with NUL -> U+FFFD" in out and "1 not UTF-8 -> U+FFFD" in out
    sqlite_engine = create_engine(f"sqlite:///{moved.sqlite}")
    pg = moved.engine()
    before = counts(sqlite_engine)
    assert counts(pg) == before
    with sqlite_engine.connect() as conn:  # the run --once left its worker row behind
        assert conn.scalar(text("SELECT count(*) FROM workers")) >= 1
    with pg.connect() as conn:  # which is this database's past, not PostgreSQL's
        assert conn.scalar(text("SELECT count(*) FROM workers")) == 0
        assert conn.scalar(text("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL")) == 0
    with pg.connect() as conn:
        assert conn.scalar(select(ArticleRow.title).where(ArticleRow.id == 2)) == "Null\ufffdtitle"
        story_sizes = (
            conn.execute(select(func.count()).select_from(ArticleRow).group_by(ArticleRow.story_id))
            .scalars()
            .all()
        )
        assert max(story_sizes) >= 2  # a story of several articles, its ids kept
    with sqlite_engine.connect() as s, pg.connect() as p:
        feed_cols = (
            FeedRow.url,
            FeedRow.etag,
            FeedRow.last_modified,
            FeedRow.next_check_at,
            FeedRow.body_hash,
        )
        assert (
            s.execute(select(*feed_cols).order_by(FeedRow.id)).all()
            == p.execute(select(*feed_cols).order_by(FeedRow.id)).all()
        )
        assert p.scalar(select(FeedRow.etag).where(FeedRow.etag.is_not(None))) == ETAG
        statuses = p.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status)).all()
        assert dict(statuses) == {"sent": 6, "pending": 1}

    # on PostgreSQL, with one new entry in feed a: only it is new (its id past the old ones)
    new = (
        "a",
        19,
        "https://a.example/vienna",
        "Witkoff lands in Vienna",
        "Steve Witkoff arrived in Vienna on Sunday for talks with European ministers.",
    )
    write_feeds(scenario.folder, [*ENTRIES, new])
    scenario.hooks.down = False
    config = moved.pg_config(scenario)
    try:
        code = main(["--config", str(config), "run", "--once"])
    finally:
        write_feeds(scenario.folder, ENTRIES)
        scenario.hooks.down = True
    out, err = capsys.readouterr()

    assert code == 0, err
    assert PASSWORD not in out + err
    assert len(scenario.hooks.ok) == 1 and "Vienna" in scenario.hooks.ok[0]  # nothing re-sent
    assert len(scenario.hooks.late) == 1 and "Kharkiv" in scenario.hooks.late[0]  # pending: once
    assert scenario.hooks.feed_c[-1].headers.get("if-none-match") == ETAG
    after = counts(pg)
    assert after["articles"] == before["articles"] + 1
    with pg.connect() as conn:
        newest = conn.scalar(select(func.max(ArticleRow.id)))
        assert newest == conn.scalar(select(ArticleRow.id).where(ArticleRow.title.like("%Vienna")))
        assert dict(
            conn.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status)).all()
        ) == {"sent": 8}
    pg.dispose()
    sqlite_engine.dispose()


def test_a_second_run_copies_nothing(moved: Moved, capsys) -> None:
    assert migrate(moved, capsys)[0] == 0
    pg = moved.engine()
    first = counts(pg)

    code, out = migrate(moved, capsys)

    assert code == 0, out
    assert "nothing new to copy" in out and "earlier" in out
    assert counts(pg) == first
    pg.dispose()


def test_an_interrupted_run_is_completed_by_the_next(moved: Moved, capsys) -> None:
    engine = db.make_engine(moved.url)
    db.upgrade(engine)
    with engine.begin() as conn:  # the copy of alerts fails: the run stops there
        conn.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; "
                "END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON alerts "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
    code, out = migrate(moved, capsys)
    assert code == 1 and "table alerts: cannot copy" in out and "disk on fire" in out, out
    assert counts(engine)["alerts"] == 0 and counts(engine)["articles"] > 0
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse ON alerts"))

    code, out = migrate(moved, capsys)

    assert code == 0, out
    assert re.search(r"^articles .* earlier  ok", out, re.M), out
    assert re.search(r"^alerts +7 +7 +7  ok", out, re.M), out
    engine.dispose()


def test_a_target_holding_other_data_is_refused_and_left_alone(moved: Moved, capsys) -> None:
    engine = db.make_engine(moved.url)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feeds (url, active, failures, polls, created_at) "
                "VALUES ('https://other.example/rss', 1, 0, 0, now())"
            )
        )

    code, out = migrate(moved, capsys)

    assert code == 2, out
    assert "refused" in out and "holds data of its own (feeds 1 rows)" in out
    assert counts(engine) == {**{t.name: 0 for t in TABLES}, "feeds": 1}
    engine.dispose()


def test_a_changed_sqlite_database_is_not_merged_into_an_earlier_copy(moved: Moved, capsys) -> None:
    assert migrate(moved, capsys)[0] == 0
    with sqlite3.connect(moved.sqlite) as conn:  # the daemon ran on SQLite again since
        conn.execute("UPDATE alerts SET status = 'sent' WHERE status = 'pending'")
    conn.close()

    code, out = migrate(moved, capsys)

    assert code == 2 and "table alerts was copied by an earlier" in out, out


def test_a_running_daemon_is_refused(moved: Moved, capsys) -> None:
    with db.acquire_database_lock(f"sqlite:///{moved.sqlite}"):
        code, out = migrate(moved, capsys)
    assert code == 2 and "pid " in out and "holds this database" in out, out
    assert "stop it first" in out


def test_dry_run_says_what_it_would_copy_and_writes_nothing(moved: Moved, capsys) -> None:
    code, out = migrate(moved, capsys, "--dry-run")

    assert code == 0, out
    assert out.startswith("dry run (nothing written)")
    assert re.search(r"^alerts +7 +0 +7$", out, re.M), out
    with moved.engine().connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")) == 0


def test_an_unset_variable_and_a_non_postgresql_url_are_refused(moved: Moved, capsys) -> None:
    code = main(
        [
            "--config",
            str(moved.config),
            "db",
            "migrate-to",
            "postgresql+psycopg://pm:${NOT_SET_ANYWHERE}@127.0.0.1/x",
        ]
    )
    assert code == 2 and "${NOT_SET_ANYWHERE} is not set" in capsys.readouterr().err
    code = main(
        ["--config", str(moved.config), "db", "migrate-to", f"sqlite:///{moved.folder}/x.db"]
    )
    assert code == 2 and "not a PostgreSQL URL" in capsys.readouterr().err


def test_values_postgresql_cannot_hold_are_made_to_fit_and_counted(moved: Moved, capsys) -> None:
    """SQLite holds strings longer than their VARCHAR column, NUL inside JSON and rows of
    megabytes; the copy cuts (keeping two long values apart), replaces and carries them."""
    huge = "Witkoff " * 1_000_000  # 8 MB of text in one article
    with sqlite3.connect(moved.sqlite) as conn:
        conn.execute("UPDATE feeds SET title = ? WHERE id = 1", ("T" * 3000,))
        conn.execute("UPDATE articles SET guid = ? WHERE id = 4", ("g" * 3000 + "1",))
        conn.execute("UPDATE articles SET guid = ? WHERE id = 5", ("g" * 3000 + "2",))
        conn.execute("UPDATE articles SET text = ? WHERE id = 6", (huge,))
        conn.execute(
            "UPDATE articles SET title_history = ? WHERE id = 7",
            ('[{"title": "old\\u0000one", "until": "2026-01-06T10:00:00+00:00"}]',),
        )
    conn.close()

    code, out = migrate(moved, capsys)

    assert code == 0, out
    assert re.search(r"^feeds .* ok  \(1 cut to fit their column\)", out, re.M), out
    assert "2 with NUL -> U+FFFD; 2 cut to fit their column" in out  # the title and the JSON
    with moved.engine().connect() as conn:
        title = conn.scalar(select(FeedRow.title).where(FeedRow.id == 1))
        assert len(title) == 512 and re.fullmatch(r"T+~[0-9a-f]{16}", title)
        guids = conn.execute(select(ArticleRow.guid).where(ArticleRow.id.in_([4, 5]))).scalars()
        assert len(set(guids)) == 2
        assert conn.scalar(select(ArticleRow.text).where(ArticleRow.id == 6)) == huge
        history = conn.scalar(select(ArticleRow.title_history).where(ArticleRow.id == 7))
        assert history[0]["title"] == "old\ufffdone"
        assert conn.scalar(select(ArticleRow.title_history).where(ArticleRow.id == 8)) is None
        assert conn.scalar(text("SELECT count(*) FROM articles WHERE title_history IS NULL")) > 0
