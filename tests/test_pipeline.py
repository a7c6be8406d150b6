"""End to end: config -> fetch (real HTTP on 127.0.0.1) -> store (SQLite file) -> match ->
outbox -> delivery through real apprise to a real json:// receiver and a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.errors import FetchError
from monitor.parse.feed import parse_feed
from monitor.pipeline import Runtime, poll_cycle
from monitor.records import ParsedFeed
from monitor.store import db
from monitor.store.schema import AlertRow, ArticleRow, FeedRow
from tests.support import ROOT, LocalServer, Response, cli_env

SEED_FEED = (ROOT / "seeds" / "seed_feed.xml").read_bytes()
SEED_LINK = "https://www.eurointegration.com.ua/news/2026/01/7/seed-witkoff-coalition/"


def rss(*items: tuple[str, str, str]) -> bytes:
    """A small RSS 2.0 document from (guid, link, title) items."""
    body = "".join(
        f"<item><guid>{g}</guid><link>{link}</link><title>{t}</title>"
        f"<description>{t}</description></item>"
        for g, link, t in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"{body}</channel></rss>"
    ).encode()


def make_config(
    tmp_path: Path,
    server: LocalServer,
    feeds: list[str],
    *,
    extra_rules: str = "",
    channels: str | None = None,
    fetch: str = "",
) -> Path:
    hook = server.url("/hook")
    channels = channels or f'hook = "json://{hook.removeprefix("http://")}"'
    feed_tables = "".join(f'\n[[feeds]]\nurl = "{u}"\nbacklog = "3650d"\n' for u in feeds)
    text = f"""
[monitor]
database = "sqlite:///{tmp_path}/monitor.db"
timezone = "Europe/Kyiv"
tick = "1s"

[fetch]
timeout = "3s"
connect_timeout = "2s"
{fetch}

[channels]
{channels}

[terms]
coalition = ["coalition of the willing", "коаліція рішучих", "коалиция желающих"]
{feed_tables}
[[rules]]
name = "witkoff-coalition"
query = 'Witkoff AND @coalition'
channels = ["hook"]

