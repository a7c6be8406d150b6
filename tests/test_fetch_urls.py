"""Hostile URLs at the fetch boundary: a redirect, a feed URL, an article link or a URL on
the command line that httpx cannot or must not request ends as one classified
:class:`FetchError` with a message a person can read, never as ``httpx.InvalidURL``,
``IDNAError``, ``ValueError`` or an ``ExceptionGroup`` out of the client (issue 10)."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

import pytest

from monitor.cli import feeds as feeds_cli
from monitor.cli import rules as rules_cli
from monitor.cli.rules import fetch_article
from monitor.config import Config
from monitor.errors import FetchError
from monitor.fetch.client import FeedClient, checked_url
from monitor.fetch.state import FetchResult, FetchState
from monitor.match import compile_rules
from monitor.records import FeedConfig, FetchSettings, MonitorSettings, RuleConfig
from monitor.text import url_problem
from tests.support import Response

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
FAST = FetchSettings(connect_timeout_s=2.0, timeout_s=3.0)
RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><guid>1</guid><title>One</title><link>http://example.org/1</link></item>"
    b"</channel></rss>"
)


def outcome(url: str, settings: FetchSettings = FAST) -> FetchResult | BaseException:
    """One fetch of the feed ``url``: the result, or whatever it raised (caught here, so a
    test sees exactly which exception escaped)."""

    async def run() -> FetchResult:
        async with FeedClient(settings) as client:
            return await client.fetch(FeedConfig(url=url), FetchState(), NOW)

    try:
        return asyncio.run(run())
    except BaseException as exc:  # noqa: BLE001 - the point is to see anything escape
        return exc


def assert_readable(message: str) -> None:
    """One line a terminal shows as it is: no ESC, NUL, newline or bidi character."""
    assert message.isprintable(), repr(message)
    assert len(message) < 700, len(message)


# Each Location escaped the client before (InvalidURL, IDNAError, ExceptionGroup) or was
# requested as something else than what it says (urljoin drops the ESC of "\x1b[31m").
HOSTILE_LOCATIONS = [
    ("javascript:alert(1)", "non-http(s)"),
    ("mailto:editor@example.org", "non-http(s)"),
    ("data:text/html,<script>x</script>", "non-http(s)"),
    ("file:///etc/passwd", "non-http(s)"),
    ("ftp://example.org/feed", "non-http(s)"),
    ("http://127.0.0.1:99999/", "port out of range"),
    ("HTTP://127.0.0.1:65536/feed", "port out of range"),
    ("http://127.0.0.1:0/", "port 0"),
    ("/a b", "U+0020"),
    ("http://exa mple.com/", "U+0020"),
    ("\x1b[31m/red", "U+001B"),
    ("/path\x85next", "U+0085"),
    ("/\xe2\x80\xaegnp.exe", "U+202E"),  # UTF-8 bytes of RIGHT-TO-LEFT OVERRIDE, as sent
    ("/" + "x" * 70_000, "longer than 8192"),
    ("http://xn--/", "Punycode"),
    ("http://" + "a" * 70 + ".example/", "label"),
    ("http://a..b/", "label"),
    ("http://[::1/", "invalid ipv6"),
    ("http://[zz]/", "zz"),
    ("https://:443/", "no host"),
    ("http://user@/", "no host"),
]


@pytest.mark.parametrize(("location", "reason"), HOSTILE_LOCATIONS)
def test_a_hostile_redirect_is_a_classified_fetch_error(server, location, reason):
    url = server.route("/r", lambda _r: Response(302, {"Location": location}, b""))
    exc = outcome(url)
    assert isinstance(exc, FetchError), f"{type(exc).__name__}: {exc}"
    assert exc.kind == "http_status" and exc.status == 302
    assert "redirects to" in exc.message and "refused" in exc.message
    assert reason in exc.message, exc.message
    assert_readable(exc.message)


def test_a_nul_in_a_location_header_is_a_network_error(server):
    """h11 refuses the whole response: nothing of it is used."""
    url = server.route("/nul", lambda _r: Response(302, {"Location": "/a\x00b"}, b""))
    exc = outcome(url)
    assert isinstance(exc, FetchError) and exc.kind == "network"
    assert_readable(exc.message)


def test_the_feed_after_a_refused_redirect_is_still_fetched(server):
    """One client, a bad redirect, then a good feed: the client is not left broken."""
    bad = server.route("/bad", lambda _r: Response(301, {"Location": "javascript:x"}, b""))
    good = server.static("/good.xml", RSS, {"Content-Type": "application/rss+xml"})

    async def run() -> list[FetchResult | BaseException]:
        async with FeedClient(FAST) as client:
            return await asyncio.gather(
                client.fetch(FeedConfig(url=bad), FetchState(), NOW),
                client.fetch(FeedConfig(url=good), FetchState(), NOW),
                return_exceptions=True,
            )

    first, second = asyncio.run(run())
    assert isinstance(first, FetchError) and first.kind == "http_status"
    assert isinstance(second, FetchResult) and second.body == RSS


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:99999/feed.xml", "port out of range"),
        ("http://xn--/feed", "Punycode"),
        ("http://[::1/feed", "invalid ipv6"),
        ("http://exa mple.com/feed", "U+0020"),
        ("http://\ud800.example/", "U+D800"),
        ("http://bad\u202eexample.org/", "U+202E"),
    ],
)
def test_a_feed_url_that_cannot_be_requested_is_a_network_error(url, reason):
    started = time.monotonic()
    exc = outcome(url)
    assert isinstance(exc, FetchError), f"{type(exc).__name__}: {exc}"
    assert exc.kind == "network" and "is not a valid http(s) URL" in exc.message
    assert reason in exc.message and "fix the URL" in exc.message
    assert_readable(exc.message)
    assert time.monotonic() - started < 2  # refused before any connection


def test_a_space_in_a_configured_feed_url_is_sent_percent_encoded_as_before(server):
    url = server.static("/a%20b.xml", RSS, {"Content-Type": "application/rss+xml"})
    result = outcome(url.replace("%20", " "))
    assert isinstance(result, FetchResult) and result.body == RSS, result


def test_an_article_url_that_cannot_be_requested_is_a_fetch_error():
    """``monitor test-rule --url`` and full-text fetches go through the same check."""
    with pytest.raises(FetchError) as info:
        fetch_article("http://127.0.0.1:99999/article", FAST)
    assert info.value.kind == "network" and "port out of range" in info.value.message


def test_an_article_redirect_to_javascript_is_a_fetch_error(server):
    url = server.route("/a/1", lambda _r: Response(302, {"Location": "javascript:x"}, b""))
    with pytest.raises(FetchError) as info:
        fetch_article(url, FAST)
    assert info.value.kind == "http_status" and "non-http(s)" in info.value.message


def test_client_get_raises_only_fetch_errors_for_hostile_urls(server):
    """The CLI's own path (``feeds discover``): ``get`` on hostile URLs, one client."""
    urls = ["http://127.0.0.1:99999/", "javascript:x", "http://xn--/", "", "http://", "//x"]

    async def run() -> list[BaseException | None]:
        async with FeedClient(FAST) as client:
            results: list[BaseException | None] = []
            for url in urls:
                try:
                    await client.get(url, now=NOW)
                    results.append(None)
                except BaseException as exc:  # noqa: BLE001
                    results.append(exc)
            return results

    for url, exc in zip(urls, asyncio.run(run()), strict=True):
        assert isinstance(exc, FetchError), (url, exc)
        assert_readable(exc.message)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://news.example.org/a/1?x=1#top", True),
        ("http://127.0.0.1:8080/feed.xml", True),
        ("http://[::1]:8080/feed.xml", True),
        ("https://ПРИКЛАД.укр/новини", True),  # an IDN is fine: it encodes
        ("http://127.0.0.1:65535/", True),
        ("http://127.0.0.1:65536/", False),
        ("http://xn--/", False),
        ("http://a/\x00", False),
        ("http://a/\u2066x", False),
        ("http://a/\u200bx", False),
        ("mailto:x@example.org", False),
        ("/relative", False),
    ],
)
def test_checked_url_accepts_exactly_the_urls_httpx_can_request(url, ok):
    assert (checked_url(url) is None) is ok, checked_url(url)


