"""When to check a feed next, and what state a feed is in. No I/O.

The interval: our own, server hints, failures and jitter.

Next check = max(our interval, server hints: Retry-After, Cache-Control max-age, RSS
``<ttl>``), clamped to [:data:`MIN_INTERVAL_S`, :data:`MAX_INTERVAL_S`], plus a little
jitter so feeds that share a host drift apart. A failing feed backs off exponentially,
``min(interval * 2**failures, MAX_BACKOFF_S)``, but never earlier than a Retry-After it
was given; one success resets the failure count (the caller stores ``failures=0``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal, get_args

MIN_INTERVAL_S = 60.0
MAX_INTERVAL_S = 24 * 3600.0
MAX_BACKOFF_S = 6 * 3600.0
JITTER_FRACTION = 0.1  # up to +10 %: never earlier than a server asked

FeedStatus = Literal["new", "ok", "failing", "backing_off", "broken"]
FEED_STATES: tuple[FeedStatus, ...] = get_args(FeedStatus)
"""The one feed vocabulary of ``monitor feeds``, ``monitor status`` and ``/metrics``."""
BACKING_OFF_AFTER = 3  # consecutive failures after which a feed counts as backing off


def _jitter(delay_s: float, rng: random.Random | None) -> float:
    """``delay_s`` plus up to :data:`JITTER_FRACTION` of it (never less)."""
    draw = (rng or random).random()
    return delay_s * (1.0 + JITTER_FRACTION * draw)


def _clamp(delay_s: float) -> float:
    return min(max(delay_s, MIN_INTERVAL_S), MAX_INTERVAL_S)


def _largest_hint(hints_s: Iterable[float | None]) -> float:
    return max((h for h in hints_s if h is not None and h > 0), default=0.0)


def backoff(interval_s: float, failures: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` consecutive failures (>= 1), with jitter.

    ``min(interval * 2**failures, 6 h)``, jittered, clamped to [60 s, 24 h]. No I/O.
    """
    exponent = min(max(failures, 0), 32)  # 2**32 * anything is already past the cap
    delay = min(interval_s * 2.0**exponent, MAX_BACKOFF_S)
    return _clamp(_jitter(delay, rng))


def next_delay_s(
    interval_s: float,
    *,
    failures: int = 0,
    hints_s: Iterable[float | None] = (),
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next check (see the module docstring). No I/O."""
    hint = _largest_hint(hints_s)
    if failures > 0:
        return _clamp(max(backoff(interval_s, failures, rng=rng), hint))
    return _clamp(_jitter(max(interval_s, hint), rng))


def next_check(
    now: datetime,
    interval_s: float,
    *,
    failures: int = 0,
    hints_s: Iterable[float | None] = (),
    rng: random.Random | None = None,
) -> datetime:
    """The time of the next check of a feed polled every ``interval_s`` seconds.

    ``failures`` is the count of consecutive failures including the current one (0 after
    a success); ``hints_s`` are server hints in seconds (``retry_after_s``, ``max_age_s``,
    ``ttl_s``; None entries are ignored). ``rng`` makes jitter reproducible. No I/O.
    """
    delay = next_delay_s(interval_s, failures=failures, hints_s=hints_s, rng=rng)
    return now + timedelta(seconds=delay)


def is_feed_broken(error_since: datetime | None, now: datetime, threshold_s: float) -> bool:
    """True when a feed has been failing continuously for at least ``threshold_s``. No I/O."""
    return error_since is not None and (now - error_since).total_seconds() >= threshold_s


def classify_feed(
    failures: int | None,
    error_since: datetime | None,
    last_success_at: datetime | None,
    now: datetime,
    broken_after_s: float,
) -> FeedStatus:
    """One of :data:`FEED_STATES` for an active feed, from stable facts only. No I/O.

    - ``new``: no failure and never a successful poll yet;
    - ``ok``: the last poll succeeded;
    - ``failing``: 1 or 2 consecutive failures (still polled about on schedule);
    - ``backing_off``: :data:`BACKING_OFF_AFTER` or more failures (the interval has grown);
    - ``broken``: failing continuously for ``broken_after_s`` or longer
      (``[monitor].feed_broken_after``; the operator was notified).

    The state only changes on a poll or as ``error_since`` ages, never back and forth
    between retries, so a Prometheus ``for:`` clause on it can fire.
    """
    if not failures:
        return "ok" if last_success_at is not None else "new"
    if is_feed_broken(error_since, now, broken_after_s):
        return "broken"
    return "backing_off" if failures >= BACKING_OFF_AFTER else "failing"
