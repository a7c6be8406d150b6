"""FeedClient against a real HTTP server on 127.0.0.1: bounds, politeness, error kinds."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor import PROJECT_URL, __version__
from monitor.errors import FetchError
from monitor.fetch.client import FeedClient
from monitor.fetch.hints import parse_max_age, parse_retry_after
from monitor.fetch.state import FetchResult, FetchState
from monitor.parse.feed import parse_feed
from monitor.records import FeedConfig, FetchSettings
from monitor.schedule import next_check
from tests.support import LocalServer, Response

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><guid>1</guid><title>One</title><link>http://example.org/1</link></item>"
    b"</channel></rss>"
)
FAST = FetchSettings(connect_timeout_s=2.0, timeout_s=2.0)
MIB = 1024 * 1024


@pytest.fixture
def http_server(server: LocalServer) -> LocalServer:
    """The module's one real server (tests.support.server), reset for each test."""
    return server


def fetch(url: str, state: FetchState | None = None, settings: FetchSettings = FAST, now=NOW):
    """One fetch in a fresh client; returns the FetchResult or the FetchError."""

    async def run() -> FetchResult | FetchError:
        async with FeedClient(settings) as client:
            try:
                return await client.fetch(FeedConfig(url=url), state or FetchState(), now)
            except FetchError as exc:
                return exc

    return asyncio.run(run())


def error_of(url: str, **kw) -> FetchError:
    outcome = fetch(url, **kw)
    assert isinstance(outcome, FetchError), f"expected a FetchError, got {outcome!r}"
    return outcome


def test_fetch_returns_body_headers_and_sends_our_user_agent(http_server: LocalServer):
    url = http_server.static(
        "/feed.xml",
        RSS,
        {"Content-Type": "application/rss+xml", "ETag": '"v1"', "Cache-Control": "max-age=900"},
    )
    result = fetch(url)
    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.http_status) == ("ok", RSS, 200)
    assert result.content_type == "application/rss+xml"
    assert result.etag == '"v1"' and result.max_age_s == 900 and result.forced
    assert len(result.body_hash) == 64 and result.final_url == url
    sent = http_server.hits("/feed.xml")[0].headers
    assert sent["user-agent"] == f"press-monitor/{__version__} (+{PROJECT_URL})"
    assert "application/rss+xml" in sent["accept"]


def test_user_agent_setting_overrides_the_default(http_server: LocalServer):
    url = http_server.static("/feed.xml", RSS)
    fetch(url, settings=FetchSettings(user_agent="my-monitor/2"))
    assert http_server.hits("/feed.xml")[0].headers["user-agent"] == "my-monitor/2"


def test_conditional_get_sends_validators_and_maps_304_to_not_modified(http_server):
    def handler(req):
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, {"ETag": '"v1"'})
        return Response(
            200, {"ETag": '"v1"', "Last-Modified": "Thu, 19 Feb 2026 10:00:00 GMT"}, RSS
        )

    url = http_server.route("/feed.xml", handler)
    first = fetch(url)
    state = FetchState(first.etag, first.last_modified, first.body_hash, last_forced_at=NOW)
    second = fetch(url, state=state, now=NOW + timedelta(minutes=5))
    assert (second.status, second.body, second.http_status) == ("not_modified", None, 304)
    assert not second.forced
    sent = http_server.hits("/feed.xml")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Thu, 19 Feb 2026 10:00:00 GMT"


def test_unchanged_body_hash_is_not_modified_without_a_body(http_server):
    url = http_server.static("/feed.xml", RSS)  # no validators at all
    first = fetch(url)
    state = FetchState(body_hash=first.body_hash, last_forced_at=NOW)
    second = fetch(url, state=state, now=NOW + timedelta(minutes=5))
    assert (second.status, second.body, second.body_hash) == ("not_modified", None, first.body_hash)


def test_forced_refetch_is_unconditional_after_force_refetch_s(http_server):
    url = http_server.static("/feed.xml", RSS, {"ETag": '"v1"'})
    state = FetchState(etag='"v1"', body_hash="x" * 64, last_forced_at=NOW - timedelta(hours=13))
    result = fetch(url, state=state)
    assert result.forced and result.status == "ok"
    assert "if-none-match" not in http_server.hits("/feed.xml")[0].headers


