"""Server-side request forgery: a feed's redirects and its articles' pages never reach a
loopback, private, link-local (cloud metadata), unspecified or multicast address the
feed's own URL is not on, unless ``allow_private``; checked on the resolved address of
every hop, and the connection goes to the address that was checked (issue 10)."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from monitor.errors import FetchError
from monitor.fetch import transport
from monitor.fetch.addresses import (
    ALLOW_ALL,
    PUBLIC_ONLY,
    AddressPolicy,
    address_class,
    policy_for,
)
from monitor.fetch.article import fetch_article_async
from monitor.fetch.client import FeedClient
from monitor.fetch.state import FetchResult, FetchState
from monitor.fetch.transport import proxy_mounts
from monitor.parse.article import extract_article
from monitor.records import FeedConfig, FetchSettings
from tests.support import Response

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
FAST = FetchSettings(connect_timeout_s=2.0, timeout_s=3.0)
RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><guid>1</guid><title>One</title></item></channel></rss>"
)
PAGE = b"<html><body><article><p>" + b"Full article text. " * 40 + b"</p></article></body></html>"


@pytest.fixture(scope="module")
def second_loopback() -> Iterator[str]:
    """A server on 127.0.0.2 (another loopback address) answering RSS and an HTML page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = self.path.startswith("/page")
            body = PAGE if html else RSS
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if html else "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield f"http://127.0.0.2:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def fetch(feed: FeedConfig, settings: FetchSettings = FAST) -> FetchResult | BaseException:
    async def run() -> FetchResult:
        async with FeedClient(settings) as client:
            return await client.fetch(feed, FetchState(), NOW)

    try:
        return asyncio.run(run())
    except BaseException as exc:  # noqa: BLE001 - see exactly what escapes
        return exc


# -- the decision, as a table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", "public"),
        ("2606:4700::1111", "public"),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("fd00:ec2::254", "private"),  # AWS's IPv6 metadata address is unique-local
        ("169.254.169.254", "link_local"),  # the cloud metadata service
        ("fe80::1", "link_local"),
        ("0.0.0.0", "unspecified"),  # connecting to it reaches this machine
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),  # documentation
        ("::ffff:169.254.169.254", "link_local"),  # IPv4-mapped: the IPv4 address it reaches
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:8.8.8.8", "public"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::8.8.8.8", "reserved"),
        ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", "public"),
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_every_address_has_one_class(address, kind):
    assert address_class(ip(address)) == kind


@pytest.mark.parametrize(
    ("origin", "allow_private", "target", "permitted"),
    [
        # a feed on a public address reaches only public addresses
        (["93.184.215.14"], False, "8.8.8.8", True),
        (["93.184.215.14"], False, "127.0.0.1", False),
        (["93.184.215.14"], False, "10.0.0.1", False),
        (["93.184.215.14"], False, "169.254.169.254", False),
        (["93.184.215.14"], False, "0.0.0.0", False),
        (["93.184.215.14"], False, "::ffff:10.0.0.1", False),
        # a feed on loopback: loopback too, but not the LAN nor the metadata service
        (["127.0.0.1"], False, "127.0.0.2", True),
        (["127.0.0.1"], False, "::1", True),
        (["127.0.0.1"], False, "8.8.8.8", True),
        (["127.0.0.1"], False, "10.0.0.1", False),
        (["127.0.0.1"], False, "169.254.169.254", False),
        # a feed on the LAN: the LAN, not this machine
        (["10.0.0.5"], False, "192.168.7.7", True),
        (["10.0.0.5"], False, "127.0.0.1", False),
        # a name resolving to several classes brings each of them
        (["127.0.0.1", "10.0.0.5"], False, "10.9.9.9", True),
        # an unresolvable feed host brings nothing
        ([], False, "127.0.0.1", False),
        # allow_private: everything
        (["93.184.215.14"], True, "169.254.169.254", True),
        (["93.184.215.14"], True, "127.0.0.1", True),
    ],
)
def test_a_feed_may_reach_public_addresses_and_the_classes_of_its_own_url(
    origin, allow_private, target, permitted
):
    policy = policy_for([ip(a) for a in origin], allow_private=allow_private)
    assert policy.permits(ip(target)) is permitted