[[rules]]
name = "silent"
query = '"Boris Johnson" AND yacht'
channels = ["hook"]
{extra_rules}
"""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def received(server: LocalServer) -> list[dict]:
    return [json.loads(r.body) for r in server.hits("/hook")]


@pytest.fixture
def hook_ok(http_server: LocalServer) -> LocalServer:
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    return http_server


def test_seed_article_alerts_once_across_repolls_and_feeds(
    tmp_path: Path, hook_ok: LocalServer
) -> None:
    """The seed fires the rule once; a re-poll and the same link with ?utm_source from
    another feed do not alert again; the non-matching rule stays silent."""
    server = hook_ok
    a = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    b = server.static(
        "/b.xml",
        rss(("other-guid", SEED_LINK + "?utm_source=x&fbclid=1", "Віткофф і коаліція рішучих")),
        {"Content-Type": "application/rss+xml"},
    )
    daemon = Daemon(load_config(make_config(tmp_path, server, [a, b]), {}))
    try:
        report = daemon.run_once()
        daemon.run_once()
    finally:
        daemon.parse_pool.close()
    assert report.failed == 0
    msgs = received(server)
    assert len(msgs) == 1, msgs
    body = msgs[0]["title"] + "\n" + msgs[0]["message"]
    assert "witkoff-coalition" in body and "Віткофф" in body and SEED_LINK in body
    with db.session_scope(daemon.session_factory) as s:
        assert {r.rule for r in s.scalars(select(AlertRow))} == {"witkoff-coalition"}
        assert s.scalars(select(AlertRow.status)).all() == ["sent"]
        assert len(s.scalars(select(ArticleRow)).all()) == 5  # the seed feed's 5 items, once


def test_unchanged_feed_is_answered_304_and_costs_no_parse(
    tmp_path: Path, hook_ok: LocalServer
) -> None:
    server = hook_ok

    def conditional(req):
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, {"ETag": '"v1"'})
        return Response(200, {"ETag": '"v1"', "Content-Type": "application/rss+xml"}, SEED_FEED)

    url = server.route("/feed.xml", conditional)
    daemon = Daemon(load_config(make_config(tmp_path, server, [url]), {}))
    parses = []
    real_parse = daemon.parse_pool.parse

    async def counting_parse(*args, **kwargs):
        parses.append(args)
        return await real_parse(*args, **kwargs)

    daemon.parse_pool.parse = counting_parse
    try:
        daemon.run_once()
        second = daemon.run_once()
    finally:
        daemon.parse_pool.close()
    assert [o.status for o in second.outcomes] == ["not_modified"]
    assert len(parses) == 1
    assert server.hits("/feed.xml")[-1].headers.get("if-none-match") == '"v1"'


def test_failing_channel_keeps_alert_pending_then_delivers_once(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    state = {"fail": True}

    def hook(_req):
        return Response(500, {}, b"down") if state["fail"] else Response(200, {}, b"{}")

    server.route("/hook", hook)
    url = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    daemon = Daemon(load_config(make_config(tmp_path, server, [url]), {}))
    try:
        daemon.run_once()
        with db.session_scope(daemon.session_factory) as s:
            row = s.scalars(select(AlertRow)).one()
            assert row.status == "pending" and row.attempts == 1 and row.last_error
            row.next_attempt_at = row.created_at  # due again now (skip the backoff wait)
        state["fail"] = False
        daemon.deliver()
        daemon.deliver()
    finally:
        daemon.parse_pool.close()
    ok = [r for r in server.hits("/hook")]
    assert len(ok) == 2  # one failed attempt, one delivery, nothing more
    with db.session_scope(daemon.session_factory) as s:
        assert s.scalars(select(AlertRow.status)).all() == ["sent"]


def test_broken_feeds_are_recorded_and_others_still_processed(
    tmp_path: Path, hook_ok: LocalServer
) -> None:
    server = hook_ok

    def drip(_req):
        def body():
            for _ in range(20):
                yield b"<"
                time.sleep(0.5)

        return Response(200, {"Content-Type": "application/rss+xml"}, body())

    garbage = server.static(
        "/garbage.xml", b"\x00\x01 this is not a feed {}", {"Content-Type": "text/plain"}
    )
    missing = server.url("/missing.xml")
    slow = server.route("/slow.xml", drip)
    good = server.static("/good.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    daemon = Daemon(load_config(make_config(tmp_path, server, [garbage, missing, slow, good]), {}))
    started = time.monotonic()
    try:
        report = daemon.run_once()
    finally:
        daemon.parse_pool.close()
    # The drip would last 10 s: [fetch].timeout (3 s) cuts it, with room for a busy machine.
    assert time.monotonic() - started < 8
    by_url = {o.url: o for o in report.outcomes}
    assert by_url[good].status == "ok" and by_url[good].new == 5
    assert by_url[missing].error_kind == "http_status"
    assert by_url[slow].error_kind == "timeout"
    assert by_url[garbage].error_kind in ("not_a_feed", "parse_error")
    with db.session_scope(daemon.session_factory) as s:
        rows = {r.url: r for r in s.scalars(select(FeedRow))}
        assert "404" in rows[missing].error_message
        assert rows[missing].failures == 1 and rows[missing].next_check_at is not None
    assert len(received(server)) == 1


def test_run_once_cli_on_example_config_prints_exactly_one_alert(tmp_path: Path) -> None:
    """The example config, with its real (network) feeds removed: one alert on stdout."""
    import re
    import subprocess
    import sys

    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    text = re.sub(r'\[\[feeds\]\]\nurl = "https://[^\n]*\n(?:(?!\[\[)[^\n]*\n)*', "", text)
    text = text.replace(
        'url = "seeds/seed_feed.xml"', f'url = "{ROOT / "seeds" / "seed_feed.xml"}"'
    )
    text = text.replace(
        '# database = "sqlite:///data/monitor.db"', f'database = "sqlite:///{tmp_path}/m.db"'
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    runs = [
        subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "run", "--once"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=cli_env(),
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout.count("[witkoff-coalition]") == 1, runs[0].stdout
    assert "[witkoff-coalition]" not in runs[1].stdout  # stored and alerted once


def test_full_text_feed_matches_on_the_article_page(tmp_path: Path, hook_ok: LocalServer) -> None:
    """A feed with a one-line summary: only full_text = true finds the rule's terms,
    which are on the article page. Pages already stored are not fetched again."""
    server = hook_ok
    seed = (ROOT / "seeds" / "witkoff_coalition_uk.txt").read_text(encoding="utf-8")
    page = (
        "<html><head><title>Віткофф у Парижі</title></head><body><nav>Меню · Новини</nav>"
        "<article><h1>Віткофф у Парижі</h1>"
        + "".join(f"<p>{p}</p>" for p in seed.split("\n") if p.strip())
        + "</article><footer>© 2026</footer></body></html>"
    ).encode()
    link = server.static("/news/1.html", page, {"Content-Type": "text/html; charset=utf-8"})
    summary_only = rss(("g1", link, "Спецпосланець США заявив про переговори"))
    feed_url = server.static("/teaser.xml", summary_only, {"Content-Type": "application/rss+xml"})
    (tmp_path / "plain").mkdir()
    daemon = Daemon(load_config(make_config(tmp_path / "plain", server, [feed_url]), {}))
    try:
        assert daemon.run_once().alerts == 0  # the summary alone does not match
    finally:
        daemon.parse_pool.close()
    full = tmp_path / "full"
    full.mkdir()
    cfg = make_config(full, server, [feed_url])
    cfg.write_text(
        cfg.read_text().replace('backlog = "3650d"', 'backlog = "3650d"\nfull_text = true')
    )
    daemon = Daemon(load_config(cfg, {}))
    try:
        assert daemon.run_once().alerts == 1
        daemon.run_once()
    finally:
        daemon.parse_pool.close()
    assert len(server.hits("/news/1.html")) == 1  # the stored article's page is not refetched
    assert len(received(server)) == 1


class InlineParser:
    """A :class:`~monitor.parse.pool.ParsePool` stand-in at the parse seam: parses in this
    process, or raises the error set for a feed URL."""

    def __init__(self, errors: dict[str, Exception] | None = None) -> None:
        self.errors = errors or {}

    async def parse(self, body: bytes, content_type: str | None, url: str) -> ParsedFeed:
        if url in self.errors:
            raise self.errors[url]
        return parse_feed(body, content_type, url)


def make_runtime(
    tmp_path: Path, server: LocalServer, feeds: list[str], parser: InlineParser
) -> Runtime:
    """A poll cycle's runtime on a fresh SQLite file (no daemon, no delivery)."""
    config = load_config(make_config(tmp_path, server, feeds), {})
    engine = db.make_engine(config.monitor.database)
    db.upgrade(engine)
    return Runtime(config, db.make_session_factory(engine), parser)  # type: ignore[arg-type]


