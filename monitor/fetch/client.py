"""Fetch feed bytes over HTTP (or from a local file) within hard bounds, politely.

Bounds: a connect timeout and a total wall-clock deadline per fetch (a server dripping
one byte a second is cut off at the deadline, not per read), a body cap counted after
decompression (:mod:`monitor.fetch.body`: we decompress ourselves, incrementally, so a
gzip bomb stops at the cap), at most ``max_redirects`` redirects, http/https only. Every URL (configured, redirected to,
or an article link) is vetted before httpx sees it (:func:`checked_url`), so a hostile
one is a :class:`FetchError`, never httpx's ``InvalidURL``; and every connection obeys
an :class:`~monitor.fetch.addresses.AddressPolicy` (no loopback, private or metadata
address a feed's own URL is not on, unless ``allow_private``), checked on the resolved
address of every hop and pinned to it (:mod:`monitor.fetch.transport`).
Politeness: conditional GET (ETag / Last-Modified) plus a body hash
(:mod:`monitor.fetch.state`), an unconditional fetch at least every ``force_refetch_s``, at
most ``per_host`` concurrent requests per host and ``concurrency`` overall, and the
server's hints (Retry-After, Cache-Control max-age; :mod:`monitor.fetch.hints`) returned
to the scheduler. Every failure is one :class:`FetchError` of a closed set of kinds
(:data:`monitor.errors.FetchErrorKind`), classified in :mod:`monitor.fetch.failures`.
Local files: :mod:`monitor.fetch.local`; article pages: :mod:`monitor.fetch.article`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor import PROJECT_URL, __version__
from monitor.errors import FetchError
from monitor.fetch.addresses import AddressPolicy, parse_ip, policy_for, refusal
from monitor.fetch.body import gunzip_if_gzip, read_capped
from monitor.fetch.failures import (
    classify_transport_error,
    is_bot_challenge,
    shown_url,
    status_error,
)
from monitor.fetch.hints import parse_max_age, parse_retry_after
from monitor.fetch.local import fetch_local
from monitor.fetch.state import (
    FetchResult,
    FetchState,
    conditional_headers,
    is_force_due,
    result_for_body,
    validator,
)
from monitor.fetch.transport import http_client, resolve
from monitor.log import event
from monitor.records import FeedConfig, FetchSettings
from monitor.secrets import mask_url
from monitor.text import printable, url_problem

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


def default_user_agent() -> str:
    """``press-monitor/<version> (+<project url>)``."""
    return f"press-monitor/{__version__} (+{PROJECT_URL})"


@dataclass(frozen=True, slots=True)
class Page:
    """What :meth:`FeedClient.get` returns: the final status, headers, decompressed body
    (None for a 304) and the URL after redirects."""

    status: int
    headers: httpx.Headers
    body: bytes | None
    url: str
    moved_to: str | None = None  # set when every redirect on the way was permanent
    location: str | None = None  # a redirect's Location, as sent (see _take_location)


def checked_url(url: str) -> str | None:
    """What makes ``url`` one we will not request, or None when it is fine: the checks
    of :func:`monitor.text.url_problem`, then httpx's own parse (an IDN that does not
    encode, a malformed IPv6 host). No I/O."""
    problem = url_problem(url)
    if problem is not None:
        return problem
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        if parse_ip(host) is None and parsed.host:  # .host decodes punycode: "xn--" fails
            host.encode("idna")  # what the resolver does: labels of 1 to 63 characters
    except (httpx.InvalidURL, ValueError) as exc:  # IDNAError, UnicodeError are ValueErrors
        return printable(str(exc), 120) or type(exc).__name__
    return None


def encode_spaces(url: str) -> str:
    """``url`` with the spaces of its path, query and fragment percent-encoded: a space in
    a configured URL was always sent that way, so such configs keep working (a redirect
    or an entry link with a space is refused instead). A space in the host stays. No I/O."""
    head, sep, rest = url.partition("://")
    if not sep or " " not in rest:
        return url
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{head}://{rest[:cut]}{rest[cut:].replace(' ', '%20')}"


async def _take_location(response: httpx.Response) -> None:
    """Response hook: take a redirect's Location out of httpx's sight. httpx parses it
    even when it follows no redirects (to offer ``next_request``), and a hostile one
    (``javascript:x``, ``http://xn--/``) raises InvalidURL or IDNAError out of the
    request; :func:`_redirect_target` vets it instead."""
    if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
        response.extensions["press_monitor.location"] = response.headers["location"]
        del response.headers["location"]


class FeedClient:
    """Fetches feeds; owns the ``httpx.AsyncClient`` and the concurrency limits.

    Use as ``async with FeedClient(settings) as client: await client.fetch(...)``.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.user_agent = settings.user_agent or default_user_agent()
        self._open = False
        self._clients: dict[AddressPolicy, httpx.AsyncClient] = {}  # one pool per policy
        self._policies: dict[tuple[str, bool], AddressPolicy] = {}
        self._overall = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> FeedClient:
        self._open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _http(self, policy: AddressPolicy) -> httpx.AsyncClient:
        """The httpx client whose connections obey ``policy`` (made on first use)."""
        if not self._open:
            raise RuntimeError("FeedClient is used outside 'async with'")
        client = self._clients.get(policy)
        if client is None:
            s = self.settings
            client = self._clients[policy] = http_client(
                policy,
                timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s),
                limits=httpx.Limits(
                    max_connections=s.concurrency, max_keepalive_connections=s.concurrency
                ),
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
                on_response=_take_location,
            )
        return client

    async def policy_for(self, url: str, *, allow_private: bool | None = None) -> AddressPolicy:
        """Which addresses a fetch that starts at ``url`` (a feed's own URL, or one the
        operator gave) may reach: public ones plus every class ``url``'s host resolves to
        (:func:`~monitor.fetch.addresses.policy_for`); everything when ``allow_private``
        (default: the ``[fetch]`` setting). A host that does not resolve adds nothing
        (the fetch itself then reports it)."""
        allow = self.settings.allow_private if allow_private is None else allow_private
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        key = (host, allow)
        if key not in self._policies:
            try:
                async with asyncio.timeout(self.settings.connect_timeout_s):
                    origin = [ip for _, ip in await resolve(host)] if host and not allow else []
            except (OSError, TimeoutError, UnicodeError):
                origin = []
            self._policies[key] = policy_for(origin, allow_private=allow, host=host)
        return self._policies[key]

    async def feed_policy(self, feed: FeedConfig) -> AddressPolicy:
        """:meth:`policy_for` the feed's own URL and its ``allow_private``: what its
        redirects and its articles' pages may reach."""
        return await self.policy_for(feed.url, allow_private=feed.allow_private)

    @asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with self._overall, per_host:
            yield

    def _cap(self, feed: FeedConfig) -> int:
        """The feed's body cap: its own ``max_bytes`` or the global one."""
        return feed.max_bytes or self.settings.max_bytes

    async def fetch(self, feed: FeedConfig, state: FetchState, now: datetime) -> FetchResult:
        """Fetch ``feed`` given what we know from last time; raises :class:`FetchError`."""
        started = time.monotonic()
        forced = is_force_due(state, now, self.settings.force_refetch_s)
        if feed.is_local:
            result = await fetch_local(feed, state, forced, self._cap(feed))
        else:
            result = await self._fetch_http(feed, state, now, forced)
        duration_ms = int((time.monotonic() - started) * 1000)
        event(log, "feed.fetched", logging.DEBUG, feed_url=mask_url(feed.url),
              status=result.status, http_status=result.http_status, duration_ms=duration_ms)  # fmt: skip
        return replace(result, duration_ms=duration_ms)

    async def _fetch_http(
        self, feed: FeedConfig, state: FetchState, now: datetime, forced: bool
    ) -> FetchResult:
        cap = self._cap(feed)
        resp = await self.get(
            feed.url, conditional_headers(state, forced), cap=cap, deadline_s=feed.timeout_s,
            accept=ACCEPT, allow_304=True, now=now, policy=await self.feed_policy(feed),
        )  # fmt: skip
        h = resp.headers
        content_type = h.get("content-type")
        max_age_s = parse_max_age(h.get("cache-control"))
        retry_after_s = parse_retry_after(h.get("retry-after"), now)
        if resp.status == 304 or resp.body is None:  # a 304 may omit unchanged validators
            etag, modified = (
                validator(h.get("etag")) or state.etag,
                validator(h.get("last-modified")),
            )
            return FetchResult(
                status="not_modified", body=None, content_type=content_type, etag=etag,
                last_modified=modified or state.last_modified, body_hash=state.body_hash,
                final_url=resp.url, http_status=resp.status, max_age_s=max_age_s,
                retry_after_s=retry_after_s, forced=forced, moved_to=resp.moved_to,
            )  # fmt: skip
        return result_for_body(
            gunzip_if_gzip(resp.body, cap), state, content_type=content_type,
            etag=validator(h.get("etag")), last_modified=validator(h.get("last-modified")),
            final_url=resp.url,
            http_status=resp.status, max_age_s=max_age_s, retry_after_s=retry_after_s,
            forced=forced, moved_to=resp.moved_to,
        )  # fmt: skip

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        cap: int | None = None,
        deadline_s: float | None = None,
        accept: str = "*/*",
        allow_304: bool = False,
        now: datetime,
        policy: AddressPolicy | None = None,
    ) -> Page:
        """GET ``url`` within every bound, following redirects; raises :class:`FetchError`
        for an invalid URL, an address ``policy`` refuses, transport failures and any
        final status other than 2xx (and 304 if allowed), never anything else for what a
        server sends. ``policy`` defaults to :meth:`policy_for` ``url`` itself (a URL the
        operator gave); an article link must pass its feed's (:meth:`feed_policy`).
        ``now`` (the caller's clock) dates a Retry-After given as an HTTP-date."""
        if not self._open:
            raise RuntimeError("FeedClient is used outside 'async with'")
        url = encode_spaces(url.strip())
        problem = checked_url(url)
        if problem is not None:
            raise FetchError(
                "network", f"{shown_url(url)} is not a valid http(s) URL ({problem}): fix the URL"
            )
        cap = cap or self.settings.max_bytes
        deadline = deadline_s or self.settings.timeout_s
        async with self._slot(url):
            try:
                async with asyncio.timeout(deadline):
                    policy = policy or await self.policy_for(url)
                    return await self._follow(
                        url, {"Accept": accept, **(headers or {})}, cap, allow_304, now, policy
                    )
            except FetchError:
                raise
            except (TimeoutError, httpx.HTTPError, OSError, ssl.SSLError) as exc:
                raise classify_transport_error(exc, url, self.settings, deadline) from exc
            except (httpx.InvalidURL, ValueError) as exc:  # vetted above; kept as a net
                raise FetchError(
                    "network",
                    f"{shown_url(url)} could not be requested ({printable(str(exc), 120)})",
                ) from exc

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        cap: int,
        allow_304: bool,
        now: datetime,
        policy: AddressPolicy,
    ) -> Page:
        chain, permanent = [url], True
        for _ in range(self.settings.max_redirects + 1):
            resp = await self._once(chain[-1], headers, cap, allow_304, now, policy)
            if resp.status not in REDIRECT_STATUSES:
                moved = chain[-1] if permanent and len(chain) > 1 else None
                return replace(resp, moved_to=moved)
            permanent = permanent and resp.status in (301, 308)
            chain.append(_redirect_target(chain, resp, policy))
        raise FetchError(
            "redirect_loop",
            f"more than {self.settings.max_redirects} redirects from {shown_url(url)}: "
            f"the site is misconfigured; try the last URL ({shown_url(chain[-1])}) directly",
        )

    async def _once(
        self,
        url: str,
        headers: dict[str, str],
        cap: int,
        allow_304: bool,
        now: datetime,
        policy: AddressPolicy,
    ) -> Page:
        async with self._http(policy).stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            location = resp.extensions.get("press_monitor.location")
            if status in REDIRECT_STATUSES and location:
                return Page(status, resp.headers, None, url, location=location)
            if status == 304 and allow_304:
                return Page(status=status, headers=resp.headers, body=None, url=url)
            if not 200 <= status < 300:
                retry_after = parse_retry_after(resp.headers.get("retry-after"), now)
                raise status_error(
                    status, url, retry_after, challenge=is_bot_challenge(resp.headers)
                )
            body = await read_capped(resp, cap)
            return Page(status=status, headers=resp.headers, body=body, url=url)


