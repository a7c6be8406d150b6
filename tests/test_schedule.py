"""Scheduling decisions: intervals, server hints, backoff, jitter, broken feeds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.schedule import (
    MAX_BACKOFF_S,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    backoff,
    is_feed_broken,
    next_check,
    next_delay_s,
)

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)


class _NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


class _MaxJitter(random.Random):
    def random(self) -> float:
        return 0.999999


@pytest.mark.parametrize(
    ("interval_s", "hints_s", "expected_s"),
    [
        (300, [], 300),  # our interval
        (300, [None, None, None], 300),  # absent hints are ignored
        (300, [120], 300),  # a shorter hint never makes us poll faster
        (300, [900], 900),  # Cache-Control max-age longer than the interval wins
        (300, [None, 600, 3600], 3600),  # the largest of Retry-After, max-age, ttl wins
        (10, [], MIN_INTERVAL_S),  # clamped below
        (300, [7 * 86400], MAX_INTERVAL_S),  # a week-long hint is clamped to a day
        (300, [-5, 0], 300),  # nonsense hints are ignored
    ],
)
def test_next_delay_honours_hints_within_clamps(interval_s, hints_s, expected_s):
    assert next_delay_s(interval_s, hints_s=hints_s, rng=_NoJitter()) == expected_s


@pytest.mark.parametrize(
    ("interval_s", "failures", "expected_s"),
    [
        (300, 1, 600),
        (300, 2, 1200),
        (300, 5, 9600),
        (300, 7, MAX_BACKOFF_S),  # 38400 s is capped at 6 h
        (300, 1000, MAX_BACKOFF_S),  # no overflow for absurd counts
        (3600, 3, MAX_BACKOFF_S),
        (5, 1, MIN_INTERVAL_S),  # the 60 s floor holds for backoff too
    ],
)
def test_backoff_doubles_per_failure_up_to_six_hours(interval_s, failures, expected_s):
    assert backoff(interval_s, failures, rng=_NoJitter()) == expected_s


def test_retry_after_beyond_backoff_is_honoured_on_failure():
    delay = next_delay_s(300, failures=1, hints_s=[7200], rng=_NoJitter())
    assert delay == 7200


def test_success_resets_to_the_plain_interval():
    after_failures = next_check(NOW, 300, failures=4, rng=_NoJitter())
    after_success = next_check(NOW, 300, failures=0, rng=_NoJitter())
    assert after_failures == NOW + timedelta(seconds=4800)
    assert after_success == NOW + timedelta(seconds=300)


def test_jitter_only_delays_by_at_most_ten_percent():
    low = next_check(NOW, 600, rng=_NoJitter())
    high = next_check(NOW, 600, rng=_MaxJitter())
    assert low == NOW + timedelta(seconds=600)
    assert NOW + timedelta(seconds=600) < high < NOW + timedelta(seconds=660)


def test_jitter_spreads_feeds_with_the_same_interval():
    rng = random.Random(7)
    times = {next_check(NOW, 300, rng=rng) for _ in range(50)}
    assert len(times) > 40
    assert all(NOW + timedelta(seconds=300) <= t <= NOW + timedelta(seconds=330) for t in times)


def test_clamped_maximum_holds_with_jitter():
    assert next_check(NOW, 10**9, rng=_MaxJitter()) == NOW + timedelta(seconds=MAX_INTERVAL_S)


@pytest.mark.parametrize(
    ("error_since", "threshold_s", "broken"),
    [
        (None, 3600, False),
        (NOW - timedelta(minutes=59), 3600, False),
        (NOW - timedelta(hours=1), 3600, True),
        (NOW - timedelta(days=2), 12 * 3600, True),
    ],
)
def test_feed_is_broken_after_failing_for_the_threshold(error_since, threshold_s, broken):
    assert is_feed_broken(error_since, NOW, threshold_s) is broken
