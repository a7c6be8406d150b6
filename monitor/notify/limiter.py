"""The token buckets of every channel for one delivery cycle. No I/O.

Pure bucket arithmetic is in :mod:`monitor.notify.ratelimit`; this class picks each
channel's rate and holds its bucket. The buckets travel as text (:meth:`ChannelLimits.load`,
:meth:`ChannelLimits.dump`): :mod:`monitor.delivery` keeps them in the state table, so
limits and a server's "retry after" hold across cycles and restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from monitor.notify.ratelimit import (
    Bucket,
    default_rate,
    dump_bucket,
    load_bucket,
    refill,
    take,
    wait_s,
)
from monitor.notify.telegram import is_group_chat
from monitor.records import ChannelConfig, Rate


def channel_rate(channel: ChannelConfig) -> Rate | None:
    """The channel's configured rate, else the default of its kind (None: unlimited)."""
    if channel.rate_limit is not None:
        return channel.rate_limit
    kind = channel.kind
    return default_rate(kind, kind == "telegram" and is_group_chat(channel.url))


class ChannelLimits:
    """Buckets by channel name: ``load`` them, ask ``wait``, ``take`` a token, ``save``."""

    def __init__(self, channels: dict[str, ChannelConfig]) -> None:
        self.rates = {name: channel_rate(c) for name, c in channels.items()}
        self.buckets: dict[str, Bucket] = {}

    def is_limited(self, name: str) -> bool:
        """True when the channel has a rate limit (unlimited channels never fold bursts)."""
        return self.rates.get(name) is not None

    def load(self, stored: Mapping[str, str | None], at: datetime) -> None:
        """Take every channel's saved bucket (:meth:`dump` text by channel name); a
        channel seen for the first time, or with an unreadable bucket, starts full."""
        for name, rate in self.rates.items():
            bucket = load_bucket(stored.get(name))
            self.buckets[name] = bucket or Bucket(rate.burst if rate else 1.0, at)

    def wait(self, name: str, at: datetime) -> float:
        """Seconds until the channel may send (0: now)."""
        rate, bucket = self.rates[name], self.buckets[name]
        if rate is None:
            blocked = bucket.blocked_until
            return max(0.0, (blocked - at).total_seconds()) if blocked else 0.0
        self.buckets[name] = refill(bucket, rate, at)
        return wait_s(self.buckets[name], rate, at)

    def take(self, name: str) -> None:
        """Spend one token (one message sent or tried)."""
        if self.rates[name] is not None:
            self.buckets[name] = take(self.buckets[name])

    def block(self, name: str, until: datetime) -> None:
        """The service said "retry after": nothing goes to the channel until ``until``."""
        self.buckets[name] = replace(self.buckets[name], blocked_until=until)

    def dump(self) -> dict[str, str]:
        """Every bucket as text by channel name, for :meth:`load` next cycle."""
        return {name: dump_bucket(bucket) for name, bucket in self.buckets.items()}