# -- redirects, on a real server ----------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://10.0.0.1/feed", "private address"),
        ("http://169.254.169.254/latest/meta-data/iam/", "link-local address (cloud metadata)"),
        ("http://[::ffff:169.254.169.254]/latest/", "link-local address"),
        ("http://[fd00:ec2::254]/latest/", "private address"),
        ("http://0.0.0.0:{port}/feed.xml", "unspecified address"),
        ("http://224.0.0.1/", "multicast address"),
    ],
)
def test_a_loopback_feed_may_not_redirect_to_another_address_class(server, location, words):
    location = location.format(port=server.port)
    url = server.route("/r", lambda _r: Response(302, {"Location": location}, b""))
    started = time.monotonic()
    exc = fetch(FeedConfig(url=url))
    assert isinstance(exc, FetchError), exc
    assert exc.kind == "private_address"
    assert words in exc.message and "allow_private = true" in exc.message
    assert "redirects to" in exc.message
    assert time.monotonic() - started < 1.5  # refused, not attempted


def test_a_loopback_feed_may_redirect_to_another_loopback_address(server, second_loopback):
    url = server.route("/moved", lambda _r: Response(301, {"Location": f"{second_loopback}/f"}))
    result = fetch(FeedConfig(url=url))
    assert isinstance(result, FetchResult), result
    assert result.body == RSS and result.final_url == f"{second_loopback}/f"


@pytest.mark.parametrize(
    ("fetch_setting", "feed_setting", "allowed"),
    [(False, True, True), (True, None, True), (True, False, False), (False, None, False)],
)
def test_allow_private_lets_a_redirect_reach_another_class(
    server, fetch_setting, feed_setting, allowed
):
    """``0.0.0.0`` reaches this machine's 127.0.0.1 server: refused unless allowed
    ([fetch] allow_private, overridden per feed)."""
    server.static("/feed.xml", RSS, {"Content-Type": "application/rss+xml"})
    target = f"http://0.0.0.0:{server.port}/feed.xml"
    url = server.route("/to-any", lambda _r: Response(302, {"Location": target}, b""))
    settings = FetchSettings(connect_timeout_s=2.0, timeout_s=3.0, allow_private=fetch_setting)
    result = fetch(FeedConfig(url=url, allow_private=feed_setting), settings)
    if allowed:
        assert isinstance(result, FetchResult) and result.body == RSS, result
    else:
        assert isinstance(result, FetchError) and result.kind == "private_address", result


def test_a_host_name_is_checked_on_the_address_it_resolves_to(server):
    """``localhost`` is no literal IP: the connection is refused once it resolves to
    127.0.0.1, before anything is sent. This also fails if an httpx upgrade stops using
    our network backend (monitor/fetch/transport.py replaces httpx's pool)."""
    url = server.static("/secret", b"internal", {"Content-Type": "text/plain"})
    local = url.replace("127.0.0.1", "localhost")

    async def run() -> BaseException | None:
        async with FeedClient(FAST) as client:
            try:
                await client.get(local, now=NOW, policy=PUBLIC_ONLY)
            except FetchError as exc:
                return exc
        return None

    exc = asyncio.run(run())
    assert isinstance(exc, FetchError) and exc.kind == "private_address"
    assert "localhost (127.0.0.1) is a loopback address" in exc.message
    assert not server.hits("/secret")


def test_every_hop_is_checked_on_its_resolved_address(server):
    """A redirect to a host name (not a literal address) is refused once it resolves."""
    server.static("/secret", b"internal", {"Content-Type": "text/plain"})
    target = f"http://localhost:{server.port}/secret"
    url = server.route("/hop", lambda _r: Response(302, {"Location": target}, b""))
    lan_only = AddressPolicy(frozenset({"public", "private"}))

    async def run() -> BaseException | None:
        async with FeedClient(FAST) as client:
            try:
                # the first hop is reached under its own policy, the second under lan_only
                await client.get(url, now=NOW, policy=ALLOW_ALL)
                await client.get(url, now=NOW, policy=lan_only)
            except FetchError as exc:
                return exc
        return None

    exc = asyncio.run(run())
    assert isinstance(exc, FetchError) and exc.kind == "private_address", exc
    assert len(server.hits("/secret")) == 1  # reached once, under ALLOW_ALL only