def test_slow_drip_is_cut_at_the_total_deadline(http_server):
    def drip(_req):
        def body():
            yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
            for _ in range(600):
                time.sleep(0.05)
                yield b" "

        return Response(200, {"Content-Type": "application/rss+xml"}, body())

    url = http_server.route("/drip", drip)
    started = time.monotonic()
    exc = error_of(url, settings=FetchSettings(connect_timeout_s=1, timeout_s=1.0))
    elapsed = time.monotonic() - started
    assert exc.kind == "timeout" and "total 1 s" in exc.message
    # Cut at the 1 s deadline: well under the 30 s that per-read timeouts alone would
    # let the drip run.
    assert elapsed < 10


def test_never_ending_body_stops_at_the_cap_with_bounded_memory(http_server):
    def endless(_req):
        def body():
            chunk = b"<item>" + b"x" * 65536 + b"</item>"
            while True:
                yield chunk

        return Response(200, {"Content-Type": "application/rss+xml"}, body())

    url = http_server.route("/endless", endless)
    tracemalloc.start()
    try:
        exc = error_of(url, settings=FetchSettings(max_bytes=2 * MIB, timeout_s=10))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exc.kind == "too_large" and str(2 * MIB) in exc.message
    assert peak < 12 * MIB


def test_gzip_bomb_is_cut_off_at_the_decompressed_cap(http_server):
    bomb = gzip.compress(b"\0" * (200 * MIB), compresslevel=9)  # ~200 KB on the wire
    assert len(bomb) < MIB
    url = http_server.static("/bomb", bomb, {"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        exc = error_of(url, settings=FetchSettings(timeout_s=10))  # default cap: 10 MiB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exc.kind == "too_large"
    assert peak < 40 * MIB  # the cap plus chunk overhead, never the 200 MiB body


def test_gzip_body_within_the_cap_is_decompressed(http_server):
    url = http_server.static("/gz", gzip.compress(RSS), {"Content-Encoding": "gzip"})
    assert fetch(url).body == RSS


def test_gzip_file_served_without_content_encoding_is_decompressed(http_server):
    url = http_server.static(
        "/feed.xml.gz", gzip.compress(RSS), {"Content-Type": "application/gzip"}
    )
    assert fetch(url).body == RSS


def test_declared_huge_body_is_refused_before_reading(http_server):
    def huge(_req):
        return Response(200, {"Content-Length": str(50 * MIB)}, iter([b"x" * 1024]))

    url = http_server.route("/huge", huge)
    started = time.monotonic()
    exc = error_of(url, settings=FetchSettings(max_bytes=MIB))
    assert exc.kind == "too_large"
    # Refused on the header: reading would wait for the rest of the declared 50 MiB,
    # which never comes, until the 30 s default deadline.
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after_s"),
    [
        (429, {"Retry-After": "120"}, "rate_limited", 120.0),
        (
            429,
            {"Retry-After": format_datetime(NOW + timedelta(hours=2), usegmt=True)},
            "rate_limited",
            7200.0,
        ),
        (429, {}, "rate_limited", None),
        (503, {"Retry-After": "600"}, "http_status", 600.0),
        (500, {}, "http_status", None),
        (404, {}, "http_status", None),
        (410, {}, "http_status", None),
        (403, {}, "http_status", None),
    ],
)
def test_http_error_statuses_map_to_kinds_and_next_check(
    http_server, status, headers, kind, retry_after_s
):
    url = http_server.static("/s", b"nope", headers, status=status)
    exc = error_of(url)
    assert (exc.kind, exc.status, exc.retry_after_s) == (kind, status, retry_after_s)
    assert str(status) in exc.message and "127.0.0.1" in exc.message
    when = next_check(NOW, 300, failures=1, hints_s=[exc.retry_after_s])
    expected = max(600.0, retry_after_s or 0)  # backoff after 1 failure is 600 s
    assert timedelta(seconds=expected) <= when - NOW <= timedelta(seconds=expected * 1.1)


def test_404_message_says_what_to_do(http_server):
    exc = error_of(http_server.static("/gone", b"", status=404))
    assert "moved or was removed" in exc.message and "discover" in exc.message


def test_redirect_chain_is_followed_to_the_final_url(http_server):
    for i in range(3):
        http_server.static(f"/r{i}", b"", {"Location": f"/r{i + 1}"}, status=301)
    final = http_server.static("/r3", RSS)
    result = fetch(http_server.url("/r0"))
    assert result.status == "ok" and result.final_url == final
    assert result.moved_to == final  # all hops were 301: the config should say so


def test_a_temporary_redirect_on_the_way_is_not_a_move(http_server):
    http_server.static("/t0", b"", {"Location": "/t1"}, status=301)
    http_server.static("/t1", b"", {"Location": "/t2"}, status=302)
    final = http_server.static("/t2", RSS)
    result = fetch(http_server.url("/t0"))
    assert (result.final_url, result.moved_to) == (final, None)
    assert fetch(final).moved_to is None


def test_more_than_five_redirects_is_a_redirect_loop(http_server):
    for i in range(7):
        http_server.static(f"/r{i}", b"", {"Location": http_server.url(f"/r{i + 1}")}, status=302)
    http_server.static("/r7", RSS)
    exc = error_of(http_server.url("/r0"))
    assert exc.kind == "redirect_loop" and "more than 5 redirects" in exc.message
    assert len(http_server.requests) == 6


def test_redirect_cycle_is_a_redirect_loop(http_server):
    http_server.static("/a", b"", {"Location": "/b"}, status=301)
    http_server.static("/b", b"", {"Location": "/a"}, status=307)
    exc = error_of(http_server.url("/a"))
    assert exc.kind == "redirect_loop" and "/a -> " in exc.message and "/b -> " in exc.message


def test_redirect_to_a_non_http_scheme_is_refused(http_server):
    url = http_server.static("/x", b"", {"Location": "file:///etc/passwd"}, status=302)
    exc = error_of(url)
    assert exc.kind == "http_status" and "non-http(s)" in exc.message


def test_https_to_a_plain_http_port_is_a_tls_error(http_server):
    exc = error_of(http_server.url("/feed.xml").replace("http://", "https://"))
    assert exc.kind == "tls" and "http" in exc.message


def test_connection_refused_is_a_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exc = error_of(f"http://127.0.0.1:{port}/feed.xml")
    assert exc.kind == "network" and "127.0.0.1 (connection refused)" in exc.message


def test_failing_feeds_do_not_stop_others_in_the_same_gather(http_server):
    good = [http_server.static(f"/ok{i}", RSS + str(i).encode()) for i in range(4)]
    bad = [
        http_server.static("/500", b"", status=500),
        http_server.route(
            "/drip", lambda _r: Response(200, {}, (time.sleep(0.2) or b" " for _ in range(100)))
        ),
        http_server.static(
            "/bomb", gzip.compress(b"\0" * (30 * MIB)), {"Content-Encoding": "gzip"}
        ),
    ]

    async def run():
        async with FeedClient(FetchSettings(timeout_s=1.0)) as client:
            feeds = [FeedConfig(url=u) for u in [*bad, *good]]
            return await asyncio.gather(
                *(client.fetch(f, FetchState(), NOW) for f in feeds), return_exceptions=True
            )

    outcomes = asyncio.run(run())
    assert [o.kind for o in outcomes[:3]] == ["http_status", "timeout", "too_large"]
    assert all(isinstance(o, FetchResult) and o.status == "ok" for o in outcomes[3:])


class ConcurrencyProbe:
    """A slow route that records how many requests it served at the same time."""

    def __init__(self) -> None:
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, _req) -> Response:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.15)
        with self.lock:
            self.active -= 1
        return Response(200, {}, RSS)


