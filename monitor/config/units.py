"""Parsers for the value kinds of the config: durations and sizes. No I/O.

Each takes what TOML gave (a string such as ``"5m"`` or ``"10MiB"``, or a number) and
returns the value in base units, or raises ``ValueError`` with a message a person can
act on; the validator adds the file, key and line.
"""

from __future__ import annotations

import re

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


def parse_duration(value: object) -> float:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "90s", "5m", "1h"')
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f'{value!r} is not a duration such as "90s", "5m", "1h", "2d"')
    return float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()]


def parse_size(value: object) -> int:
    """``"10MiB"``, ``"500kB"`` or a number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f'{value!r} is not a size such as "10MiB" or "500kB"')
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
