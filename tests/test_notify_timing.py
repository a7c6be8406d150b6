"""Pure timing decisions: backoff, quiet hours, digest slots, rate parsing and buckets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.notify.ratelimit import Bucket, Rate, default_rate, parse_rate, refill, take, wait_s
from monitor.notify.timing import (
    backoff_s,
    is_digest_due,
    is_quiet,
    latest_slot,
    next_slot,
    parse_digest,
    quiet_ends_at,
)

KYIV = "Europe/Kyiv"  # UTC+2 in March (before DST starts on the 29th)


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
        ("22:00-07:00", utc(20, 30), True),  # 22:30 local
        ("22:00-07:00", utc(4, 59), True),  # 06:59 local
        ("22:00-07:00", utc(5, 0), False),  # 07:00 local: the window has ended
        ("22:00-07:00", utc(12, 0), False),
        ("13:00-15:00", utc(12, 0), True),  # 14:00 local, same-day window
        ("13:00-15:00", utc(13, 0), False),
        (None, utc(23), False),
    ],
)
def test_quiet_hours_in_config_time_zone(window, at, quiet):
    assert is_quiet(window, at, KYIV) is quiet


def test_quiet_hours_end_at_the_next_local_end_time():
    assert quiet_ends_at("22:00-07:00", utc(21, 0), KYIV) == utc(5, 0, day=3)
    assert quiet_ends_at("22:00-07:00", utc(3, 0), KYIV) == utc(5, 0)
    assert quiet_ends_at("22:00-07:00", utc(12, 0), KYIV) == utc(12, 0)  # not quiet: now


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("hourly", "hourly"),
        ("daily 08:30", time(8, 30)),
        ("daily", time(8, 0)),
        ("Daily 7:05", time(7, 5)),
    ],
)
def test_digest_schedules_parse(text, parsed):
    assert parse_digest(text) == parsed


@pytest.mark.parametrize("text", ["weekly", "daily 25:00", "", None])
def test_bad_digest_schedule_is_refused(text):
    with pytest.raises(ValueError):
        parse_digest(text)


@pytest.mark.parametrize(
    ("schedule", "now", "latest", "following"),
    [
        ("hourly", utc(12, 40), utc(12, 0), utc(13, 0)),
        ("daily 08:00", utc(12, 40), utc(6, 0), utc(6, 0, day=3)),  # 08:00 Kyiv = 06:00 UTC
        ("daily 08:00", utc(5, 0), utc(6, 0, day=1), utc(6, 0)),
    ],
)
def test_digest_slots(schedule, now, latest, following):
    assert latest_slot(schedule, now, KYIV) == latest
    assert next_slot(schedule, now, KYIV) == following


def test_digest_row_is_due_once_a_slot_passed_since_it_was_created():
    created = utc(12, 10)
    assert not is_digest_due("hourly", created, utc(12, 59), KYIV)
    assert is_digest_due("hourly", created, utc(13, 0), KYIV)


@pytest.mark.parametrize(
    ("text", "per_s", "burst"),
    [
        ("1/s", 1.0, 1.0),
        ("20/min", 1 / 3, 20.0),
        ("30 / minute", 0.5, 30.0),
        ("3600/h", 1.0, 3600.0),
    ],
)
def test_rate_limits_parse(text, per_s, burst):
    rate = parse_rate(text)
    assert rate.per_s == pytest.approx(per_s) and rate.burst == burst


@pytest.mark.parametrize("text", ["fast", "0/s", "1/day", "-1/s"])
def test_bad_rate_limit_is_refused(text):
    with pytest.raises(ValueError):
        parse_rate(text)


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
