"""``monitor feeds``: status table from a real SQLite database, discover, import-opml."""

from __future__ import annotations

import argparse
import json
import os
import socket
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import feeds as feeds_cli
from monitor.cli import main
from monitor.config import Config
from monitor.match import compile_rules
from monitor.records import FeedConfig, FetchSettings, MonitorSettings
from monitor.store import db
from monitor.store.schema import ArticleRow, FeedRow

NOW = datetime.now(UTC)
RSS = b'<rss version="2.0"><channel><title>T</title><item><guid>1</guid></item></channel></rss>'


class Ctx:
    """What handlers use from the lead's Context, on a real SQLite file."""

    def __init__(self, config: Config, config_path: str) -> None:
        self._config = config
        self.config_path = config_path
        self.environ = dict(os.environ)  # import-opml loads the edited config with it
        self.engine = db.make_engine(config.monitor.database)
        db.upgrade(self.engine)

    def config(self) -> Config:
        return self._config

    def session_factory(self):
        return db.make_session_factory(self.engine)


def make_config(tmp_path, feeds) -> Config:
    monitor = MonitorSettings(
        database=f"sqlite:///{tmp_path}/monitor.db", feed_broken_after_s=12 * 3600
    )
    return Config(
        path=str(tmp_path / "config.toml"),
        monitor=monitor,
        fetch=FetchSettings(),
        channels={},
        terms={},
        feeds=tuple(feeds),
        rules=(),
        matcher=compile_rules((), {}),
    )


def run(ctx, *argv) -> int:
    parser = argparse.ArgumentParser(prog="monitor")
    feeds_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args, ctx)


@pytest.fixture
def ctx(tmp_path):
    config = make_config(
        tmp_path,
        [
            FeedConfig(url="https://ok.example/rss", name="Healthy"),
            FeedConfig(url="https://slow.example/rss", name="Slow"),
            FeedConfig(url="https://gone.example/rss?token=abcdef1234567890XYZ"),
            FeedConfig(url="https://fresh.example/rss", name="Fresh"),
        ],
    )
    ctx = Ctx(config, config.path)
    # fmt: off
    with ctx.session_factory()() as s:
        ok = FeedRow(url="https://ok.example/rss", name="Healthy", active=1, failures=0, polls=9,
                     created_at=NOW - timedelta(days=10), last_success_at=NOW - timedelta(hours=1),
                     next_check_at=NOW + timedelta(minutes=5))
        slow = FeedRow(url="https://slow.example/rss", name="Slow", active=1, failures=2, polls=1,
                       created_at=NOW - timedelta(days=2), error_kind="timeout",
                       error_message="slow.example gave no complete response", error_since=NOW - timedelta(hours=1))
        gone = FeedRow(url="https://gone.example/rss?token=abcdef1234567890XYZ", title="Gone Daily",
                       active=1, failures=9, polls=0, created_at=NOW - timedelta(days=3),
                       error_kind="http_status", error_message="answered HTTP 404: the feed moved",
                       error_since=NOW - timedelta(days=2))
        old = FeedRow(url="https://removed.example/rss", name="Old", active=0, failures=0, polls=3,
                      created_at=NOW - timedelta(days=30))
        s.add_all([ok, slow, gone, old])
        s.flush()
        for i in range(17):  # 14 this week (2/day), 3 older
            seen = NOW - timedelta(days=8 + i) if i >= 14 else NOW - timedelta(hours=10 * i)
            s.add(ArticleRow(feed_id=ok.id, guid=f"g{i}", title="t", text="x", first_seen_at=seen))
        s.add(ArticleRow(feed_id=slow.id, guid="s1", title="t", text="x", first_seen_at=NOW))
        s.commit()
    # fmt: on
    return ctx


def test_feeds_json_reports_status_errors_counts_and_rates(ctx, capsys):
    assert run(ctx, "feeds", "--json") == 0
    views = {v["url"]: v for v in json.loads(capsys.readouterr().out)}
    ok = views["https://ok.example/rss"]
    assert (ok["status"], ok["articles"], ok["new_per_day"], ok["failures"]) == ("ok", 17, 2.0, 0)
    assert ok["error_kind"] is None and ok["last_success"] and ok["next_check"]
    slow = views["https://slow.example/rss"]
    assert (slow["status"], slow["error_kind"], slow["articles"], slow["new_per_day"]) == (
        "failing",
        "timeout",
        1,
        0.5,
    )
    gone = [v for u, v in views.items() if u.startswith("https://gone.example")][0]
    assert (gone["status"], gone["name"], gone["error_kind"]) == (
        "broken",
        "Gone Daily",
        "http_status",
    )
    assert "abcdef1234567890XYZ" not in json.dumps(list(views))  # secrets masked
    assert views["https://fresh.example/rss"]["status"] == "new"
    assert "https://removed.example/rss" not in views


