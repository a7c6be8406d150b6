"""Fetch feed bytes over HTTP (or from a local file) within hard bounds, politely.

Bounds: a connect timeout and a total wall-clock deadline per fetch (a server dripping
one byte a second is cut off at the deadline, not per read), a body cap counted after
decompression (:mod:`monitor.fetch.body`: we decompress ourselves, incrementally, so a
gzip bomb stops at the cap), at most ``max_redirects`` redirects, http/https only.
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
from monitor.fetch.body import gunzip_if_gzip, read_capped
from monitor.fetch.failures import classify_transport_error, is_bot_challenge, status_error
from monitor.fetch.hints import parse_max_age, parse_retry_after
from monitor.fetch.local import fetch_local
from monitor.fetch.state import (
    FetchResult,
    FetchState,
    conditional_headers,
    is_force_due,
    result_for_body,
)
from monitor.log import event
from monitor.records import FeedConfig, FetchSettings
from monitor.secrets import mask_url

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


class FeedClient:
    """Fetches feeds; owns the ``httpx.AsyncClient`` and the concurrency limits.

    Use as ``async with FeedClient(settings) as client: await client.fetch(...)``.
    """

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.user_agent = settings.user_agent or default_user_agent()
        self._http: httpx.AsyncClient | None = None
        self._overall = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> FeedClient:
        s = self.settings
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s),
            follow_redirects=False,  # we follow them ourselves: count, loop check, scheme check
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(
                max_connections=s.concurrency, max_keepalive_connections=s.concurrency
            ),
            trust_env=True,  # HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE from the environment
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

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
            accept=ACCEPT, allow_304=True, now=now,
        )  # fmt: skip
        h = resp.headers
        content_type = h.get("content-type")
        max_age_s = parse_max_age(h.get("cache-control"))
        retry_after_s = parse_retry_after(h.get("retry-after"), now)
        if resp.status == 304 or resp.body is None:  # a 304 may omit unchanged validators
            etag, modified = h.get("etag") or state.etag, h.get("last-modified")
            return FetchResult(
                status="not_modified", body=None, content_type=content_type, etag=etag,
                last_modified=modified or state.last_modified, body_hash=state.body_hash,
                final_url=resp.url, http_status=resp.status, max_age_s=max_age_s,
                retry_after_s=retry_after_s, forced=forced, moved_to=resp.moved_to,
            )  # fmt: skip
        return result_for_body(
            gunzip_if_gzip(resp.body, cap), state, content_type=content_type,
            etag=h.get("etag"), last_modified=h.get("last-modified"), final_url=resp.url,
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
    ) -> Page:
        """GET ``url`` within every bound, following redirects; raises :class:`FetchError`
        for transport failures and any final status other than 2xx (and 304 if allowed).
        ``now`` (the caller's clock) dates a Retry-After given as an HTTP-date."""
        if self._http is None:
            raise RuntimeError("FeedClient is used outside 'async with'")
        cap = cap or self.settings.max_bytes
        deadline = deadline_s or self.settings.timeout_s
        async with self._slot(url):
            try:
                async with asyncio.timeout(deadline):
                    return await self._follow(
                        url, {"Accept": accept, **(headers or {})}, cap, allow_304, now
                    )
            except FetchError:
                raise
            except (TimeoutError, httpx.HTTPError, OSError, ssl.SSLError) as exc:
                raise classify_transport_error(exc, url, self.settings, deadline) from exc

    async def _follow(
        self, url: str, headers: dict[str, str], cap: int, allow_304: bool, now: datetime
    ) -> Page:
        chain, permanent = [url], True
        for _ in range(self.settings.max_redirects + 1):
            resp = await self._once(chain[-1], headers, cap, allow_304, now)
            if resp.status not in REDIRECT_STATUSES:
                moved = chain[-1] if permanent and len(chain) > 1 else None
                return replace(resp, moved_to=moved)
            permanent = permanent and resp.status in (301, 308)
            chain.append(_redirect_target(chain, resp))
        raise FetchError(
            "redirect_loop",
            f"more than {self.settings.max_redirects} redirects from {mask_url(url)}: "
            f"the site is misconfigured; try the last URL ({mask_url(chain[-1])}) directly",
        )

    async def _once(
        self, url: str, headers: dict[str, str], cap: int, allow_304: bool, now: datetime
    ) -> Page:
        assert self._http is not None
        async with self._http.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            if status in REDIRECT_STATUSES and resp.headers.get("location"):
                return Page(status=status, headers=resp.headers, body=None, url=url)
            if status == 304 and allow_304:
                return Page(status=status, headers=resp.headers, body=None, url=url)
            if not 200 <= status < 300:
                retry_after = parse_retry_after(resp.headers.get("retry-after"), now)
                raise status_error(
                    status, url, retry_after, challenge=is_bot_challenge(resp.headers)
                )
            body = await read_capped(resp, cap)
            return Page(status=status, headers=resp.headers, body=body, url=url)


def _redirect_target(chain: list[str], resp: Page) -> str:
    target = urljoin(chain[-1], resp.headers["location"].strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchError(
            "http_status",
            f"{mask_url(chain[0])} redirects to a non-http(s) URL ({mask_url(target)}): refused",
            status=resp.status,
        )
    if target in chain:
        loop = " -> ".join(mask_url(u) for u in [*chain[chain.index(target) :], target])
        raise FetchError(
            "redirect_loop",
            f"redirect loop {loop}: the site is misconfigured; check the URL in a browser",
            status=resp.status,
        )
    return target
