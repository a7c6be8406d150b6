"""Pure timing decisions: backoff, quiet hours, digest slots and rate buckets.

(The quiet-hours, digest and rate parsers are the config's: tests/test_config.py.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.notify.ratelimit import Bucket, default_rate, refill, take, wait_s
from monitor.notify.timing import (
    backoff_s,
    is_digest_due,
    is_quiet,
    latest_slot,
    next_slot,
    quiet_ends_at,
)
from monitor.records import HOURLY, DigestSchedule, QuietHours, Rate

KYIV = "Europe/Kyiv"  # UTC+2 in March (before DST starts on the 29th)
NIGHT = QuietHours(time(22, 0), time(7, 0))  # spans midnight
AFTERNOON = QuietHours(time(13, 0), time(15, 0))
DAILY_8 = DigestSchedule(daily_at=time(8, 0))


def utc(hh: int, mm: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 48, 72), (2, 168, 252), (3, 588, 882), (7, 34560, 51840), (20, 34560, 51840)],
)
def test_backoff_grows_exponentially_within_jitter_and_is_capped(attempts, low, high):
    values = [backoff_s(attempts, random.Random(seed)) for seed in range(50)]
    assert all(low <= v <= high for v in values)
    assert len(set(values)) > 1  # jittered


def test_default_attempts_span_about_a_day():
    total = sum(backoff_s(n, random.Random(0)) for n in range(1, 8))
    assert 16 * 3600 < total < 32 * 3600


@pytest.mark.parametrize(
    ("window", "at", "quiet"),
    [
        (NIGHT, utc(20, 30), True),  # 22:30 local
        (NIGHT, utc(4, 59), True),  # 06:59 local
        (NIGHT, utc(5, 0), False),  # 07:00 local: the window has ended
        (NIGHT, utc(12, 0), False),
        (AFTERNOON, utc(12, 0), True),  # 14:00 local, same-day window
        (AFTERNOON, utc(13, 0), False),
        (None, utc(23), False),
    ],
)
def test_quiet_hours_in_config_time_zone(window, at, quiet):
    assert is_quiet(window, at, KYIV) is quiet


def test_quiet_hours_end_at_the_next_local_end_time():
    assert quiet_ends_at(NIGHT, utc(21, 0), KYIV) == utc(5, 0, day=3)
    assert quiet_ends_at(NIGHT, utc(3, 0), KYIV) == utc(5, 0)
    assert quiet_ends_at(NIGHT, utc(12, 0), KYIV) == utc(12, 0)  # not quiet: now


@pytest.mark.parametrize(
    ("schedule", "now", "latest", "following"),
    [
        (HOURLY, utc(12, 40), utc(12, 0), utc(13, 0)),
        (DAILY_8, utc(12, 40), utc(6, 0), utc(6, 0, day=3)),  # 08:00 Kyiv = 06:00 UTC
        (DAILY_8, utc(5, 0), utc(6, 0, day=1), utc(6, 0)),
    ],
)
def test_digest_slots(schedule, now, latest, following):
    assert latest_slot(schedule, now, KYIV) == latest
    assert next_slot(schedule, now, KYIV) == following


def test_digest_row_is_due_once_a_slot_passed_since_it_was_created():
    created = utc(12, 10)
    assert not is_digest_due(HOURLY, created, utc(12, 59), KYIV)
    assert is_digest_due(HOURLY, created, utc(13, 0), KYIV)


def test_telegram_defaults_one_per_second_and_one_per_three_seconds_in_groups():
    assert default_rate("telegram") == Rate(1.0, 3.0)
    assert default_rate("generic") == Rate(1.0, 5.0)
    assert default_rate("telegram", is_group_chat=True).per_s == pytest.approx(20 / 60)
    assert default_rate("console") is None


def test_token_bucket_spends_refills_and_respects_a_block():
    rate = Rate(per_s=0.5, burst=2.0)
    t0 = utc(12)
    b = refill(None, rate, t0)
    assert wait_s(b, rate, t0) == 0
    b = take(take(b))
    assert wait_s(b, rate, t0) == pytest.approx(2.0)
    b = refill(b, rate, t0 + timedelta(seconds=2))
    assert wait_s(b, rate, t0 + timedelta(seconds=2)) == 0
    blocked = Bucket(2.0, t0, blocked_until=t0 + timedelta(seconds=7))
    assert wait_s(blocked, rate, t0) == 7.0
