"""When to send: retry backoff, quiet hours, digest slots. No I/O.

Every function takes an explicit ``now`` (UTC-aware) and the config time zone.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Backoff after failed attempt n (1-based): 60 s * 3.5^(n-1), capped at 12 h, +-20 % jitter.
# With the default 8 attempts the gaps add up to about a day.
BACKOFF_BASE_S = 60.0
BACKOFF_FACTOR = 3.5
BACKOFF_CAP_S = 12 * 3600.0
JITTER = 0.2

_HHMM = r"([01]?\d|2[0-3]):([0-5]\d)"
_QUIET = re.compile(rf"^\s*{_HHMM}\s*-\s*{_HHMM}\s*$")
_DAILY = re.compile(rf"^\s*daily(?:\s+{_HHMM})?\s*$", re.I)
DEFAULT_DAILY = time(8, 0)  # "daily" without a time


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts, with jitter."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * BACKOFF_FACTOR ** max(0, attempts - 1))
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """Parse "22:00-07:00" into (start, end) local times; ValueError if bad."""
    m = _QUIET.match(text)
    if not m:
        raise ValueError(f"quiet hours {text!r} are not like '22:00-07:00'")
    a, b, c, d = (int(g) for g in m.groups())
    return time(a, b), time(c, d)


def is_quiet(text: str | None, at: datetime, tz: str) -> bool:
    """True when ``at`` falls in the quiet window ``text`` (local time; may span midnight)."""
    if not text:
        return False
    start, end = parse_quiet_hours(text)
    local = at.astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def parse_digest(text: str | None) -> str | time:
    """ "hourly" -> "hourly"; "daily HH:MM" -> the local time ("daily": 08:00); else ValueError."""
    if text and text.strip().lower() == "hourly":
        return "hourly"
    m = _DAILY.match(text or "")
    if not m:
        raise ValueError(f"digest {text!r} is not 'hourly' or 'daily HH:MM'")
    return time(int(m.group(1)), int(m.group(2))) if m.group(1) else DEFAULT_DAILY


def latest_slot(schedule: str | None, now: datetime, tz: str) -> datetime:
    """The latest digest send time at or before ``now`` (UTC), for a digest schedule.

    Hourly digests go out at the top of each local hour, daily ones at HH:MM local.
    """
    spec = parse_digest(schedule)
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if spec == "hourly":
        slot = local.replace(minute=0, second=0, microsecond=0)
    else:
        assert isinstance(spec, time)
        slot = datetime.combine(local.date(), spec, tzinfo=zone)
        if slot > local:
            slot = datetime.combine(local.date() - timedelta(days=1), spec, tzinfo=zone)
    return slot.astimezone(UTC)


def is_digest_due(schedule: str | None, created_at: datetime, now: datetime, tz: str) -> bool:
    """A digest row is due once a digest slot has passed since it was created."""
    return latest_slot(schedule, now, tz) > created_at


def quiet_ends_at(text: str, now: datetime, tz: str) -> datetime:
    """The first instant after ``now`` outside the quiet window (UTC); ``now`` if not quiet."""
    if not is_quiet(text, now, tz):
        return now
    _start, end = parse_quiet_hours(text)
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return candidate.astimezone(UTC)


def next_slot(schedule: str | None, now: datetime, tz: str) -> datetime:
    """The first digest send time after ``now`` (UTC)."""
    spec = parse_digest(schedule)
    latest = latest_slot(schedule, now, tz)
    if spec == "hourly":
        return latest + timedelta(hours=1)
    assert isinstance(spec, time)
    zone = ZoneInfo(tz)
    day = latest.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, spec, tzinfo=zone).astimezone(UTC)