def test_feeds_table_lists_every_column(ctx, capsys):
    assert run(ctx, "feeds", "--wide") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "NAME",
        "URL",
        "STATUS",
        "LAST",
        "SUCCESS",
        "NEXT",
        "CHECK",
        "FAILS",
        "ARTICLES",
        "NEW/DAY",
        "LAST",
        "ERROR",
    ]
    healthy = next(line for line in out if line.startswith("Healthy"))
    assert " ok " in healthy and " 17 " in healthy and " 2 " in healthy
    broken = next(line for line in out if "gone.example" in line)
    assert "broken" in broken and "http_status: answered HTTP 404" in broken
    assert "abcdef1234567890XYZ" not in "\n".join(out)


def test_feeds_all_includes_removed_feeds(ctx, capsys):
    run(ctx, "feeds", "list", "--all", "--json")
    views = {v["url"]: v for v in json.loads(capsys.readouterr().out)}
    assert views["https://removed.example/rss"]["status"] == "removed"


def test_discover_prints_the_feeds_a_page_announces(ctx, http_server, capsys):
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b'<link rel="alternate" type="application/atom+xml" href="atom.xml"></head></html>'
    )
    url = http_server.static("/news/", page, {"Content-Type": "text/html"})
    assert run(ctx, "feeds", "discover", "--urls", url) == 0
    assert capsys.readouterr().out.split() == [
        http_server.url("/rss.xml"),
        http_server.url("/news/atom.xml"),
    ]


def test_discover_of_a_feed_url_prints_it_and_of_a_bare_page_fails(ctx, http_server, capsys):
    feed = http_server.static("/feed", RSS, {"Content-Type": "application/rss+xml"})
    assert run(ctx, "feeds", "discover", "--urls", feed) == 0
    assert capsys.readouterr().out.strip() == feed
    bare = http_server.static(
        "/bare", b"<html><body>hi</body></html>", {"Content-Type": "text/html"}
    )
    assert run(ctx, "feeds", "discover", bare) == 1
    assert "announces no RSS/Atom feed" in capsys.readouterr().err


def test_import_opml_appends_to_the_config_by_default(ctx, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(
        '[monitor]\ndatabase = "sqlite://"\n\n[[feeds]]\nurl = "https://a.example/rss"\n'
    )
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/rss"/>'
        '<outline text="B" xmlUrl="https://b.example/rss"/></body></opml>'
    )
    assert run(ctx, "feeds", "import-opml", str(opml)) == 0
    assert "imported 1 feeds" in capsys.readouterr().out
    assert config.read_text().endswith('[[feeds]]\nurl = "https://b.example/rss"\nname = "B"\n')
    other = tmp_path / "other.toml"  # both feeds are in the config now: nothing to write
    assert run(ctx, "feeds", "import-opml", str(opml), "--to", str(other)) == 0
    assert "imported 0 feeds" in capsys.readouterr().out and not other.exists()
    third = tmp_path / "third.toml"
    opml.write_text('<opml><body><outline xmlUrl="https://c.example/rss"/></body></opml>')
    assert run(ctx, "feeds", "import-opml", str(opml), "--to", str(third)) == 0
    assert third.read_text().count("[[feeds]]") == 1


def test_discover_falls_back_to_feed_looking_links_that_really_are_feeds(ctx, http_server, capsys):
    page = b'<html><body><a href="/feed/">RSS</a> <a href="/rss.xml">old</a> <a href="/about">?</a></body></html>'
    url = http_server.static("/", page, {"Content-Type": "text/html"})
    http_server.static("/feed/", RSS, {"Content-Type": "application/rss+xml"})
    http_server.static("/rss.xml", b"<html>gone</html>", {"Content-Type": "text/html"})
    assert run(ctx, "feeds", "discover", "--urls", url) == 0
    assert capsys.readouterr().out.split() == [http_server.url("/feed/")]
    assert http_server.hits("/about") == []


