"""The keys of every config section, as tables. No I/O.

A :class:`Key` says which record field a TOML key fills, how its value is converted
(a pure function raising ``ValueError`` with the message a person reads) and, for values
that convert but make no sense, the range check and its message. Defaults are not here:
they are the defaults of the records (:func:`defaults`). Keys that depend on other keys,
on the environment or on files (``url``, ``database``, ``state_dir``, ``include``, a
rule's ``name``/``query``/``digest``, a channel's ``template``) are read by
:class:`~monitor.config.validate.Validator` itself and only named here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from dataclasses import MISSING, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.units import (
    parse_duration,
    parse_quiet_hours,
    parse_rate,
    parse_size,
    shown,
)

Convert = Callable[[Any], Any]
LANGUAGES = {"uk", "ru", "en", "de", "fr", "pl", "es", "it", "be", "kk"}
_HOST_PORT = re.compile(r"^[\w.\-\[\]:]+:\d{1,5}$")
_HEADER_TEXT = re.compile(r"^[\x20-\x7e]*$")  # what an HTTP header value may hold
MAX_HEADER = 512  # characters of a user agent
MAX_TIMEZONE = 64  # IANA names are at most ~30 characters; tzdata paths must stay short


@dataclass(frozen=True, slots=True)
class Key:
    """One TOML key of a section: the record field it fills, its converter, its range."""

    name: str
    attr: str  # the record field
    convert: Convert
    ok: Callable[[Any], bool] | None = None  # None: every converted value is in range
    message: str = ""  # the error when ``ok`` is false


def defaults(record: type) -> dict[str, Any]:
    """The field defaults of a record dataclass: the one place defaults are written."""
    return {f.name: f.default for f in fields(record) if f.default is not MISSING}


# -- converters: value as TOML gave it -> value for the record, or ValueError -----------
def of_type(kind: type, what: str) -> Convert:
    """The value itself when it is a ``kind`` (a boolean is never an int or a string)."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise ValueError(f"must be {what}, got a boolean")
        if not isinstance(value, kind):
            raise ValueError(f"must be {what}, got {type(value).__name__} {shown(value)}")
        return value

    return convert


def one_of(*choices: str) -> Convert:
    """One of ``choices`` (a closed set, such as ``"instant" | "digest"``)."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{shown(value)}: use " + " or ".join(f'"{c}"' for c in choices))
        return value

    return convert


def duration(value: Any) -> float:
    """Seconds, from 0 to 100 years (:func:`~monitor.config.units.parse_duration`)."""
    return parse_duration(value)


def optional_duration(value: Any) -> float | None:
    """Seconds, or None for ``""`` / ``0`` (``retention``: keep everything)."""
    return None if value in ("", 0) else duration(value)


def non_empty_string(value: Any) -> str:
    """A string with more than whitespace in it (``state_dir``), as written."""
    text = str(of_type(str, "a non-empty string")(value))
    if not text.strip():
        raise ValueError("must be a non-empty string")
    return text


def string_list(value: Any) -> tuple[str, ...]:
    """A string or a list of non-empty strings, stripped."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError("must be a list of non-empty strings")
    return tuple(x.strip() for x in value)


def language(value: Any) -> str:
    """One language code of :data:`LANGUAGES` (a feed's ``language``)."""
    if not isinstance(value, str) or value not in LANGUAGES:
        raise ValueError(
            f"unknown language {shown(value)}; use one of {', '.join(sorted(LANGUAGES))}"
        )
    return value


def languages(value: Any) -> tuple[str, ...]:
    """A list of language codes (a rule's ``languages``)."""
    codes = string_list(value)
    for code in codes:
        if code not in LANGUAGES:
            raise ValueError(f"unknown language {shown(code)}")
    return codes


def timezone(value: Any) -> str:
    """An IANA time zone name."""
    of_type(str, "a timezone name")(value)
    try:
        if len(value) > MAX_TIMEZONE:
            raise ValueError("too long")
        ZoneInfo(value)
    # OSError: a name tzdata cannot even look up (too long for a file name, say).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f'unknown timezone {shown(value)} (e.g. "Europe/Kyiv")') from None
    return str(value)