def _redirect_target(chain: list[str], resp: Page, policy: AddressPolicy) -> str:
    """The URL ``resp`` redirects to, vetted: an http(s) URL we can request, not visited
    yet on this chain, and not on a literal address ``policy`` refuses (a host name is
    checked once resolved, when it is connected to)."""
    here = shown_url(chain[-1])
    target = (resp.location or "").strip()
    problem, scheme = url_problem(target, relative=True), ""
    if problem is None:
        try:
            target = urljoin(chain[-1], target)
            scheme = urlsplit(target).scheme.lower()
        except ValueError as exc:  # "Invalid IPv6 URL"
            problem = str(exc).lower()
    if problem is None and scheme in ("http", "https"):
        problem = checked_url(target)
    if problem is None and scheme not in ("http", "https"):
        raise FetchError(
            "http_status",
            f"{here} redirects to a non-http(s) URL ({shown_url(target)[:80]}): refused",
            status=resp.status,
        )
    if problem is not None:
        raise FetchError(
            "http_status",
            f"{here} redirects to an invalid URL ({shown_url(target)[:80]}: {problem}): "
            "refused; the site is misconfigured, check the feed URL in a browser",
            status=resp.status,
        )
    if target in chain:
        loop = " -> ".join(shown_url(u) for u in [*chain[chain.index(target) :], target])
        raise FetchError(
            "redirect_loop",
            f"redirect loop {loop}: the site is misconfigured; check the URL in a browser",
            status=resp.status,
        )
    host = urlsplit(target).hostname or ""
    ip = parse_ip(host)
    if ip is not None and not policy.permits(ip):
        raise refusal(host, ip, redirect_from=here)
    return target
