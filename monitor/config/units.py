"""Parsers for the value kinds of the config: durations, sizes, quiet hours, digest
schedules and rates. No I/O.

Each takes what TOML gave (a string such as ``"5m"``, ``"10MiB"``, ``"22:00-07:00"``,
``"daily 08:00"``, ``"20/min"``, or a number) and returns the value in base units or as
its record (:mod:`monitor.records`), or raises ``ValueError`` with a message a person can
act on; the validator adds the file, key and line. These are the only parsers of these
kinds: delivery gets the parsed records and never reads the text again.
"""

from __future__ import annotations

import math
import re
from datetime import time

from monitor.records import DigestSchedule, QuietHours, Rate

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$", re.I)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 10**6,
    "mib": 2**20,
    "gb": 10**9,
    "gib": 2**30,
}
_CLOCK = r"([01]?\d|2[0-3]):([0-5]\d)"  # 7:05, 07:05, 23:59
_QUIET = re.compile(rf"^\s*{_CLOCK}\s*-\s*{_CLOCK}\s*$")
_DIGEST = re.compile(rf"^\s*(?:(hourly)|daily(?:\s+{_CLOCK})?)\s*$", re.I)
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.I)
_PERIOD_S = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_PERIOD_S |= {"h": 3600.0, "hour": 3600.0}
DAILY_AT = time(8, 0)  # "daily" without a time
MAX_DURATION_S = 36500 * 86400.0
"""The longest duration of any key (100 years): ``now`` plus more than this overflows
the calendar (year 9999) somewhere, and nothing in a press monitor needs it."""
MAX_SIZE = 2**40
"""The largest size of any key (1 TiB): a body cap beyond any memory, still exact."""
MAX_RATE = 1e6  # messages per period of a rate
_SHOWN = 60  # characters of a bad value quoted back in a message


def shown(value: object) -> str:
    """``repr(value)``, clipped: a 5,000-character value is not echoed whole."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits has no repr
        return "a huge number"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _number(value: float) -> float:
    """``value`` as a float; an integer too large for one (TOML allows 10**400) is inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def parse_duration(value: object) -> float:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` or a number of seconds -> seconds, from 0
    to :data:`MAX_DURATION_S` (``nan``, ``inf`` and negative numbers are refused)."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "90s", "5m", "1h"')
    if isinstance(value, int | float):
        seconds = _number(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f'{shown(value)} is not a duration such as "90s", "5m", "1h", "2d"')
        seconds = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()]
    if math.isnan(seconds):
        raise ValueError('nan is not a duration: use a number of seconds or "90s", "5m", "1h"')
    if seconds < 0:
        raise ValueError("must not be negative")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{shown(value)} is too long: at most 36500d (100 years)")
    return seconds


def parse_size(value: object) -> int:
    """``"10MiB"``, ``"500kB"`` or a whole number of bytes -> bytes, from 0 to
    :data:`MAX_SIZE`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        size = _number(value)
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        size = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
    else:
        size = math.nan
    if math.isnan(size):
        raise ValueError(f'{shown(value)} is not a size such as "10MiB" or "500kB"')
    if size < 0:
        raise ValueError("must not be negative")
    if size > MAX_SIZE:  # also "9" * 400, which float() makes inf
        raise ValueError(f"{shown(value)} is too large: at most 1024GiB")
    return int(size)


def parse_quiet_hours(value: object) -> QuietHours:
    """``"22:00-07:00"`` (spaces allowed around ``-``) -> :class:`QuietHours`."""
    m = _QUIET.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f'{shown(value)} is not a window like "22:00-07:00"')
    a, b, c, d = (int(g) for g in m.groups())
    return QuietHours(time(a, b), time(c, d), str(value))


def parse_digest(value: object) -> DigestSchedule:
    """``"hourly"``, ``"daily HH:MM"`` or ``"daily"`` (08:00), any case ->
    :class:`DigestSchedule`; the text is kept stripped."""
    m = _DIGEST.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f'{shown(value)}: use "hourly" or "daily 08:00"')
    text = str(value).strip()
    if m.group(1):
        return DigestSchedule(None, text)
    at = time(int(m.group(2)), int(m.group(3))) if m.group(2) else DAILY_AT
    return DigestSchedule(at, text)


def parse_rate(value: object) -> Rate:
    """``"N/s"``, ``"N/min"`` or ``"N/h"`` (spaces allowed around ``/``) -> a
    :class:`Rate` of N per period with a burst of N (at least 1)."""
    m = _RATE.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f'{shown(value)} is not a rate like "1/s" or "20/min"')
    count = float(m.group(1))
    if count > MAX_RATE:  # "9" * 400 is inf: a bucket of inf tokens computes nan
        raise ValueError(f"{shown(value)} is too fast: at most {MAX_RATE:.0f} per period")
    if count <= 0:
        # A rate of nothing is a mistake, not "unlimited" or "the default": say so at load.
        raise ValueError(f'{shown(value)} sends nothing: use a rate like "1/s", or leave it unset')
    return Rate(count / _PERIOD_S[m.group(2).lower()], max(1.0, count), str(value))