def test_at_most_per_host_requests_run_at_once(http_server):
    slow = ConcurrencyProbe()

    http_server.route("/slow", slow)

    async def run():
        async with FeedClient(FetchSettings(per_host=2, concurrency=16)) as client:
            feeds = [FeedConfig(url=http_server.url("/slow") + f"?n={i}") for i in range(6)]
            await asyncio.gather(*(client.fetch(f, FetchState(), NOW) for f in feeds))

    asyncio.run(run())
    assert slow.peak == 2


def test_overall_concurrency_limit_holds_across_hosts():
    servers = [LocalServer().start() for _ in range(3)]
    slow = ConcurrencyProbe()

    try:
        urls = [s.route("/slow", slow) for s in servers]
        # the three servers share 127.0.0.1: distinct host names make distinct per-host slots
        urls = [urls[0], urls[1].replace("127.0.0.1", "localhost"), urls[2]]

        async def run():
            async with FeedClient(FetchSettings(per_host=5, concurrency=3)) as client:
                feeds = [FeedConfig(url=f"{u}?n={i}") for i in range(4) for u in urls]
                await asyncio.gather(*(client.fetch(f, FetchState(), NOW) for f in feeds))

        asyncio.run(run())
    finally:
        for s in servers:
            s.stop()
    assert slow.peak == 3


