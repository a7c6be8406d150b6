"""Cheap uk/ru/en language guess from letter frequencies. No I/O.

Letters only Ukrainian uses (і ї є ґ) against letters only Russian uses (ы э ё ъ);
a mostly-Latin text is taken as English. Only the first few thousand characters are
looked at: the answer rarely changes after that and the cost stays flat.
"""

from __future__ import annotations

_SAMPLE = 4000
_UK = "іїєґ"
_RU = "ыэёъ"
_CYR_COMMON = "аеиоунтс"
_LAT_COMMON = "aeioutns"


def _count(text: str, letters: str) -> int:
    return sum(text.count(c) for c in letters)


def detect_language(text: str) -> str | None:
    """``"uk"``, ``"ru"``, ``"en"`` or None when the text gives too little to go on."""
    sample = text[:_SAMPLE].lower()
    cyr = _count(sample, _CYR_COMMON)
    lat = _count(sample, _LAT_COMMON)
    if cyr + lat < 5:
        return None
    if lat > cyr:
        return "en"
    uk, ru = _count(sample, _UK), _count(sample, _RU)
    if uk == ru == 0:
        return None
    return "uk" if uk > ru else "ru"