def feed_rows(rt: Runtime) -> dict[str, FeedRow]:
    with db.session_scope(rt.session_factory) as s:
        rows = {r.url: r for r in s.scalars(select(FeedRow))}
        s.expunge_all()
    return rows


def article_count(rt: Runtime, feed_url: str) -> int:
    with db.session_scope(rt.session_factory) as s:
        feed_id = s.scalars(select(FeedRow.id).where(FeedRow.url == feed_url)).one()
        return len(s.scalars(select(ArticleRow.id).where(ArticleRow.feed_id == feed_id)).all())


def test_fetch_error_in_one_feed_is_recorded_on_it_and_the_others_are_stored(
    tmp_path: Path, hook_ok: LocalServer
) -> None:
    """STYLE.md #6, first half: an expected error becomes that feed's failure; the cycle
    goes on and the other feed's articles are stored."""
    server = hook_ok
    bad = server.static("/bad.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    good = server.static("/good.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    error = FetchError("parse_error", "not well-formed at line 1")
    rt = make_runtime(tmp_path, server, [bad, good], InlineParser({bad: error}))
    report = asyncio.run(poll_cycle(rt, all_feeds=True))
    by_url = {o.url: o for o in report.outcomes}
    assert by_url[bad].status == "error" and by_url[bad].error_kind == "parse_error"
    assert by_url[good].status == "ok" and by_url[good].new == 5
    rows = feed_rows(rt)
    assert rows[bad].failures == 1 and rows[bad].error_message == "not well-formed at line 1"
    assert rows[good].failures == 0 and rows[good].error_kind is None
    assert article_count(rt, bad) == 0 and article_count(rt, good) == 5


def test_one_poll_cycle_stamps_every_feed_with_its_own_now(
    tmp_path: Path, hook_ok: LocalServer
) -> None:
    """The cycle's ``now`` (an hour ago here, so the wall clock would show) is used for
    the fetch, the stored articles, the scheduling of successes and of failures."""
    server = hook_ok
    good = server.static("/good.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    missing = server.url("/missing.xml")
    rt = make_runtime(tmp_path, server, [good, missing], InlineParser())
    now = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    report = asyncio.run(poll_cycle(rt, now, all_feeds=True))
    assert report.started == now and report.failed == 1
    rows = feed_rows(rt)
    interval = timedelta(seconds=rt.config.feeds[0].interval_s)
    assert rows[good].last_checked_at == rows[good].last_success_at == now
    assert now + interval <= rows[good].next_check_at <= now + interval * 1.1  # jitter
    assert rows[missing].last_checked_at == rows[missing].error_since == now
    backoff = 2 * interval  # one failure doubles the interval
    assert now + backoff <= rows[missing].next_check_at <= now + backoff * 1.1
    with db.session_scope(rt.session_factory) as s:
        assert set(s.scalars(select(ArticleRow.first_seen_at))) == {now}