def test_feeds_table_shows_times_in_the_config_timezone_with_its_name(ctx, capsys):
    """Like ``alerts`` and ``status``: local time plus the zone label, never bare UTC."""
    kyiv = replace(ctx._config, monitor=replace(ctx._config.monitor, timezone="Europe/Kyiv"))
    ctx._config = kyiv
    assert run(ctx, "feeds", "--wide") == 0
    healthy = next(line for line in capsys.readouterr().out.splitlines() if "Healthy" in line)
    with db.make_session_factory(ctx.engine)() as s:
        row = s.query(FeedRow).filter_by(url="https://ok.example/rss").one()
        last, next_ = row.last_success_at, row.next_check_at
    local = ZoneInfo("Europe/Kyiv")
    for t in (last, next_):
        shown = t.astimezone(local)
        assert f"{shown:%Y-%m-%d %H:%M} {shown.tzname()}" in healthy
    assert shown.tzname() in ("EET", "EEST")


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {}, "server problem; try again later"),
        (429, {"Retry-After": "120"}, "the site limits requests; try again in 120 s"),
    ],
)
def test_discover_failure_speaks_to_a_person_not_about_the_daemon(
    ctx, http_server, capsys, status, headers, expected
):
    url = http_server.static("/page", b"busy", headers, status=status)
    assert run(ctx, "feeds", "discover", url) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot fetch the page: ")
    assert expected in err
    assert "we retry" not in err and "backoff" not in err and "interval" not in err


def test_discover_of_an_unreachable_host_says_try_again(ctx, capsys):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert run(ctx, "feeds", "discover", f"http://127.0.0.1:{port}/") == 1
    err = capsys.readouterr().err
    assert "could not talk to 127.0.0.1" in err and "try again later" in err
    assert "we retry" not in err


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "http:///x", "mailto:a@example.com"])
def test_discover_of_a_non_http_url_is_a_usage_error(ctx, capsys, url):
    assert run(ctx, "feeds", "discover", url) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err


# -- through the real CLI: `monitor feeds discover` prints tables to paste ---------------


def test_discover_prints_feeds_tables_with_the_titles_ready_to_paste(http_server, capsys):
    """Before: bare URLs, one a line, no title."""
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" title="World \x1b[31mnews"'
        b' href="/rss.xml"><link rel="alternate" type="application/atom+xml" href="atom.xml">'
        b"</head></html>"
    )
    url = http_server.static("/news/", page, {"Content-Type": "text/html"})
    assert main(["feeds", "discover", url]) == 0
    captured = capsys.readouterr()
    assert tomllib.loads(captured.out) == {
        "feeds": [
            {"url": http_server.url("/rss.xml"), "name": "World [31mnews"},
            {"url": http_server.url("/news/atom.xml")},
        ]
    }
    assert captured.out.startswith("[[feeds]]\n")
    assert "paste these 2 tables into the config" in captured.err


def test_discover_names_a_fetched_feed_by_its_own_title(http_server, capsys):
    rss = b'<rss version="2.0"><channel><title>Daily &amp; Co</title><item><guid>1</guid></item></channel></rss>'
    feed = http_server.static("/feed", rss, {"Content-Type": "application/rss+xml"})
    assert main(["feeds", "discover", feed]) == 0
    assert capsys.readouterr().out == f'[[feeds]]\nurl = "{feed}"\nname = "Daily & Co"\n'
    page = b'<html><body><a href="/feed">RSS</a></body></html>'
    home = http_server.static("/", page, {"Content-Type": "text/html"})
    assert main(["feeds", "discover", home]) == 0  # an <a> link checked by fetching it
    assert tomllib.loads(capsys.readouterr().out)["feeds"] == [{"url": feed, "name": "Daily & Co"}]


def test_discover_accepts_a_url_without_a_scheme_and_says_it_uses_https(capsys):
    """Before: `example.com` was refused as not an http(s) URL (exit 2)."""
    with socket.socket() as sock:  # a port nobody listens on: the https attempt fails fast
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["feeds", "discover", f"127.0.0.1:{port}/news"]) == 1
    err = capsys.readouterr().err
    assert f"note: no scheme given: trying https://127.0.0.1:{port}/news" in err
    assert "is not an http(s) URL" not in err and "could not talk to 127.0.0.1" in err


def test_a_404_does_not_advise_the_command_being_run(http_server, capsys):
    """Before: `feeds discover URL` answering 404 said `(monitor feeds discover SITE)`."""
    url = http_server.static("/old/feed.xml", b"gone", {}, status=404)
    assert main(["feeds", "discover", url]) == 1
    err = capsys.readouterr().err
    assert "discover SITE" not in err and f"discover {url}" not in err
    assert f"the site's home page: monitor feeds discover {http_server.url('/')}\n" in err
    home = http_server.static("/", b"gone", {}, status=404)
    assert main(["feeds", "discover", home]) == 1
    err = capsys.readouterr().err
    assert "check the address in a browser" in err and "monitor feeds discover" not in err
