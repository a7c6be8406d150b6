"""Fetch feed bytes over HTTP (or from a local file) within hard bounds, politely.

Bounds: a connect timeout and a total wall-clock deadline per fetch (a server dripping
one byte a second is cut off at the deadline, not per read), a body cap counted after
decompression (we decompress ourselves, incrementally, so a gzip bomb stops at the cap),
at most ``max_redirects`` redirects, http/https only. Politeness: conditional GET
(ETag / Last-Modified) plus a body hash, an unconditional fetch at least every
``force_refetch_s``, at most ``per_host`` concurrent requests per host and ``concurrency``
overall, and the server's hints (Retry-After, Cache-Control max-age) returned to the
scheduler. Every failure is one :class:`FetchError` of a closed set of kinds
(:data:`monitor.errors.FETCH_ERROR_KINDS`), classified in :func:`classify_transport_error`
and :func:`status_error`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from monitor import PROJECT_URL, __version__
from monitor.errors import FetchError
from monitor.log import event
from monitor.records import FeedConfig, FetchSettings
from monitor.secrets import mask_url

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(no-store|no-cache)\b", re.IGNORECASE)


def default_user_agent() -> str:
    """``press-monitor/<version> (+<project url>)``."""
    return f"press-monitor/{__version__} (+{PROJECT_URL})"


@dataclass(frozen=True, slots=True)
class FetchState:
    """What we remember about a feed between fetches (stored on its database row)."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_forced_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful fetch. ``status`` is "ok" (``body`` holds the decompressed bytes)
    or "not_modified" (a 304, or the body hash equals the stored one: ``body`` is None and
    nothing needs parsing). ``forced`` says the request was unconditional: store ``now``
    as ``last_forced_at``. ``max_age_s``/``retry_after_s`` are hints for the scheduler.
    """

    status: str
    body: bytes | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    final_url: str
    http_status: int | None
    max_age_s: float | None = None
    retry_after_s: float | None = None
    forced: bool = False
    duration_ms: int = 0
    moved_to: str | None = None  # the feed moved permanently (301/308): update the config


# -- pure helpers -------------------------------------------------------------------------


def is_force_due(state: FetchState, now: datetime, force_refetch_s: float) -> bool:
    """True when the next fetch must be unconditional (never forced, or too long ago). No I/O."""
    if state.last_forced_at is None:
        return True
    return (now - state.last_forced_at).total_seconds() >= force_refetch_s


def conditional_headers(state: FetchState, forced: bool) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a conditional GET (none when forced). No I/O."""
    if forced:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). No I/O."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` seconds of a Cache-Control header; None with no-store/no-cache. No I/O."""
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def body_hash(body: bytes) -> str:
    """SHA-256 hex digest of a (decompressed) body."""
    return hashlib.sha256(body).hexdigest()


_STATUS_ADVICE = {
    401: "the feed needs a login: check the URL or remove the feed",
    403: "the site refuses us (it may block bots): check the URL in a browser",
    404: "the feed moved or was removed: find its new URL (monitor feeds discover SITE)",
    410: "the feed was removed for good: remove it from the config",
}
_CHALLENGE_ADVICE = (
    "a bot-protection challenge (e.g. Cloudflare) blocks automated readers: ask the "
    "publisher to allow feed readers, or use another feed for this site"
)


def is_bot_challenge(headers: httpx.Headers | dict[str, str]) -> bool:
    """True for a CDN's bot challenge (``cf-mitigated: challenge``). No I/O."""
    return str(headers.get("cf-mitigated", "")).lower() == "challenge"


def status_error(
    status: int, url: str, retry_after_s: float | None = None, *, challenge: bool = False
) -> FetchError:
    """The :class:`FetchError` for a final HTTP status >= 300 that is not a 304. No I/O."""
    where = mask_url(url)
    later = f" in {retry_after_s:.0f} s as asked" if retry_after_s is not None else " with backoff"
    if status == 429:
        return FetchError(
            "rate_limited",
            f"{where} answered 429 Too Many Requests: we poll too often; we retry{later} "
            "(raise the feed's interval if this repeats)",
            status=status,
            retry_after_s=retry_after_s,
        )
    if challenge:
        advice = _CHALLENGE_ADVICE
    elif status >= 500:
        advice = f"the site has a server problem; we retry{later}"
    else:
        advice = _STATUS_ADVICE.get(
            status, "unexpected answer for a feed: check the URL in a browser"
        )
    return FetchError(
        "http_status",
        f"{where} answered HTTP {status}: {advice}",
        status=status,
        retry_after_s=retry_after_s,
    )


