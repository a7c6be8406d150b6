"""Classify every fetch failure once, into a :class:`~monitor.errors.FetchError` of the
closed set of kinds (:data:`monitor.errors.FETCH_ERROR_KINDS`), each with a message a
person can act on: :func:`status_error` for a final HTTP status, and
:func:`classify_transport_error` for httpx/OS/TLS exceptions (timeout, network, TLS).
The exception tree itself lives in :mod:`monitor.errors`. No I/O.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import httpx

from monitor.errors import FetchError
from monitor.records import FetchSettings
from monitor.schedule import MAX_INTERVAL_S
from monitor.secrets import mask_url
from monitor.text import printable

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


def shown_url(url: str) -> str:
    """``url`` as a message may show it: secrets masked, control characters escaped,
    at most 200 characters (a redirect target may be 8,192). No I/O."""
    return printable(mask_url(printable(url, 4000)), 200)  # escape first: urlsplit drops controls


def is_bot_challenge(headers: httpx.Headers | dict[str, str]) -> bool:
    """True for a CDN's bot challenge (``cf-mitigated: challenge``). No I/O."""
    return str(headers.get("cf-mitigated", "")).lower() == "challenge"


def status_error(
    status: int, url: str, retry_after_s: float | None = None, *, challenge: bool = False
) -> FetchError:
    """The :class:`FetchError` for a final HTTP status >= 300 that is not a 304. No I/O."""
    where = shown_url(url)
    later = " with backoff"
    if retry_after_s is not None:  # said as scheduled: a hint is clamped to MAX_INTERVAL_S
        later = f" in {min(retry_after_s, MAX_INTERVAL_S):.0f} s as asked"
        if retry_after_s > MAX_INTERVAL_S:
            later = f" in {MAX_INTERVAL_S:.0f} s (the server asked for longer)"
    if status == 429:
        return FetchError(
            "rate_limited",
            f"{where} answered 429 Too Many Requests: we poll too often; we retry{later} "
            "(raise the feed's interval if this repeats)",
            status=status,
            retry_after_s=retry_after_s,
        )
    return FetchError(
        "http_status",
        f"{where} answered HTTP {status}: {_status_advice(status, later, challenge)}",
        status=status,
        retry_after_s=retry_after_s,
    )


def _status_advice(status: int, later: str, challenge: bool) -> str:
    """What a person can do about a non-429 error status; ``later`` says when we retry."""
    if challenge:
        return _CHALLENGE_ADVICE
    if status >= 500:
        return f"the site has a server problem; we retry{later}"
    return _STATUS_ADVICE.get(status, "unexpected answer for a feed: check the URL in a browser")


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
