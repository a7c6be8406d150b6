"""Validate the TOML document of a config into frozen records, naming file, key and line.

:class:`Validator` turns each section into its record (:mod:`monitor.records`) and
raises :class:`~monitor.errors.ConfigError` with the dotted key, the 1-based line and a
"did you mean" for unknown keys. No I/O except reading files named by
``[monitor] include`` and checking that local feed files and templates exist.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from monitor.config.units import (
    parse_digest,
    parse_duration,
    parse_quiet_hours,
    parse_rate,
    parse_size,
)
from monitor.errors import ConfigError, QueryError
from monitor.log import register_secret
from monitor.match import Matcher, compile_rules
from monitor.records import (
    HOURLY,
    ChannelConfig,
    FeedConfig,
    FetchSettings,
    MonitorSettings,
    RuleConfig,
)
from monitor.secrets import mask_url

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


_TOP_KEYS = {"monitor", "fetch", "channels", "terms", "feeds", "rules"}
_MONITOR_KEYS = {
    "database",
    "poll_interval",
    "timezone",
    "backlog",
    "operator_channel",
    "feed_broken_after",
    "http",
    "watch_config",
    "retention",
    "keep_matched",
    "shutdown_timeout",
    "tick",
    "max_attempts",
    "state_dir",
    "include",
}
_FETCH_KEYS = {
    "connect_timeout",
    "timeout",
    "max_bytes",
    "max_redirects",
    "per_host",
    "concurrency",
    "user_agent",
    "force_refetch",
    "parse_timeout",
}
_FEED_KEYS = {"url", "name", "interval", "backlog", "language", "full_text", "timeout", "max_bytes"}
_RULE_KEYS = {
    "name",
    "query",
    "channels",
    "languages",
    "delivery",
    "digest",
    "priority",
    "min_sources",
}
_CHANNEL_KEYS = {"url", "quiet_hours", "rate_limit", "template"}
LANGUAGES = {"uk", "ru", "en", "de", "fr", "pl", "es", "it", "be", "kk"}


@dataclass(frozen=True, slots=True)
class Sections:
    """Every validated section of one config file (the rules not compiled yet)."""

    monitor: MonitorSettings
    fetch: FetchSettings
    channels: Mapping[str, ChannelConfig]
    terms: Mapping[str, tuple[str, ...]]
    feeds: tuple[FeedConfig, ...]
    rules: tuple[RuleConfig, ...]
    warnings: tuple[str, ...]


def _is_usable_apprise_url(url: str) -> bool:
    """True when apprise can build a notifier from ``url``; ``console://`` is ours
    (:mod:`monitor.notify.console` registers it before sending)."""
    import apprise

    if url.split("://", 1)[0].lower() == "console":
        return True
    return apprise.Apprise.instantiate(url) is not None


class Validator:
    """Turns the TOML document into frozen records, naming file, key and line on error."""

    def __init__(self, path: Path, source: str, environ: Mapping[str, str]) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.env = environ

    # -- errors ---------------------------------------------------------------
    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=str(self.path), key=key, line=self.line_of(key))

    def line_of(self, key: str) -> int | None:
        """Best-effort line of a dotted key such as ``rules[2].query`` or ``channels.desk``."""
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
        if not parts:
            return None
        table, rest = parts[0], parts[1:]
        index = int(rest.pop(0)[1:-1]) if rest and rest[0].startswith("[") else None
        start, end = self._table_span(table, index)
        if start is None:
            return None
        for sub in rest[:1]:
            pat = re.compile(rf"^\s*(\"?){re.escape(sub)}\1\s*=")
            for i in range(start, end):
                if pat.match(self.lines[i]):
                    return i + 1
            header = re.compile(rf"^\s*\[\s*{re.escape(table)}\.{re.escape(sub)}\s*\]")
            for i, line in enumerate(self.lines):
                if header.match(line):
                    return i + 1
        return start + 1 if start < len(self.lines) else None

    def _table_span(self, table: str, index: int | None) -> tuple[int | None, int]:
        header = re.compile(
            rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]"
            if index is not None
            else rf"^\s*\[\s*{re.escape(table)}\s*\]"
        )
        seen = -1
        for i, line in enumerate(self.lines):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    end = next(
                        (
                            j
                            for j in range(i + 1, len(self.lines))
                            if re.match(r"^\s*\[", self.lines[j])
                        ),
                        len(self.lines),
                    )
                    return i, end
        return None, 0

    # -- typed getters ----------------------------------------------------------
    def table(self, data: Mapping[str, Any], key: str, allowed: set[str], where: str) -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(where, "must be a table")
        self.no_unknown(value, allowed, where)
        return value

    def no_unknown(self, value: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for k in value:
            if k not in allowed:
                hint = difflib.get_close_matches(k, sorted(allowed), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                prefix = f"{where}." if where else ""
                raise self.error(
                    f"{prefix}{k}", f"unknown key{extra}; allowed: {', '.join(sorted(allowed))}"
                )

    def typed(self, value: Any, kind: type | tuple[type, ...], key: str, what: str) -> Any:
        if (
            isinstance(value, bool)
            and kind is not bool
            and bool not in (kind if isinstance(kind, tuple) else (kind,))
        ):
            raise self.error(key, f"must be {what}, got a boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"must be {what}, got {type(value).__name__} {value!r}")
        return value

    def duration(self, value: Any, key: str) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        if seconds < 0:
            raise self.error(key, "must not be negative")
        return seconds

    def size(self, value: Any, key: str) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def parsed(self, parse: Callable[[Any], Any], value: Any, key: str) -> Any:
        """``parse(value)``, None when the key is not set; its ValueError names ``key``."""
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def string_list(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            raise self.error(key, "must be a list of non-empty strings")
        return tuple(x.strip() for x in value)

    def expand_env(self, value: str, key: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self.env:
                raise self.error(
                    key,
                    f"environment variable ${{{name}}} is not set "
                    "(set it in the environment, an EnvironmentFile= or a systemd credential)",
                )
            return self.env[name]

        return _ENV_REF.sub(sub, value)

    # -- sections ---------------------------------------------------------------
    def build(self, data: dict[str, Any]) -> Sections:
        """Every section of ``data``, validated; raises :class:`ConfigError`."""
        self.no_unknown(data, _TOP_KEYS, "")
        monitor = self.monitor(self.table(data, "monitor", _MONITOR_KEYS, "monitor"))
        fetch = self.fetch(self.table(data, "fetch", _FETCH_KEYS, "fetch"))
        self.check_ranges(monitor, fetch)
        channels = self.channels(data.get("channels", {}))
        terms = self.terms(data.get("terms", {}))
        feeds = self.feeds(data.get("feeds", []), monitor)
        feeds += self.included_feeds(data.get("monitor", {}).get("include", []), monitor, feeds)
        rules = self.rules(data.get("rules", []), channels)
        if monitor.operator_channel and monitor.operator_channel not in channels:
            raise self.error(
                "monitor.operator_channel",
                f"unknown channel {monitor.operator_channel!r}; defined: {', '.join(channels) or 'none'}",
            )
        warnings = tuple(
            f"{self.path}: feed {f.url} is a local file that does not exist (yet)"
            for f in feeds
            if f.is_local and not Path(f.url).exists()
        )
        return Sections(monitor, fetch, channels, terms, feeds, rules, warnings)

    def compile(
        self, rules: tuple[RuleConfig, ...], terms: Mapping[str, tuple[str, ...]]
    ) -> Matcher:
        """The compiled rule set; a rule that does not compile names its ``query`` line."""
        try:
            return compile_rules(rules, terms)
        except QueryError as exc:
            index = next((i for i, r in enumerate(rules) if r.name == exc.rule), None)
            key = f"rules[{index}].query" if index is not None else "rules"
            raise self.error(key, f"rule {exc.rule!r}: {exc}") from exc

    def monitor(self, t: dict[str, Any]) -> MonitorSettings:
        state_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0] or str(
            t.get("state_dir", "data")
        )
        database = t.get("database") or f"sqlite:///{Path(state_dir) / 'monitor.db'}"
        self.typed(database, str, "monitor.database", "a SQLAlchemy URL string")
        try:
            make_url(database).get_dialect().import_dbapi()
        except ImportError as exc:
            raise self.error(
                "monitor.database",
                f"no database driver installed for this URL "
                f"({exc}); for PostgreSQL: pip install 'press-monitor[postgres]' "
                "and use postgresql+psycopg://",
            ) from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several kinds
            raise self.error("monitor.database", f"not a database URL: {exc}") from None
        tz = self.typed(t.get("timezone", "UTC"), str, "monitor.timezone", "a timezone name")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(
                "monitor.timezone", f'unknown timezone {tz!r} (e.g. "Europe/Kyiv")'
            ) from None
        http = t.get("http")
        if http is not None:
            self.typed(http, str, "monitor.http", '"HOST:PORT"')
            if not re.match(r"^[\w.\-\[\]:]+:\d{1,5}$", http):
                raise self.error(
                    "monitor.http", f'{http!r} is not HOST:PORT (e.g. "127.0.0.1:9310")'
                )
        retention = t.get("retention")
        return MonitorSettings(
            database=database,
            poll_interval_s=self.duration(t.get("poll_interval", "5m"), "monitor.poll_interval"),
            timezone=tz,
            backlog_s=self.duration(t.get("backlog", "24h"), "monitor.backlog"),
            operator_channel=t.get("operator_channel"),
            feed_broken_after_s=self.duration(
                t.get("feed_broken_after", "12h"), "monitor.feed_broken_after"
            ),
            http=http,
            watch_config=self.typed(
                t.get("watch_config", False), bool, "monitor.watch_config", "true or false"
            ),
            retention_s=None
            if retention in (None, "", 0)
            else self.duration(retention, "monitor.retention"),
            keep_matched=self.typed(
                t.get("keep_matched", True), bool, "monitor.keep_matched", "true or false"
            ),
            shutdown_timeout_s=self.duration(
                t.get("shutdown_timeout", "10s"), "monitor.shutdown_timeout"
            ),
            tick_s=self.duration(t.get("tick", "15s"), "monitor.tick"),
            max_attempts=self.typed(
                t.get("max_attempts", 8), int, "monitor.max_attempts", "an integer"
            ),
            state_dir=state_dir,
        )

    def check_ranges(self, m: MonitorSettings, f: FetchSettings) -> None:
        """Values that parse but make no sense are errors, not silent clamps."""
        checks = [
            (
                "monitor.poll_interval",
                m.poll_interval_s >= 60,
                "must be at least 60s (be polite to publishers)",
            ),
            ("monitor.tick", 1 <= m.tick_s <= 600, "must be between 1s and 10m"),
            ("monitor.max_attempts", 1 <= m.max_attempts <= 100, "must be between 1 and 100"),
            (
                "monitor.retention",
                m.retention_s is None or m.retention_s >= 86400,
                "must be at least 1d (or leave it unset to keep everything)",
            ),
            ("monitor.shutdown_timeout", m.shutdown_timeout_s <= 300, "must be at most 5m"),
            ("monitor.feed_broken_after", m.feed_broken_after_s >= 0, "must not be negative"),
            ("fetch.connect_timeout", f.connect_timeout_s > 0, "must be more than 0s"),
            ("fetch.timeout", f.timeout_s > 0, "must be more than 0s"),
            ("fetch.parse_timeout", f.parse_timeout_s > 0, "must be more than 0s"),
            ("fetch.max_bytes", f.max_bytes >= 1024, "must be at least 1kB"),
            ("fetch.max_redirects", 0 <= f.max_redirects <= 20, "must be between 0 and 20"),
            ("fetch.per_host", 1 <= f.per_host <= 64, "must be between 1 and 64"),
            ("fetch.concurrency", 1 <= f.concurrency <= 256, "must be between 1 and 256"),
        ]
        for key, ok, message in checks:
            if not ok:
                raise self.error(key, message)
        if m.http is not None and not 0 < int(m.http.rsplit(":", 1)[1]) < 65536:
            raise self.error("monitor.http", f"port in {m.http!r} must be between 1 and 65535")

    def fetch(self, t: dict[str, Any]) -> FetchSettings:
        d = FetchSettings()
        ua = t.get("user_agent")
        if ua is not None:
            self.typed(ua, str, "fetch.user_agent", "a string")
        return FetchSettings(
            connect_timeout_s=self.duration(
                t.get("connect_timeout", d.connect_timeout_s), "fetch.connect_timeout"
            ),
            timeout_s=self.duration(t.get("timeout", d.timeout_s), "fetch.timeout"),
            max_bytes=self.size(t.get("max_bytes", d.max_bytes), "fetch.max_bytes"),
            max_redirects=self.typed(
                t.get("max_redirects", d.max_redirects), int, "fetch.max_redirects", "an integer"
            ),
            per_host=self.typed(t.get("per_host", d.per_host), int, "fetch.per_host", "an integer"),
            concurrency=self.typed(
                t.get("concurrency", d.concurrency), int, "fetch.concurrency", "an integer"
            ),
            user_agent=ua,
            force_refetch_s=self.duration(
                t.get("force_refetch", d.force_refetch_s), "fetch.force_refetch"
            ),
            parse_timeout_s=self.duration(
                t.get("parse_timeout", d.parse_timeout_s), "fetch.parse_timeout"
            ),
        )

    def channels(self, t: Any) -> dict[str, ChannelConfig]:
        if not isinstance(t, dict):
            raise self.error("channels", 'must be a table of name = "apprise URL"')
        out: dict[str, ChannelConfig] = {}
        for name, value in t.items():
            key = f"channels.{name}"
            opts: dict[str, Any] = {}
            if isinstance(value, dict):
                self.no_unknown(value, _CHANNEL_KEYS, key)
                opts = value
                value = value.get("url")
            if not isinstance(value, str) or "://" not in value:
                raise self.error(
                    key,
                    'must be an apprise URL such as "tgram://TOKEN/CHAT_ID" '
                    'or a table with url = "..."',
                )
            url = self.expand_env(value, key)
            if not _is_usable_apprise_url(url):
                raise self.error(
                    key,
                    f"apprise cannot use {mask_url(value)!r}: unknown scheme or "
                    "malformed URL (see https://github.com/caronc/apprise/wiki)",
                )
            for secret in _ENV_REF.findall(value):
                register_secret(self.env.get(secret, ""))
            quiet = self.parsed(parse_quiet_hours, opts.get("quiet_hours"), f"{key}.quiet_hours")
            rate = self.parsed(parse_rate, opts.get("rate_limit"), f"{key}.rate_limit")
            template = opts.get("template")
            if template is not None:
                tpath = self.path.parent / str(template)
                if not tpath.is_file():
                    raise self.error(f"{key}.template", f"template file {tpath} does not exist")
                template = str(tpath)
            out[name] = ChannelConfig(
                name, url, mask_url(value if "${" in value else url), quiet, rate, template
            )
        return out

    def terms(self, t: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(t, dict):
            raise self.error("terms", 'must be a table of name = ["spelling", ...]')
        return {name: self.string_list(v, f"terms.{name}") for name, v in t.items()}

    def feeds(self, items: Any, monitor: MonitorSettings) -> tuple[FeedConfig, ...]:
        if not isinstance(items, list):
            raise self.error("feeds", "must be an array of tables: [[feeds]]")
        out: list[FeedConfig] = []
        seen: set[str] = set()
        for i, t in enumerate(items):
            key = f"feeds[{i}]"
            self.no_unknown(t, _FEED_KEYS, key)
            url = t.get("url")
            if not isinstance(url, str) or not url.strip():
                raise self.error(
                    f"{key}.url" if "url" in t else key, 'every feed needs url = "https://..."'
                )
            url = self.feed_url(url.strip(), f"{key}.url")
            if url in seen:
                raise self.error(f"{key}.url", f"feed {url} is listed twice")
            seen.add(url)
            lang = t.get("language")
            if lang is not None and (not isinstance(lang, str) or lang not in LANGUAGES):
                raise self.error(
                    f"{key}.language",
                    f"unknown language {lang!r}; use one of {', '.join(sorted(LANGUAGES))}",
                )
            interval = self.duration(t.get("interval", monitor.poll_interval_s), f"{key}.interval")
            if interval < 60 and "interval" in t:
                raise self.error(
                    f"{key}.interval", "must be at least 60s (be polite to publishers)"
                )
            out.append(
                FeedConfig(
                    url=url,
                    name=self.typed(t["name"], str, f"{key}.name", "a string")
                    if "name" in t
                    else None,
                    interval_s=interval,
                    backlog_s=self.duration(t.get("backlog", monitor.backlog_s), f"{key}.backlog"),
                    language=lang,
                    full_text=self.typed(
                        t.get("full_text", False), bool, f"{key}.full_text", "true or false"
                    ),
                    timeout_s=self.duration(t["timeout"], f"{key}.timeout")
                    if "timeout" in t
                    else None,
                    max_bytes=self.size(t["max_bytes"], f"{key}.max_bytes")
                    if "max_bytes" in t
                    else None,
                )
            )
        return tuple(out)

    def included_feeds(
        self, include: Any, monitor: MonitorSettings, known: tuple[FeedConfig, ...]
    ) -> tuple[FeedConfig, ...]:
        """``[monitor] include = ["feeds.toml"]``: more ``[[feeds]]`` from other files
        (paths relative to this file), e.g. written by ``monitor feeds import-opml --to``.
        An included file may hold only ``[[feeds]]``; its errors name that file."""
        paths = self.string_list(include, "monitor.include") if include else ()
        out: list[FeedConfig] = []
        seen = {f.url for f in known}
        for rel in paths:
            path = (self.path.parent / rel).expanduser()
            try:
                source = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise self.error(
                    "monitor.include", f"cannot read included file {path}: {exc.strerror or exc}"
                ) from None
            sub = Validator(path, source, self.env)
            try:
                data = tomllib.loads(source)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from exc
            sub.no_unknown(data, {"feeds"}, "")
            for i, feed in enumerate(sub.feeds(data.get("feeds", []), monitor)):
                if feed.url in seen:
                    raise sub.error(
                        f"feeds[{i}].url",
                        f"feed {feed.url} is already listed "
                        f"in {self.path} or another included file",
                    )
                seen.add(feed.url)
                out.append(feed)
        return tuple(out)

    def feed_url(self, url: str, key: str) -> str:
        if "${" in url:  # a token in a feed URL comes from the environment, like channel secrets
            for name in _ENV_REF.findall(url):
                register_secret(self.env.get(name, ""))
            url = self.expand_env(url, key)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            if not parts.hostname:
                raise self.error(key, f"{url!r} has no host")
            return url
        if parts.scheme == "file":
            url = parts.path
        elif parts.scheme and len(parts.scheme) > 1:
            raise self.error(
                key, f"unsupported scheme {parts.scheme!r}: use http(s) or a local file path"
            )
        path = Path(url).expanduser()
        if not path.is_absolute():
            path = (self.path.parent / path).resolve()
        return str(path)

    def rules(self, items: Any, channels: Mapping[str, ChannelConfig]) -> tuple[RuleConfig, ...]:
        if not isinstance(items, list):
            raise self.error("rules", "must be an array of tables: [[rules]]")
        out: list[RuleConfig] = []
        names: set[str] = set()
        for i, t in enumerate(items):
            key = f"rules[{i}]"
            self.no_unknown(t, _RULE_KEYS, key)
            for required in ("name", "query"):
                if not isinstance(t.get(required), str) or not t[required].strip():
                    raise self.error(
                        f"{key}.{required}" if required in t else key,
                        f'every rule needs {required} = "..."',
                    )
            name = t["name"].strip()
            if name in names:
                raise self.error(f"{key}.name", f"rule name {name!r} is used twice")
            names.add(name)
            chans = self.string_list(t.get("channels", []), f"{key}.channels")
            for c in chans:
                if c not in channels:
                    raise self.error(
                        f"{key}.channels",
                        f"unknown channel {c!r}; defined: {', '.join(channels) or 'none'}",
                    )
            langs = self.string_list(t.get("languages", []), f"{key}.languages")
            for lang in langs:
                if lang not in LANGUAGES:
                    raise self.error(f"{key}.languages", f"unknown language {lang!r}")
            delivery = t.get("delivery", "instant")
            if delivery not in ("instant", "digest"):
                raise self.error(f"{key}.delivery", f'{delivery!r}: use "instant" or "digest"')
            digest = None  # an instant rule's digest is never used, so never read
            if delivery == "digest":
                raw = t.get("digest")
                digest = self.parsed(parse_digest, raw, f"{key}.digest") if raw else HOURLY
            priority = t.get("priority", "normal")
            if priority not in ("normal", "high"):
                raise self.error(f"{key}.priority", f'{priority!r}: use "normal" or "high"')
            min_sources = t.get("min_sources", 1)
            if not isinstance(min_sources, int) or isinstance(min_sources, bool) or min_sources < 1:
                raise self.error(f"{key}.min_sources", "must be a whole number >= 1")
            out.append(
                RuleConfig(
                    name,
                    t["query"].strip(),
                    chans,
                    langs,
                    delivery,
                    digest,
                    priority,
                    min_sources,
                )
            )
        return tuple(out)