def test_the_connection_goes_to_the_address_that_was_checked(server, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that very address is
    connected to; no second lookup could answer differently. ``rebind.invalid`` exists
    only in this fake resolver (the DNS seam), so reaching the server proves it."""
    server.static("/feed.xml", RSS, {"Content-Type": "application/rss+xml"})
    answers = iter([[("127.0.0.1", ip("127.0.0.1"))], [("169.254.169.254", ip("169.254.169.254"))]])
    lookups: list[str] = []

    async def resolve(host: str, port: int = 443):
        lookups.append(host)
        return next(answers)

    monkeypatch.setattr(transport, "resolve", resolve)
    loopback = AddressPolicy(frozenset({"public", "loopback"}))

    async def run() -> tuple[object, object]:
        async with FeedClient(FAST) as client:
            url = f"http://rebind.invalid:{server.port}/feed.xml"
            first = await client.get(url, now=NOW, policy=loopback)
            second = await client.get(url.replace("rebind", "rebind2"), now=NOW, policy=loopback)
            return first, second

    with pytest.raises(FetchError) as info:
        asyncio.run(run())
    assert lookups == ["rebind.invalid", "rebind2.invalid"]  # one lookup per connection
    assert len(server.hits("/feed.xml")) == 1  # the first reached the checked 127.0.0.1
    assert info.value.kind == "private_address" and "169.254.169.254" in info.value.message


def test_kept_alive_connections_are_never_shared_across_policies(server):
    """A connection opened under a lax policy must not carry a request a strict one
    refuses: each policy has its own pool."""
    server.static("/feed.xml", RSS, {"Content-Type": "application/rss+xml"})
    url = server.url("/feed.xml")

    async def run() -> BaseException | None:
        async with FeedClient(FAST) as client:
            await client.get(url, now=NOW, policy=ALLOW_ALL)  # leaves a kept-alive connection
            try:
                await client.get(url, now=NOW, policy=PUBLIC_ONLY)
            except FetchError as exc:
                return exc
        return None

    exc = asyncio.run(run())
    assert isinstance(exc, FetchError) and exc.kind == "private_address"


# -- article pages (full_text) ----------------------------------------------------------


async def _extract_here(html: bytes, url: str) -> tuple[str, str]:
    """Extraction in this process: these tests are about which pages are fetched."""
    return extract_article(html, url)


def article(url: str, feed_url: str, **feed: object) -> tuple[str, str] | BaseException:
    async def run() -> tuple[str, str]:
        async with FeedClient(FAST) as client:
            config = FeedConfig(url=feed_url, **feed)  # type: ignore[arg-type]
            return await fetch_article_async(
                client, url, now=NOW, feed=config, extract=_extract_here
            )

    try:
        return asyncio.run(run())
    except BaseException as exc:  # noqa: BLE001
        return exc


def test_an_article_on_the_metadata_address_is_not_fetched(server):
    exc = article("http://169.254.169.254/latest/meta-data/", server.url("/feed.xml"))
    assert isinstance(exc, FetchError) and exc.kind == "private_address"
    assert "169.254.169.254 is a link-local address" in exc.message


def test_an_article_redirect_to_the_lan_is_not_followed(server):
    url = server.route("/a/1", lambda _r: Response(302, {"Location": "http://192.168.0.1/"}))
    exc = article(url, server.url("/feed.xml"))
    assert isinstance(exc, FetchError) and exc.kind == "private_address"


def test_an_article_of_a_loopback_feed_on_loopback_is_fetched(server, second_loopback):
    result = article(f"{second_loopback}/page/1", server.url("/feed.xml"))
    assert isinstance(result, tuple) and "Full article text." in result[1], result


def test_an_article_of_a_public_feed_may_not_be_on_loopback(server, second_loopback):
    """The feed's own URL decides: a feed whose host does not resolve brings no class,
    so its article on 127.0.0.2 is refused, unless the feed allows private addresses."""
    feed_url = "https://feed.invalid/rss"
    refused = article(f"{second_loopback}/page/1", feed_url)
    assert isinstance(refused, FetchError) and refused.kind == "private_address"
    allowed = article(f"{second_loopback}/page/1", feed_url, allow_private=True)
    assert isinstance(allowed, tuple), allowed


# -- proxies ----------------------------------------------------------------------------


def test_proxy_mounts_follow_the_environment_like_httpx():
    limits = httpx.Limits()
    env = {
        "http": "127.0.0.1:3128",
        "https": "http://proxy:3128",
        "no": "localhost,10.0.0.0/8,.corp",
    }
    mounts = proxy_mounts(PUBLIC_ONLY, limits, env)
    assert set(mounts) == {
        "http://", "https://", "all://localhost", "all://10.0.0.0/8", "all://*.corp",
    }  # fmt: skip
    assert mounts["all://localhost"] is None and mounts["http://"] is not None
    assert proxy_mounts(PUBLIC_ONLY, limits, {**env, "no": "*"}) == {}
    assert proxy_mounts(PUBLIC_ONLY, limits, {"no": "localhost"}) == {}


def test_through_a_proxy_a_literal_private_target_is_refused_before_sending(server, monkeypatch):
    """The proxy would resolve and connect for us: what we can check, we check first;
    a name only the proxy can resolve is left to it."""
    server.static("/feed.xml", RSS, {"Content-Type": "application/rss+xml"})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def run() -> tuple[object, object]:
        async with FeedClient(FAST) as client:
            via = await client.get("http://feed.invalid/feed.xml", now=NOW, policy=PUBLIC_ONLY)
            try:
                await client.get("http://10.0.0.1/feed.xml", now=NOW, policy=PUBLIC_ONLY)
            except FetchError as exc:
                return via, exc
        return via, None

    via, refused = asyncio.run(run())
    assert getattr(via, "body", None) == RSS  # the proxy (our server) answered it
    assert isinstance(refused, FetchError) and refused.kind == "private_address"
    assert len(server.hits("/feed.xml")) == 1  # the refused one never reached the proxy


def test_a_feed_name_that_resolves_privately_opens_that_class_for_that_name_only() -> None:
    """Whoever runs a public feed's DNS may answer 127.0.0.1: the feed itself is then
    fetched there (the operator chose the name), but its redirects and article links to
    other hosts on loopback stay refused. A literal address or ``localhost`` in the
    config is the operator's own choice of address: that class is open to any host."""
    loopback = ipaddress.ip_address("127.0.0.1")
    named = policy_for([loopback], allow_private=False, host="news.example")
    assert named.permits(loopback, "news.example") and named.permits(loopback, "NEWS.example")
    assert not named.permits(loopback, "127.0.0.1") and not named.permits(loopback, "x.example")
    assert not named.permits(loopback)  # a literal redirect target carries no name
    for literal in ("127.0.0.1", "localhost", "[::1]"):
        own = policy_for([loopback], allow_private=False, host=literal)
        assert own.permits(loopback, "other.example") and own.permits(loopback)


@pytest.mark.parametrize(
    "env",
    [
        {"HTTP_PROXY": "127.0.0.1:3128", "HTTPS_PROXY": "http://proxy:3128",
         "NO_PROXY": "localhost,10.0.0.0/8,.corp,::1,example.org"},
        {"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "*"},
        {"HTTPS_PROXY": "http://proxy:3128"},
    ],
)  # fmt: skip
def test_proxy_mounts_shadow_every_mount_httpx_would_make(monkeypatch, env):
    """The client keeps trust_env, so httpx mounts the environment's proxies itself; ours
    (checked) must sit on exactly the same keys, or one of httpx's unchecked ones would
    serve some requests. Compared with httpx's own function, so an upgrade that changes
    its rules fails here."""
    from httpx._utils import get_environment_proxies

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours = proxy_mounts(PUBLIC_ONLY, httpx.Limits())
    theirs = get_environment_proxies()
    if any(v is not None for v in theirs.values()):
        assert set(ours) == set(theirs)
    else:
        assert ours == {}