def test_local_file_feed_is_read_and_then_not_modified(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    first = fetch(str(path))
    assert first.status == "ok" and first.body == RSS and first.http_status is None
    state = FetchState(
        last_modified=first.last_modified, body_hash=first.body_hash, last_forced_at=NOW
    )
    assert fetch(str(path), state=state, now=NOW + timedelta(minutes=1)).status == "not_modified"
    path.write_bytes(RSS.replace(b"One", b"Two"))
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert fetch(str(path), state=state, now=NOW + timedelta(minutes=2)).status == "ok"


def test_local_file_over_the_cap_is_too_large_and_missing_file_is_a_file_error(tmp_path):
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * (MIB + 1))
    assert error_of(str(big), settings=FetchSettings(max_bytes=MIB)).kind == "too_large"
    missing = error_of(str(tmp_path / "nope.xml"))
    assert missing.kind == "file" and "nope.xml" in missing.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 20 Feb 2026 12:30:00 GMT", 1800.0),
        ("Fri, 20 Feb 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=60, must-revalidate", 60.0),
        ('max-age="90"', 90.0),
        ("no-cache, max-age=600", None),
        ("s-maxage=600", None),
        (None, None),
    ],
)
def test_cache_control_max_age_is_read(value, expected):
    assert parse_max_age(value) == expected


def test_fault_routes_end_in_their_kind_and_next_check_while_good_feeds_succeed(http_server):
    """Every fault route in one gather with healthy feeds: each ends in its error kind and
    the next check the scheduler derives from it; the healthy feeds are still processed."""
    from tests.test_parse import BILLION_LAUGHS_MULTI_LINE, QUADRATIC

    def drip(_req):
        return Response(200, {}, (time.sleep(0.1) or b" " for _ in range(100)))

    page = (
        b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom"></head></html>'
    )
    routes = {
        "/drip": (drip, "timeout", 600),
        "/bomb": (Response(200, {"Content-Encoding": "gzip"}, gzip.compress(b"\0" * 30 * MIB)), "too_large", 600),
        "/429": (Response(429, {"Retry-After": "3600"}, b""), "rate_limited", 3600),
        "/503": (Response(503, {"Retry-After": format_datetime(NOW + timedelta(hours=3), usegmt=True)}), "http_status", 10800),
        "/500": (Response(500), "http_status", 600),
        "/404": (Response(404), "http_status", 600),
        "/loop": (Response(301, {"Location": "/loop"}), "redirect_loop", 600),
        "/page": (Response(200, {"Content-Type": "text/html"}, page), "not_a_feed", 600),
        "/laughs": (Response(200, {}, BILLION_LAUGHS_MULTI_LINE), "parse_error", 600),
        "/quadratic": (Response(200, {}, QUADRATIC), "parse_error", 600),
    }  # fmt: skip
    for path, (answer, _, _) in routes.items():
        http_server.route(path, answer if callable(answer) else (lambda _r, a=answer: a))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/feed"
    urls = {http_server.url(p): (kind, wait) for p, (_, kind, wait) in routes.items()}
    urls[refused] = ("network", 600)
    urls[http_server.url("/tls").replace("http:", "https:")] = ("tls", 600)
    good = [http_server.static(f"/good{i}", RSS.replace(b"One", b"Good %d" % i)) for i in range(3)]

    async def poll(client: FeedClient, url: str):
        try:
            result = await client.fetch(FeedConfig(url=url), FetchState(), NOW)
            return parse_feed(result.body, result.content_type, url)
        except FetchError as exc:
            return exc

    async def run():
        async with FeedClient(FetchSettings(timeout_s=1.5)) as client:
            return await asyncio.gather(*(poll(client, u) for u in [*urls, *good]))

    tracemalloc.start()
    try:
        outcomes = asyncio.run(run())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for (url, (kind, wait)), exc in zip(urls.items(), outcomes, strict=False):
        assert isinstance(exc, FetchError) and exc.kind == kind, (url, exc)
        due = next_check(NOW, 300, failures=1, hints_s=[exc.retry_after_s]) - NOW
        assert timedelta(seconds=wait) <= due <= timedelta(seconds=wait * 1.1), (url, due)
    assert [p.entries[0].title for p in outcomes[len(urls) :]] == ["Good 0", "Good 1", "Good 2"]
    assert peak < 40 * MIB