def test_url_problem_for_a_relative_link_checks_only_characters():
    assert url_problem("/a/b?c=d", relative=True) is None
    assert url_problem("/a\nb", relative=True) == "holds the character U+000A"


# -- the CLI: feeds discover and test-rule --url ---------------------------------------


class Ctx:
    """What the discover and test-rule handlers use: a config that may fail to load."""

    config_path = "/nonexistent/config.toml"  # discover reads the feeds it lists, if any
    environ: dict[str, str] = {}

    def __init__(self, fetch: FetchSettings = FAST) -> None:
        self._config = Config(
            path="test.toml",
            monitor=MonitorSettings(database="sqlite://"),
            fetch=fetch,
            channels={},
            terms={},
            feeds=(),
            rules=(RuleConfig(name="any", query="article"),),
            matcher=compile_rules((RuleConfig(name="any", query="article"),), {}),
        )

    def config(self) -> Config:
        return self._config


def cli(ctx: Ctx, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    feeds_cli.register(sub)
    rules_cli.register(sub)
    args = parser.parse_args(list(argv))
    code: int = args.handler(args, ctx)
    return code


@pytest.mark.parametrize(
    ("location", "reason"), [("javascript:x", "non-http(s)"), ("http://h:99999/", "port out")]
)
def test_test_rule_url_redirecting_anywhere_hostile_is_one_line_and_exit_2(
    server, capsys, location, reason
):
    url = server.route("/story", lambda _r: Response(302, {"Location": location}, b""))
    assert cli(Ctx(), "test-rule", "--url", url) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("cannot fetch URL: http_status: ") and reason in err


def test_test_rule_url_with_an_impossible_port_is_one_line_and_exit_2(capsys):
    assert cli(Ctx(), "test-rule", "--url", "http://127.0.0.1:99999/story") == 2
    err = capsys.readouterr().err
    assert err.startswith("cannot fetch URL: network: ") and "port out of range" in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://xn--/", "http://a b/"])
def test_discover_of_a_url_that_cannot_be_requested_is_a_usage_error(capsys, url):
    assert cli(Ctx(), "feeds", "discover", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not an http(s) URL (" in err


def test_discover_of_a_page_redirecting_to_javascript_fails_in_one_line(server, capsys):
    url = server.route("/site", lambda _r: Response(302, {"Location": "javascript:x"}, b""))
    assert cli(Ctx(), "feeds", "discover", url) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot fetch the page: ") and "non-http(s)" in err


def test_discover_never_prints_a_hostile_link(server, capsys):
    """The page announces a feed link with an ESC sequence, one with a bidi override and
    a clean one: only the clean one reaches the terminal."""
    clean = server.static("/clean.rss", RSS, {"Content-Type": "application/rss+xml"})
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/x\x1b[2J.rss">'
        '<link rel="alternate" type="application/rss+xml" href="/a\u202eb.rss">'
        f'<link rel="alternate" type="application/rss+xml" href="{clean}"></head></html>'
    ).encode()
    url = server.static("/site", page, {"Content-Type": "text/html"})
    assert cli(Ctx(), "feeds", "discover", "--urls", url) == 0
    assert capsys.readouterr().out == f"{clean}\n"


def test_discover_never_prints_an_announced_feed_on_a_refused_address(server, capsys):
    """A loopback page announcing feeds on the metadata address and the LAN: only the
    loopback one is printed, so the operator is not lured into configuring the others."""
    ours = server.static("/ours.rss", RSS, {"Content-Type": "application/rss+xml"})
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml"'
        ' href="http://169.254.169.254/feed">'
        '<link rel="alternate" type="application/rss+xml" href="http://10.0.0.1/rss">'
        f'<link rel="alternate" type="application/rss+xml" href="{ours}"></head></html>'
    ).encode()
    url = server.static("/announces", page, {"Content-Type": "text/html"})
    assert cli(Ctx(), "feeds", "discover", "--urls", url) == 0
    assert capsys.readouterr().out == f"{ours}\n"


def test_discover_checks_candidate_links_against_the_page_address(server, capsys):
    """Feed-looking <a> links of a loopback page on the LAN or the metadata address are
    not fetched; one on loopback is."""
    good = server.static("/good/feed", RSS, {"Content-Type": "application/rss+xml"})
    page = (
        '<html><body><a href="http://10.0.0.1/feed">lan</a>'
        '<a href="http://169.254.169.254/latest/rss">metadata</a>'
        f'<a href="{good}">ours</a></body></html>'
    ).encode()
    url = server.static("/links", page, {"Content-Type": "text/html"})
    started = time.monotonic()
    assert cli(Ctx(), "feeds", "discover", "--urls", url) == 0
    assert capsys.readouterr().out == f"{good}\n"
    assert time.monotonic() - started < 10  # nothing waited on a connect to 10.0.0.1


def test_discover_parses_within_the_daemon_parse_bounds(server):
    """The page is parsed in a ParsePool worker bounded by parse_timeout: with a bound
    no parse can meet, the feed is not recognised (before, parse_feed ran unbounded
    in the CLI process)."""
    url = server.static("/f.rss", RSS, {"Content-Type": "application/rss+xml"})
    assert asyncio.run(feeds_cli.find_feeds(url, FAST)) == [url]
    hurried = FetchSettings(connect_timeout_s=2.0, timeout_s=3.0, parse_timeout_s=0.001)
    assert asyncio.run(feeds_cli.find_feeds(url, hurried)) == []
