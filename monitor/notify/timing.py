"""When to send: retry backoff, quiet hours, digest slots. No I/O.

Every function takes an explicit ``now`` (UTC-aware) and the config time zone. Quiet
hours and digest schedules come parsed (:class:`~monitor.records.QuietHours`,
:class:`~monitor.records.DigestSchedule`): the config loader is their only parser.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.records import DigestSchedule, QuietHours

# Backoff after failed attempt n (1-based): 60 s * 3.5^(n-1), capped at 12 h, +-20 % jitter.
# With the default 8 attempts the gaps add up to about a day.
BACKOFF_BASE_S = 60.0
BACKOFF_FACTOR = 3.5
BACKOFF_CAP_S = 12 * 3600.0
JITTER = 0.2


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts, with jitter."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * BACKOFF_FACTOR ** max(0, attempts - 1))
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def is_quiet(window: QuietHours | None, at: datetime, tz: str) -> bool:
    """True when ``at`` falls in the quiet ``window`` (local time; may span midnight)."""
    if window is None:
        return False
    start, end = window.start, window.end
    local = at.astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def latest_slot(schedule: DigestSchedule, now: datetime, tz: str) -> datetime:
    """The latest digest send time at or before ``now`` (UTC), for a digest schedule.

    Hourly digests go out at the top of each local hour, daily ones at HH:MM local.
    """
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    at = schedule.daily_at
    if at is None:
        slot = local.replace(minute=0, second=0, microsecond=0)
    else:
        slot = datetime.combine(local.date(), at, tzinfo=zone)
        if slot > local:
            slot = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)
    return slot.astimezone(UTC)


def is_digest_due(schedule: DigestSchedule, created_at: datetime, now: datetime, tz: str) -> bool:
    """A digest row is due once a digest slot has passed since it was created."""
    return latest_slot(schedule, now, tz) > created_at


def quiet_ends_at(window: QuietHours, now: datetime, tz: str) -> datetime:
    """The first instant after ``now`` outside the quiet window (UTC); ``now`` if not quiet."""
    if not is_quiet(window, now, tz):
        return now
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), window.end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), window.end, tzinfo=zone)
    return candidate.astimezone(UTC)


def next_slot(schedule: DigestSchedule, now: datetime, tz: str) -> datetime:
    """The first digest send time after ``now`` (UTC)."""
    latest = latest_slot(schedule, now, tz)
    if schedule.daily_at is None:
        return latest + timedelta(hours=1)
    zone = ZoneInfo(tz)
    day = latest.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, schedule.daily_at, tzinfo=zone).astimezone(UTC)