@pytest.mark.parametrize(
    "content_type",
    ["application/rss+xml; charset=windows-1251", "application/rss+xml", None],
    ids=["declared", "undeclared", "no-content-type"],
)
def test_windows_1251_feed_served_with_or_without_charset_reads_as_cyrillic(
    http_server, content_type
):
    title = "Віткофф зустрівся з лідерами коаліції рішучих у Парижі"
    body = f'<rss version="2.0"><channel><title>Новини</title><item><title>{title}</title></item></channel></rss>'
    url = http_server.static(
        "/cp1251", body.encode("cp1251"), {"Content-Type": content_type} if content_type else {}
    )
    result = fetch(url)
    parsed = parse_feed(result.body, result.content_type, result.final_url)
    assert (parsed.title, parsed.entries[0].title) == ("Новини", title)


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (gzip.compress(RSS[:50]) + gzip.compress(RSS[50:]), "gzip"),  # two gzip members
        (gzip.compress(RSS) + b"\0\0junk", "gzip"),  # trailing junk after the stream
        (zlib.compress(RSS), "deflate"),  # zlib-wrapped deflate
        (zlib.compress(RSS)[2:-4], "deflate"),  # raw deflate, as some servers send
    ],
    ids=["multi-member", "trailing-junk", "deflate", "raw-deflate"],
)
def test_compressed_bodies_decode(http_server, encoded, encoding):
    url = http_server.static("/c", encoded, {"Content-Encoding": encoding})
    assert fetch(url).body == RSS


def test_corrupt_gzip_is_a_parse_error(http_server):
    url = http_server.static(
        "/c", b"\x1f\x8b\x08\x00garbage-not-deflate", {"Content-Encoding": "gzip"}
    )
    assert error_of(url).kind == "parse_error"


def test_validators_follow_the_latest_full_response(http_server):
    answers = iter(
        [Response(200, {"ETag": '"v1"'}, RSS), Response(200, {}, RSS + b" "), Response(304)]
    )
    url = http_server.route("/v", lambda _r: next(answers))
    first = fetch(url)
    second = fetch(url, state=FetchState(first.etag, None, first.body_hash, NOW), now=NOW)
    assert (first.etag, second.etag) == ('"v1"', None)  # a 200 without ETag drops the old one
    third = fetch(url, state=FetchState('"v0"', "Mon, 01 Jan 2026 00:00:00 GMT", "h", NOW), now=NOW)
    assert (third.status, third.etag, third.last_modified) == (
        "not_modified", '"v0"', "Mon, 01 Jan 2026 00:00:00 GMT",
    )  # fmt: skip


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "text/plain", "application/octet-stream"]
)
def test_feed_served_with_a_wrong_content_type_still_parses(http_server, content_type):
    url = http_server.static("/wrong", RSS, {"Content-Type": content_type})
    result = fetch(url)
    parsed = parse_feed(result.body, result.content_type, result.final_url)
    assert [e.title for e in parsed.entries] == ["One"]


def test_xxe_feed_through_fetch_reads_no_file_and_fetches_no_url(http_server, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:SECRET-MARKER")
    remote = http_server.static("/evil.dtd", b"REMOTE-MARKER")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY f SYSTEM "{secret}">'
        f'<!ENTITY r SYSTEM "{remote}">]><rss version="2.0"><channel><title>x</title>'
        "<item><guid>1</guid><title>[&f;][&r;]</title></item></channel></rss>"
    ).encode()
    url = http_server.static("/xxe", body, {"Content-Type": "application/rss+xml"})
    result = fetch(url)
    parsed = parse_feed(result.body, result.content_type, url)
    assert "MARKER" not in parsed.entries[0].title
    assert http_server.hits("/evil.dtd") == []


def test_bot_challenge_says_what_blocks_us(http_server):
    url = http_server.static(
        "/cf", b"<html>Just a moment...</html>", {"cf-mitigated": "challenge"}, status=403
    )
    exc = error_of(url)
    assert (
        exc.kind == "http_status"
        and exc.status == 403
        and "bot-protection challenge" in exc.message
    )


def test_per_feed_timeout_overrides_the_deadline(http_server):
    url = http_server.route(
        "/slow1", lambda _r: Response(200, {}, (time.sleep(0.1) or b" " for _ in range(50)))
    )

    async def run():
        async with FeedClient(FetchSettings(timeout_s=30)) as client:
            with pytest.raises(FetchError) as info:
                await client.fetch(FeedConfig(url=url, timeout_s=0.5), FetchState(), NOW)
            return info.value

    started = time.monotonic()
    exc = asyncio.run(run())
    assert exc.kind == "timeout" and "total 0.5 s" in exc.message
    # Cut at the feed's 0.5 s: well under the 5 s drip and the client's 30 s deadline.
    assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    ("value", "kept"),
    [('"abc"', True), ("W/\"x\"", True), ("x" * 1024, True), ("x" * 1025, False),
     ("\xe9t\xe9", False), ("a\nb", False), ("", False), ("   ", False)],
)  # fmt: skip
def test_only_validators_that_can_be_sent_back_are_kept(value, kept):
    from monitor.fetch.state import validator

    assert (validator(value) is not None) is kept
