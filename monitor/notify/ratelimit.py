"""Per-channel token buckets: how fast one channel may be sent to. No I/O.

Defaults follow the providers' published limits: Telegram allows about one message a
second per chat ("short bursts" tolerated: we allow 3) and 20 a minute per group chat
(negative chat id: one per 3 s, no burst); ``console://`` is unlimited; any other
apprise URL gets one a second with bursts of 5. ``ChannelConfig.rate_limit`` (parsed
from "N/s", "N/min", "N/h" by the config loader) overrides the default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.records import ChannelKind, Rate


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket's state at instant ``at`` (UTC)."""

    tokens: float
    at: datetime
    blocked_until: datetime | None = None  # a server said "retry after"


def default_rate(kind: ChannelKind, is_group_chat: bool = False) -> Rate | None:
    """The default rate of a channel kind; None means unlimited.

    Telegram group chats get 1 message per 3 s (never more than 20 in any minute),
    private chats 1 a second after a burst of 3; other kinds 1 a second after 5.
    """
    if kind == "console":
        return None
    if kind == "telegram":
        return Rate(per_s=20 / 60, burst=1.0) if is_group_chat else Rate(per_s=1.0, burst=3.0)
    return Rate(per_s=1.0, burst=5.0)


def refill(bucket: Bucket | None, rate: Rate, now: datetime) -> Bucket:
    """The bucket at ``now``: full when new, else topped up by the time elapsed."""
    if bucket is None:
        return Bucket(tokens=rate.burst, at=now)
    elapsed = max(0.0, (now - bucket.at).total_seconds())
    return replace(bucket, tokens=min(rate.burst, bucket.tokens + elapsed * rate.per_s), at=now)


def wait_s(bucket: Bucket, rate: Rate, now: datetime) -> float:
    """Seconds until one token is available (0 when one is available now)."""
    if bucket.blocked_until is not None and bucket.blocked_until > now:
        return (bucket.blocked_until - now).total_seconds()
    missing = 1.0 - bucket.tokens
    return 0.0 if missing <= 1e-9 else missing / rate.per_s


def take(bucket: Bucket) -> Bucket:
    """The bucket after spending one token."""
    return replace(bucket, tokens=bucket.tokens - 1.0)


def dump_bucket(bucket: Bucket) -> str:
    """A bucket as JSON, for the state table."""
    blocked = bucket.blocked_until.isoformat() if bucket.blocked_until else None
    return json.dumps(
        {"tokens": bucket.tokens, "at": bucket.at.isoformat(), "blocked_until": blocked}
    )


def load_bucket(raw: str | None) -> Bucket | None:
    """The inverse of :func:`dump_bucket`; None when absent or unreadable."""
    try:
        data = json.loads(raw or "")
        blocked = data.get("blocked_until")
        return Bucket(
            float(data["tokens"]),
            datetime.fromisoformat(data["at"]),
            datetime.fromisoformat(blocked) if blocked else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