def classify_transport_error(
    exc: BaseException, url: str, settings: FetchSettings, deadline_s: float | None = None
) -> FetchError:
    """Map an httpx/OS/TLS exception to a :class:`FetchError`; ``deadline_s`` is the total
    deadline that applied (default: the setting). No I/O."""
    host = urlsplit(url).hostname or mask_url(url)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        phase = "connect" if isinstance(exc, httpx.ConnectTimeout) else "response"
        return FetchError(
            "timeout",
            f"{host} gave no complete {phase} within the limits (connect "
            f"{settings.connect_timeout_s:g} s, total {deadline_s or settings.timeout_s:g} s): the site is slow "
            "or unreachable; we retry with backoff",
        )
    if _is_tls(exc):
        return FetchError(
            "tls",
            f"TLS with {host} failed ({_reason(exc)}): the site's HTTPS is broken or it only "
            "speaks http; check the URL scheme",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError("network", f"{mask_url(url)} is not a valid http(s) URL: fix the URL")
    return FetchError(
        "network",
        f"could not talk to {host} ({_reason(exc)}): check the URL and that the site is up; "
        "we retry with backoff",
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, outermost first (httpx wraps httpcore wraps OSError)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_tls(exc: BaseException) -> bool:
    return any(
        isinstance(e, ssl.SSLError) or "SSL" in str(e) or "TLS" in str(e) for e in _chain(exc)
    )


def _reason(exc: BaseException) -> str:
    """The most specific cause a person understands: refused, DNS, reset, or the message."""
    for e in reversed(_chain(exc)):
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return f"host name not found: {e.strerror}"
        if isinstance(e, ConnectionResetError):
            return "connection reset by the server"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


# -- bounded decompression ----------------------------------------------------------------


def _too_large(cap: int) -> FetchError:
    return FetchError(
        "too_large",
        f"the body exceeds {cap} bytes after decompression: if the feed is legitimately this "
        "large, raise max_bytes for it",
    )


class BoundedBody:
    """Collect a body, decompressing ``gzip``/``deflate`` incrementally; never holds more
    than ``cap`` decompressed bytes (raises ``FetchError("too_large")`` past it).
    """

    def __init__(self, encoding: str | None, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self._parts: list[bytes] = []
        enc = (encoding or "identity").strip().lower()
        if enc in ("", "identity", "none"):
            self._decoder = None
        elif enc in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise FetchError("network", f"the server sent Content-Encoding {enc!r}, not asked for")
        self._encoding = enc

    def feed(self, chunk: bytes) -> None:
        """Add raw (possibly compressed) bytes."""
        if self._decoder is None:
            self._append(chunk)
            return
        try:
            self._inflate(chunk)
        except zlib.error as exc:
            if self._encoding == "deflate" and self.size == 0 and not self._parts:
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no header
                self._encoding = "raw-deflate"
                self.feed(chunk)
                return
            raise FetchError("parse_error", f"the compressed body is corrupt ({exc})") from exc

    def _inflate(self, data: bytes) -> None:
        assert self._decoder is not None
        while data:
            self._append(self._decoder.decompress(data, self.cap - self.size + 1))
            data = self._decoder.unconsumed_tail
            if self._decoder.eof:
                rest = self._decoder.unused_data
                if not rest.startswith(b"\x1f\x8b"):
                    self._decoder = _Drain()  # trailing junk after the stream: ignored
                    return
                data = rest  # another gzip member follows (RFC 1952 2.2)
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            self._parts.clear()
            raise _too_large(self.cap)
        if data:
            self._parts.append(data)

    def result(self) -> bytes:
        """The whole decompressed body."""
        return b"".join(self._parts)


class _Drain:
    """A decompressor stand-in that swallows whatever follows the end of the stream."""

    eof = False
    unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        """Nothing: the body ended before these bytes."""
        return b""


def gunzip_if_gzip(body: bytes, cap: int) -> bytes:
    """Decompress a body that is itself a gzip file (``feed.xml.gz`` served without
    Content-Encoding), within ``cap``; other bodies are returned unchanged."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inner = BoundedBody("gzip", cap)
    inner.feed(body)
    return inner.result()


# -- the client ---------------------------------------------------------------------------


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

    async def fetch(self, feed: FeedConfig, state: FetchState, now: datetime) -> FetchResult:
        """Fetch ``feed`` given what we know from last time; raises :class:`FetchError`."""
        started = time.monotonic()
        forced = is_force_due(state, now, self.settings.force_refetch_s)
        if feed.is_local:
            result = await self._fetch_local(feed, state, forced)
        else:
            result = await self._fetch_http(feed, state, now, forced)
        duration_ms = int((time.monotonic() - started) * 1000)
        event(log, "feed.fetched", logging.DEBUG, feed_url=mask_url(feed.url),
              status=result.status, http_status=result.http_status, duration_ms=duration_ms)  # fmt: skip
        return replace(result, duration_ms=duration_ms)

    async def _fetch_http(
        self, feed: FeedConfig, state: FetchState, now: datetime, forced: bool
    ) -> FetchResult:
        cap = feed.max_bytes or self.settings.max_bytes
        resp = await self.get(
            feed.url, conditional_headers(state, forced), cap=cap, deadline_s=feed.timeout_s,
            accept=ACCEPT, allow_304=True, now=now,
        )  # fmt: skip
        h = resp.headers
        common = {
            "content_type": h.get("content-type"),
            "final_url": resp.url,
            "moved_to": resp.moved_to,
            "http_status": resp.status,
            "max_age_s": parse_max_age(h.get("cache-control")),
            "retry_after_s": parse_retry_after(h.get("retry-after"), now),
            "forced": forced,
        }
        if resp.status == 304 or resp.body is None:  # a 304 may omit unchanged validators
            etag, modified = h.get("etag") or state.etag, h.get("last-modified")
            common.update(etag=etag, last_modified=modified or state.last_modified)
            return FetchResult("not_modified", None, body_hash=state.body_hash, **common)
        common.update(etag=h.get("etag"), last_modified=h.get("last-modified"))
        return _result_for_body(gunzip_if_gzip(resp.body, cap), state, common)

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        cap: int | None = None,
        deadline_s: float | None = None,
        accept: str = "*/*",
        allow_304: bool = False,
        now: datetime | None = None,
    ) -> Page:
        """GET ``url`` within every bound, following redirects; raises :class:`FetchError`
        for transport failures and any final status other than 2xx (and 304 if allowed).
        ``now`` dates a Retry-After given as an HTTP-date (default: the clock)."""
        if self._http is None:
            raise RuntimeError("FeedClient is used outside 'async with'")
        cap = cap or self.settings.max_bytes
        deadline = deadline_s or self.settings.timeout_s
        now = now or datetime.now(UTC)
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
                return Page(status, resp.headers, None, url)
            if status == 304 and allow_304:
                return Page(status, resp.headers, None, url)
            if not 200 <= status < 300:
                retry_after = parse_retry_after(resp.headers.get("retry-after"), now)
                raise status_error(
                    status, url, retry_after, challenge=is_bot_challenge(resp.headers)
                )
            return Page(status, resp.headers, await _read_capped(resp, cap), url)

    async def fetch_article(self, url: str) -> tuple[str, str]:
        """Fetch an article page within the feed bounds; return ``(title, main text)``.
        Raises :class:`FetchError`. See :mod:`monitor.extract`."""
        from monitor.extract import fetch_article_async

        return await fetch_article_async(self, url)

    async def _fetch_local(self, feed: FeedConfig, state: FetchState, forced: bool) -> FetchResult:
        cap = feed.max_bytes or self.settings.max_bytes
        path = Path(feed.url.removeprefix("file://")).expanduser()
        if "://" in feed.url and not feed.url.startswith("file://"):
            raise FetchError("network", f"{mask_url(feed.url)}: only http(s) URLs and local files")
        try:
            stat = path.stat()
            mtime = format_datetime(datetime.fromtimestamp(stat.st_mtime, tz=UTC), usegmt=True)
            common = {"content_type": _local_content_type(path), "etag": None,
                      "last_modified": mtime, "final_url": str(path), "http_status": None,
                      "forced": forced}  # fmt: skip
            if not forced and state.last_modified == mtime and state.body_hash:
                return FetchResult("not_modified", None, body_hash=state.body_hash, **common)
            if stat.st_size > cap:
                raise _too_large(cap)
            raw = await asyncio.to_thread(_read_prefix, path, cap + 1)
        except OSError as exc:
            raise FetchError(
                "network", f"cannot read the local feed file {path}: {exc.strerror}"
            ) from exc
        if len(raw) > cap:  # the file grew after stat()
            raise _too_large(cap)
        return _result_for_body(gunzip_if_gzip(raw, cap), state, common)


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


async def _read_capped(resp: httpx.Response, cap: int) -> bytes:
    encoding = resp.headers.get("content-encoding")
    length = resp.headers.get("content-length", "")
    if not encoding and length.isdigit() and int(length) > cap:
        raise _too_large(cap)
    collector = BoundedBody(encoding, cap)
    async for chunk in resp.aiter_raw():
        collector.feed(chunk)
    return collector.result()


def _result_for_body(body: bytes, state: FetchState, common: dict) -> FetchResult:
    digest = body_hash(body)
    if digest == state.body_hash:
        return FetchResult("not_modified", None, body_hash=digest, **common)
    return FetchResult("ok", body, body_hash=digest, **common)


def _read_prefix(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(limit)


def _local_content_type(path: Path) -> str | None:
    return "application/feed+json" if path.suffix.lower() == ".json" else None