def host_port(value: Any) -> str:
    """``"HOST:PORT"`` with a port from 1 to 65535."""
    of_type(str, '"HOST:PORT"')(value)
    if not _HOST_PORT.match(value):
        raise ValueError(f'{shown(value)} is not HOST:PORT (e.g. "127.0.0.1:9310")')
    if not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"port in {shown(value)} must be between 1 and 65535")
    return str(value)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1, ``localhost`` and an empty host (which the health
    server binds to 127.0.0.1)."""
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_address(address: str) -> bool:
    """Whether a ``"HOST:PORT"`` (:func:`host_port`) listens on loopback only."""
    return is_loopback(address.rpartition(":")[0])


def whole_number(value: Any) -> int:
    """An integer of at least 1 (a rule's ``min_sources``)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


boolean = of_type(bool, "true or false")
integer = of_type(int, "an integer")
string = of_type(str, "a string")


def channel_name(value: Any) -> str | None:
    """A channel name, None for ``""`` (``operator_channel``: checked against the
    channels by the validator)."""
    return str(of_type(str, "a channel name from [channels]")(value)) or None


def header_text(value: Any) -> str:
    """Printable ASCII of at most :data:`MAX_HEADER` characters (``user_agent``: sent as
    an HTTP header, where anything else fails every request)."""
    text = str(of_type(str, "a string")(value))
    if not _HEADER_TEXT.match(text):
        raise ValueError("must be printable ASCII (it is sent as an HTTP header)")
    if len(text) > MAX_HEADER:
        raise ValueError(f"must be at most {MAX_HEADER} characters")
    return text


def between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: low <= v <= high


def at_least(low: float) -> Callable[[Any], bool]:
    return lambda v: v >= low


def positive(v: float) -> bool:
    return v > 0


POLITE = "must be at least 60s (be polite to publishers)"
MORE_THAN_0S = "must be more than 0s"

# -- the sections -------------------------------------------------------------------------
# A section's table keys are read, converted and range-checked one at a time in table
# order: of several bad keys in a section, the first in this order is the one reported.
MONITOR = (
    Key("timezone", "timezone", timezone),
    Key("http", "http", host_port),  # a non-loopback host needs http_public (the validator)
    Key("http_public", "http_public", boolean),
    Key("poll_interval", "poll_interval_s", duration, at_least(60), POLITE),
    Key("backlog", "backlog_s", duration),
    Key("operator_channel", "operator_channel", channel_name),
    Key("feed_broken_after", "feed_broken_after_s", duration),
    Key("watch_config", "watch_config", boolean),
    Key(
        "retention",
        "retention_s",
        optional_duration,
        lambda v: v is None or v >= 86400,
        "must be at least 1d (or leave it unset to keep everything)",
    ),
    Key("keep_matched", "keep_matched", boolean),
    Key(
        "shutdown_timeout", "shutdown_timeout_s", duration, lambda v: v <= 300, "must be at most 5m"
    ),
    Key("tick", "tick_s", duration, between(1, 600), "must be between 1s and 10m"),
    Key("max_attempts", "max_attempts", integer, between(1, 100), "must be between 1 and 100"),
    Key(
        "story_window",
        "story_window_s",
        duration,
        between(3600, 30 * 86400),
        "must be between 1h and 30d",
    ),
    Key(
        "worker_lease",
        "worker_lease_s",
        duration,
        between(5, 3600),
        "must be between 5s and 1h",
    ),
)
MONITOR_OWN = ("database", "state_dir", "include")

FETCH = (
    Key("connect_timeout", "connect_timeout_s", duration, positive, MORE_THAN_0S),
    Key("timeout", "timeout_s", duration, positive, MORE_THAN_0S),
    Key("max_bytes", "max_bytes", parse_size, at_least(1024), "must be at least 1kB"),
    Key("max_redirects", "max_redirects", integer, between(0, 20), "must be between 0 and 20"),
    Key("per_host", "per_host", integer, between(1, 64), "must be between 1 and 64"),
    Key("concurrency", "concurrency", integer, between(1, 256), "must be between 1 and 256"),
    Key("user_agent", "user_agent", header_text),
    Key("force_refetch", "force_refetch_s", duration),
    Key("parse_timeout", "parse_timeout_s", duration, positive, MORE_THAN_0S),
    Key("allow_private", "allow_private", boolean),
)

FEED = (  # interval and backlog default to [monitor] poll_interval and backlog
    Key("language", "language", language),
    Key("interval", "interval_s", duration, at_least(60), POLITE),
    Key("name", "name", string),
    Key("backlog", "backlog_s", duration),
    Key("full_text", "full_text", boolean),
    Key("timeout", "timeout_s", duration, positive, MORE_THAN_0S),
    Key("max_bytes", "max_bytes", parse_size, at_least(1024), "must be at least 1kB"),
    Key("allow_private", "allow_private", boolean),
)
FEED_OWN = ("url",)

RULE = (
    Key("channels", "channels", string_list),  # checked against [channels] by the validator
    Key("languages", "languages", languages),
    Key("delivery", "delivery", one_of("instant", "digest")),
    Key("priority", "priority", one_of("normal", "high")),
    Key("min_sources", "min_sources", whole_number),
    Key("on_update", "on_update", one_of("record", "alert")),
)
RULE_OWN = ("name", "query", "digest")

CHANNEL = (  # the table form: desk = { url = "...", quiet_hours = "22:00-07:00" }
    Key("quiet_hours", "quiet_hours", parse_quiet_hours),
    Key("rate_limit", "rate_limit", parse_rate),
    Key("story_updates", "story_updates", one_of("none", "reply")),
)
CHANNEL_OWN = ("url", "template")

TOP = ("monitor", "fetch", "channels", "terms", "feeds", "rules")


def allowed(keys: tuple[Key, ...], own: Collection[str] = ()) -> set[str]:
    """Every key a section may hold (for "unknown key ... did you mean")."""
    return {k.name for k in keys} | set(own)
