"""What we remember about a feed between fetches, what one fetch returns, and the pure
decisions built on them: whether the next request must be unconditional, which
conditional-GET headers to send, and whether a body is unchanged (same SHA-256). No I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FetchStatus = Literal["ok", "not_modified"]


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

    status: FetchStatus
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


def is_force_due(state: FetchState, now: datetime, force_refetch_s: float) -> bool:
    """True when the next fetch must be unconditional (never forced, or too long ago). No I/O."""
    if state.last_forced_at is None:
        return True
    return (now - state.last_forced_at).total_seconds() >= force_refetch_s


MAX_VALIDATOR_LEN = 1024


def validator(value: str | None) -> str | None:
    """An ETag / Last-Modified worth keeping and sending back, or None. No I/O.

    The server chose it, so it is hostile: one that is not visible ASCII (RFC 9110
    field values; httpx cannot even encode others) or is absurdly long would make
    every later conditional GET fail, and the feed would never recover."""
    if not value or len(value) > MAX_VALIDATOR_LEN:
        return None
    if not all(" " <= c <= "~" for c in value):
        return None
    return value.strip() or None


def conditional_headers(state: FetchState, forced: bool) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a conditional GET (none when forced); a
    validator that cannot be sent back (see :func:`validator`) is left out. No I/O."""
    if forced:
        return {}
    headers: dict[str, str] = {}
    if etag := validator(state.etag):
        headers["If-None-Match"] = etag
    if modified := validator(state.last_modified):
        headers["If-Modified-Since"] = modified
    return headers


def body_hash(body: bytes) -> str:
    """SHA-256 hex digest of a (decompressed) body."""
    return hashlib.sha256(body).hexdigest()


def result_for_body(
    body: bytes,
    state: FetchState,
    *,
    content_type: str | None,
    etag: str | None,
    last_modified: str | None,
    final_url: str,
    http_status: int | None,
    forced: bool,
    max_age_s: float | None = None,
    retry_after_s: float | None = None,
    moved_to: str | None = None,
) -> FetchResult:
    """An "ok" result for ``body``, or "not_modified" when its hash equals the stored one.
    The keyword arguments are the other :class:`FetchResult` fields. No I/O."""
    digest = body_hash(body)
    unchanged = digest == state.body_hash
    return FetchResult(
        status="not_modified" if unchanged else "ok",
        body=None if unchanged else body,
        content_type=content_type,
        etag=etag,
        last_modified=last_modified,
        body_hash=digest,
        final_url=final_url,
        http_status=http_status,
        max_age_s=max_age_s,
        retry_after_s=retry_after_s,
        forced=forced,
        moved_to=moved_to,
    )
