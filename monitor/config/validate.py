"""Validate the TOML document of a config into frozen records, naming file, key and line.

:class:`Validator` reads each section with the tables of :mod:`monitor.config.spec`
(one generic loop: :meth:`Validator.read`) and by hand only the keys that depend on
others, the environment or files. It raises :class:`~monitor.errors.ConfigError` with
the dotted key, the 1-based line (:func:`~monitor.config.lines.line_of`) and a "did you
mean" for unknown keys. No I/O except reading files named by ``[monitor] include`` and
checking that local feed files and templates exist.

A schema library was considered and not used: pydantic and msgspec word their errors
their own way and know no TOML lines; attrs + cattrs likewise. The messages here are a
contract (tests and users read them), and the tables are a few dozen lines.
"""

from __future__ import annotations

import difflib
import logging
import re
import shlex
import sqlite3
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import make_url

from monitor.config import spec
from monitor.config.edit import ENV_REF, include_path, same_file
from monitor.config.lines import line_of
from monitor.config.refs import Part, encode_for, fill_refs
from monitor.config.spec import Convert, Key, defaults, string_list
from monitor.config.units import parse_digest, shown
from monitor.config.urls import feed_url_problem, port_problem
from monitor.errors import ConfigError, QueryError
from monitor.match import Matcher, compile_rules
from monitor.records import (
    HOURLY,
    ChannelConfig,
    ChannelKind,
    FeedConfig,
    FetchSettings,
    MonitorSettings,
    RuleConfig,
    channel_kind,
)
from monitor.secrets import mask_text, mask_url, register_secret
from monitor.text import printable

_MONITOR_KEYS = spec.allowed(spec.MONITOR, spec.MONITOR_OWN)
_FETCH_KEYS = spec.allowed(spec.FETCH)
_FEED_KEYS = spec.allowed(spec.FEED, spec.FEED_OWN)
_RULE_KEYS = spec.allowed(spec.RULE, spec.RULE_OWN)
_CHANNEL_KEYS = spec.allowed(spec.CHANNEL, spec.CHANNEL_OWN)


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


def _apprise_problem(url: str, kind: ChannelKind) -> str | None:
    """None when apprise can build a notifier from ``url`` (``console://`` is ours:
    :mod:`monitor.notify.console` registers it before sending), else apprise's own reason
    ("Invalid ~From~ email specified: …"), which it only logs. Lines that repeat the URL
    are left out: they may hold its secrets."""
    import apprise

    if kind == "console":
        return None
    reasons: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if record.levelno >= logging.WARNING and "://" not in message:
                reasons.append(message)

    handler = _Collect()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False  # its lines quote the URL's token
    try:
        if apprise.Apprise.instantiate(url) is not None:
            return None
    finally:
        logger.propagate = propagate
        logger.removeHandler(handler)
    return _without_url_pieces("; ".join(dict.fromkeys(reasons)), url) or (
        "unknown scheme or malformed URL"
    )


def _without_url_pieces(text: str, url: str) -> str:
    """``text`` with every piece of ``url`` after its scheme (4 characters or more) masked:
    apprise quotes a bad token on its own ("An invalid Slack (third) Token (T1…) was
    specified"), and the token is the secret of the URL."""
    rest = url.split("://", 1)[-1]
    parts = re.split(r"[/:@?&=#,;+ ]+", rest)
    pieces = {piece for part in parts for piece in (part, *part.split("."))}
    for piece in sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


class Validator:
    """Turns the TOML document into frozen records, naming file, key and line on error."""

    def __init__(
        self,
        path: Path,
        source: str,
        environ: Mapping[str, str],
        *,
        unset_channel_env: bool = False,
    ) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.env = environ
        # a command that never delivers (search, alerts, stories…) reads a config whose
        # channel secrets are not set here: a colleague searching needs no Telegram token
        self.unset_channel_env = unset_channel_env
        self.unset: list[str] = []
        self.notes: list[str] = []  # warnings found while reading values (build adds them)
        # press-monitor 0.1's database in the working directory, none beside the config
        self.old_database: tuple[Path, Path, Path] | None = None

    # -- errors and the generic loop ------------------------------------------------
    def error(self, key: str, message: str) -> ConfigError:
        """The error at ``key``, on one printable line (a key or value from the file may
        hold a newline, an escape or a bidi control)."""
        return ConfigError(
            _one_line(message), path=str(self.path), key=_one_line(key), line=self.line_of(key)
        )

    def line_of(self, key: str) -> int | None:
        """Best-effort line of a dotted key such as ``rules[2].query`` or ``channels.desk``."""
        return line_of(self.lines, key)

    def table(
        self, data: Mapping[str, Any], key: str, allowed: set[str], where: str
    ) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(where, "must be a table")
        self.no_unknown(value, allowed, where)
        return value

    def no_unknown(self, value: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
        for k in value:
            if k not in allowed:
                hint = difflib.get_close_matches(k, sorted(allowed), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                prefix = f"{where}." if where else ""
                raise self.error(
                    f"{prefix}{k}", f"unknown key{extra}; allowed: {', '.join(sorted(allowed))}"
                )

    def convert(self, convert: Convert, value: Any, key: str) -> Any:
        """``convert(value)``; its ``ValueError`` becomes a :class:`ConfigError` at ``key``."""
        try:
            return convert(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def read(
        self, keys: tuple[Key, ...], t: Mapping[str, Any], where: str, default: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The record fields of ``keys``: converted and range-checked where ``t`` has the
        key, else ``default[field]`` (the record's default, valid by construction)."""
        out: dict[str, Any] = {}
        for k in keys:
            if k.name not in t:
                out[k.attr] = default[k.attr]
                continue
            key = f"{where}.{k.name}"
            out[k.attr] = value = self.convert(k.convert, t[k.name], key)
            if k.ok is not None and not k.ok(value):
                raise self.error(key, k.message)
        return out

    def expand_env(self, value: str, key: str, *, optional: bool = False) -> str:
        """The URL ``value`` with every ``${VAR}`` replaced, percent-encoded for the URL part
        it stands in (:func:`~monitor.config.refs.fill_refs`: ``user:${PASS}@``, a path
        segment, a query value; as written before ``://`` and in the host). Each value put
        in is registered as a secret (:func:`~monitor.secrets.register_secret`), as written
        and as encoded: every output masks it from now on, whatever the key it stands
        under (``?session=${TOKEN}``)."""

        def lookup(name: str) -> str:
            if name not in self.env and optional and self.unset_channel_env:
                self.unset.append(name)
                return f"unset-{name.lower()}"  # a stand-in: this process never delivers
            if name not in self.env:
                raise self.error(
                    key,
                    f"environment variable ${{{name}}} is not set "
                    "(set it in the environment, an EnvironmentFile= or a systemd credential)",
                )
            secret = self.env[name]
            for form in (secret, *(encode_for(part, secret) for part in get_args(Part))):
                register_secret(form)
            return secret

        return fill_refs(ENV_REF.split(value), lookup)

    # -- the document -----------------------------------------------------------------
    def build(self, data: dict[str, Any]) -> Sections:
        """Every section of ``data``, validated; raises :class:`ConfigError`."""
        self.no_unknown(data, spec.TOP, "")
        monitor = self.monitor(self.table(data, "monitor", _MONITOR_KEYS, "monitor"))
        fetch = self.fetch(self.table(data, "fetch", _FETCH_KEYS, "fetch"))
        channels = self.channels(data.get("channels", {}))
        terms = self.terms(data.get("terms", {}))
        feeds = self.feeds(data.get("feeds", []), monitor)
        feeds += self.included_feeds(data.get("monitor", {}).get("include"), monitor, feeds)
        rules = self.rules(data.get("rules", []), channels)
        self.refuse_old_database({f.url for f in feeds})
        if monitor.operator_channel and monitor.operator_channel not in channels:
            raise self.error(
                "monitor.operator_channel",
                f"unknown channel {shown(monitor.operator_channel)}; defined: {', '.join(channels) or 'none'}",
            )
        warnings = (
            tuple(self.notes)
            + tuple(
                f"{self.path}: feed {f.url} is a local file that does not exist (yet)"
                for f in feeds
                if f.is_local and not _exists(f.url)
            )
            + tuple(
                f"{self.path}: rule {r.name!r} needs min_sources = {r.min_sources} feeds, "
                f"but only {len(feeds)} are configured: it can never alert"
                for r in rules
                if r.min_sources > len(feeds)
            )
            + tuple(
                f"{self.path}:{self.line_of(f'rules[{i}]') or '?'}: rule {r.name!r} has no "
                'channels: its matches are recorded but never sent (add channels = ["..."])'
                for i, r in enumerate(rules)
                if not r.channels
            )
        )
        return Sections(
            monitor=monitor,
            fetch=fetch,
            channels=channels,
            terms=terms,
            feeds=feeds,
            rules=rules,
            warnings=warnings,
        )

    def compile(
        self, rules: tuple[RuleConfig, ...], terms: Mapping[str, tuple[str, ...]]
    ) -> Matcher:
        """The compiled rule set; a rule that does not compile names its ``query`` line."""
        try:
            return compile_rules(rules, terms)
        except QueryError as exc:
            index = next((i for i, r in enumerate(rules) if r.name == exc.rule), None)
            key = f"rules[{index}].query" if index is not None else "rules"
            raise self.error(key, f"rule {shown(exc.rule)}: {exc}") from exc

    # -- [monitor] --------------------------------------------------------------------
    def monitor(self, t: dict[str, Any]) -> MonitorSettings:
        default = defaults(MonitorSettings)
        state_dir = self.state_dir(t, default["state_dir"])
        default_db = f"sqlite:///{Path(state_dir) / 'monitor.db'}"
        database = self.beside_config(self.database(t.get("database", default_db)))
        state_dir = str(self.base_dir() / Path(state_dir).expanduser())  # unchanged if absolute
        values = self.read(spec.MONITOR, t, "monitor", default)
        self.http_public(values["http"], values["http_public"])
        return MonitorSettings(database=database, state_dir=state_dir, **values)

    def http_public(self, address: str | None, public: bool) -> None:
        """``/healthz`` and ``/metrics`` have no authentication: listening on anything but
        loopback must be asked for with ``http_public = true`` (issue 10)."""
        if address and not public and not spec.is_loopback_address(address):
            raise self.error(
                "monitor.http",
                f"{address!r} is not a loopback address: /healthz and /metrics (no "
                'authentication) would be reachable from other machines; use "127.0.0.1:PORT", '
                "or set http_public = true in [monitor] to allow it",
            )

    def state_dir(self, t: Mapping[str, Any], default: str) -> str:
        """``$STATE_DIRECTORY`` of the environment given (systemd's ``StateDirectory=``,
        the first of several), else ``state_dir`` (a non-empty string), else ``default``.
        The unit wins over the file: it knows where state lives. The file's value is
        checked either way."""
        written = default
        if "state_dir" in t:
            written = self.convert(spec.non_empty_string, t["state_dir"], "monitor.state_dir")
        return self.env.get("STATE_DIRECTORY", "").split(":")[0] or written

    def database(self, url: Any) -> str:
        """A SQLAlchemy URL whose driver is installed: a config error, not a crash at start."""
        key = "monitor.database"
        url = self.expand_env(self.convert(spec.non_empty_string, url, key), key)
        try:
            sa_url = make_url(url)
            sa_url.get_dialect().import_dbapi()
        except ImportError as exc:
            raise self.error(
                key,
                f"no database driver installed for this URL "
                f"({exc}); for PostgreSQL: pip install 'press-monitor[postgres]' "
                "and use postgresql+psycopg://",
            ) from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several kinds
            raise self.error(key, f"not a database URL: {exc}") from None
        if sa_url.port is not None and not 0 < sa_url.port < 65536:
            raise self.error(key, f"port {sa_url.port} is out of range: use a port from 1 to 65535")
        if "\x00" in (sa_url.database or ""):
            raise self.error(key, "the database name holds a NUL character")
        return str(url)

    def base_dir(self) -> Path:
        """The config file's folder, absolute: relative paths in the config start here."""
        return self.path.parent.resolve()

    def refuse_old_database(self, feed_urls: set[str]) -> None:
        """A database of press-monitor 0.1 in the working directory, and none beside the
        config: refused when it is this config's (it holds one of its feeds, or cannot be
        read to tell), not silently replaced by a new, empty one; another config's is let
        be, with a note."""
        if self.old_database is None:
            return
        written, old, path = self.old_database
        stored = _stored_feed_urls(old)
        if stored is not None and not stored & feed_urls:
            self.notes.append(
                f"{self.path}: {old} in the working directory holds none of this config's "
                f"feeds (another config's database): not used; this config's is {path}"
            )
            return
        raise self.error(
            "monitor.database",
            f"{written} is relative to the config's folder: {path} does not "
            f"exist, but {old} does (press-monitor 0.1 put it in the working "
            "directory); if it is this config's database, move it there "
            f"(mv {shlex.quote(str(old))}* {shlex.quote(str(path.parent))}/), "
            "or give an absolute path: "
            f'database = "sqlite:///{old}" keeps using it, '
            f'database = "sqlite:///{path}" starts a new one',
        )

    def beside_config(self, url: str) -> str:
        """A SQLite URL whose path is relative (the default ``data/monitor.db`` too) made
        absolute against the config file's folder, as local feed paths are, so every
        command finds the database whatever the working directory. An absolute path
        (``~`` expanded), an in-memory database, a ``file:`` URI (``?uri=true``) and any
        other backend are returned unchanged.

        press-monitor 0.1 took such a path relative to the working directory. When the file
        beside the config does not exist but the one in the working directory does, the
        old database is refused, not silently replaced by a new, empty one (which would
        alert on the feeds' recent entries again): the error says how to move it or
        point at it. When both exist, the one beside the config is used, with a warning."""
        sa_url = make_url(url)
        name = sa_url.database
        if (
            sa_url.get_backend_name() != "sqlite"
            or not name
            or name == ":memory:"
            or name.startswith("file:")
            or str(sa_url.query.get("uri", "")).lower() in ("true", "1")
        ):
            return url
        written = Path(name).expanduser()
        if written.is_absolute():
            return url if written == Path(name) else _with_database(sa_url, written)
        path = self.base_dir() / written
        try:
            old = Path.cwd() / written
        except OSError:  # the working directory was deleted: nothing old to find there
            old = path
        if old != path and _is_file(old):
            if not _is_file(path):
                self.old_database = (written, old, path)  # whose? decided once feeds are read
                return _with_database(sa_url, path)
            if not same_file(old, path):
                self.notes.append(
                    f"{self.path}: using the database {path} (beside the config); "
                    f"{old} in the working directory is not used"
                )
        return _with_database(sa_url, path)

    # -- [fetch] ------------------------------------------------------------------------
    def fetch(self, t: dict[str, Any]) -> FetchSettings:
        return FetchSettings(**self.read(spec.FETCH, t, "fetch", defaults(FetchSettings)))

    # -- [channels] ---------------------------------------------------------------------
    def channels(self, t: Any) -> dict[str, ChannelConfig]:
        if not isinstance(t, dict):
            raise self.error("channels", 'must be a table of name = "apprise URL"')
        return {name: self.channel(name, value) for name, value in t.items()}

    def channel(self, name: str, value: Any) -> ChannelConfig:
        """``name = "URL"`` or ``name = { url = "URL", quiet_hours = ..., ... }``."""
        key = f"channels.{name}"
        opts: dict[str, Any] = {}
        if isinstance(value, dict):
            self.no_unknown(value, _CHANNEL_KEYS, key)
            opts, value = value, value.get("url")
        if not isinstance(value, str) or "://" not in value:
            raise self.error(
                key,
                'must be an apprise URL such as "tgram://TOKEN/CHAT_ID" '
                'or a table with url = "..."',
            )
        url = self.expand_env(value, key, optional=True)
        kind = channel_kind(url)
        problem = _apprise_problem(url, kind)
        if problem:
            raise self.error(
                key,
                f"apprise cannot use {shown(mask_url(value))}: {mask_text(problem)} "
                "(see https://github.com/caronc/apprise/wiki)",
            )
        problem = port_problem(url)
        if problem:
            raise self.error(key, f"{shown(mask_url(value))}: {problem}")
        masked = mask_url(value if "${" in value else url)
        options = self.read(spec.CHANNEL, opts, key, defaults(ChannelConfig))
        if options.get("story_updates") == "reply" and kind != "telegram":
            raise self.error(
                f"{key}.story_updates",
                f'"reply" needs a Telegram channel (tgram://); a {kind} channel cannot answer '
                'a message: use "none" (later outlets are listed in digests and '
                "'monitor stories')",
            )
        template = self.template(opts["template"], key) if "template" in opts else None
        return ChannelConfig(
            name=name, url=url, masked_url=masked, kind=kind, template=template, **options
        )

    def template(self, value: Any, where: str) -> str:
        """A template file, relative to the config file."""
        path = self.path.parent / str(value)
        if not path.is_file():
            raise self.error(f"{where}.template", f"template file {path} does not exist")
        return str(path)

    # -- [terms] ----------------------------------------------------------------------
    def terms(self, t: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(t, dict):
            raise self.error("terms", 'must be a table of name = ["spelling", ...]')
        return {name: self.convert(string_list, v, f"terms.{name}") for name, v in t.items()}

    # -- [[feeds]] ----------------------------------------------------------------------
    def feeds(self, items: Any, monitor: MonitorSettings) -> tuple[FeedConfig, ...]:
        if not isinstance(items, list):
            raise self.error("feeds", "must be an array of tables: [[feeds]]")
        default = defaults(FeedConfig)
        default |= {"interval_s": monitor.poll_interval_s, "backlog_s": monitor.backlog_s}
        out: list[FeedConfig] = []
        seen: set[str] = set()
        for i, t in enumerate(items):
            key = f"feeds[{i}]"
            if not isinstance(t, dict):
                raise self.error(
                    key, 'each [[feeds]] entry must be a table with url = "https://..."'
                )
            self.no_unknown(t, _FEED_KEYS, key)
            url = self.feed_url(t, key)
            if url in seen:
                raise self.error(f"{key}.url", f"feed {shown(mask_url(url))} is listed twice")
            seen.add(url)
            out.append(FeedConfig(url=url, **self.read(spec.FEED, t, key, default)))
        return tuple(out)

    def feed_url(self, t: Mapping[str, Any], where: str) -> str:
        """The required ``url``: ``${VAR}`` expanded (a secret), http(s) with a host, or a
        local path (``file://`` or plain) made absolute relative to the config file."""
        url = t.get("url")
        if not isinstance(url, str) or not url.strip():
            raise self.error(
                f"{where}.url" if "url" in t else where, 'every feed needs url = "https://..."'
            )
        key = f"{where}.url"
        written = url = url.strip()
        url = self.expand_env(url, key)  # a token in a feed URL is a secret, like a channel's
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL"
            raise self.error(key, f"{shown(mask_url(written))}: not a valid URL ({exc})") from None
        if parts.scheme in ("http", "https"):
            problem = feed_url_problem(url)
            if problem:
                raise self.error(key, f"{shown(mask_url(written))}: {problem}")
            if parts.password:  # written out literally: masked even where no URL frames it
                register_secret(unquote(parts.password))
                register_secret(parts.password)
            return url
        if parts.scheme == "file":
            url = parts.path
        elif parts.scheme and len(parts.scheme) > 1:
            raise self.error(
                key, f"unsupported scheme {shown(parts.scheme)}: use http(s) or a local file path"
            )
        return self.local_path(url, key)

    def local_path(self, url: str, key: str) -> str:
        """A local feed file, absolute (relative to the config file's folder)."""
        try:
            path = Path(url).expanduser()
            if not path.is_absolute():
                path = (self.path.parent / path).resolve()
            path.exists()  # a name too long for the filesystem raises here, not later
        except (OSError, RuntimeError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise self.error(
                key, f"cannot use {shown(url)} as a local file path: {reason}"
            ) from None
        return str(path)

    def included_feeds(
        self, include: Any, monitor: MonitorSettings, known: tuple[FeedConfig, ...]
    ) -> tuple[FeedConfig, ...]:
        """``[monitor] include = ["feeds.toml"]``: more ``[[feeds]]`` from other files
        (paths relative to this file), e.g. written by ``monitor feeds import-opml --to``.
        An included file may hold only ``[[feeds]]``; its errors name that file."""
        paths = () if include is None else self.convert(string_list, include, "monitor.include")
        out: list[FeedConfig] = []
        seen = {f.url for f in known}
        for rel in paths:
            sub, data = self.included(rel)
            for i, feed in enumerate(sub.feeds(data.get("feeds", []), monitor)):
                if feed.url in seen:
                    raise sub.error(
                        f"feeds[{i}].url",
                        f"feed {mask_url(feed.url)} is already listed "
                        f"in {self.path} or another included file",
                    )
                seen.add(feed.url)
                out.append(feed)
        return tuple(out)

    def included(self, rel: str) -> tuple[Validator, dict[str, Any]]:
        """The validator and TOML document of one included file (only ``[[feeds]]``)."""
        path = include_path(self.path, rel)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise self.error(
                "monitor.include", f"cannot read included file {shown(str(path))}: {reason}"
            ) from None
        sub = Validator(path, source, self.env)
        try:
            data = tomllib.loads(source)
        except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: a 5,000-digit int
            raise ConfigError(_one_line(f"invalid TOML: {exc}"), path=str(path)) from exc
        sub.no_unknown(data, {"feeds"}, "")
        return sub, data

    # -- [[rules]] ----------------------------------------------------------------------
    def rules(self, items: Any, channels: Mapping[str, ChannelConfig]) -> tuple[RuleConfig, ...]:
        if not isinstance(items, list):
            raise self.error("rules", "must be an array of tables: [[rules]]")
        names: set[str] = set()
        return tuple(self.rule(t, f"rules[{i}]", channels, names) for i, t in enumerate(items))

    def rule(
        self, t: Any, where: str, channels: Mapping[str, ChannelConfig], names: set[str]
    ) -> RuleConfig:
        """One ``[[rules]]`` table; ``names`` (the rules before it) gains its name."""
        if not isinstance(t, dict):
            raise self.error(
                where, 'each [[rules]] entry must be a table with name = "...", query = "..."'
            )
        return self.rule_table(t, where, channels, names)

    def rule_table(
        self, t: dict[str, Any], where: str, channels: Mapping[str, ChannelConfig], names: set[str]
    ) -> RuleConfig:
        self.no_unknown(t, _RULE_KEYS, where)
        name, query = (self.required_text(t, k, where, "rule") for k in ("name", "query"))
        if name in names:
            raise self.error(f"{where}.name", f"rule name {shown(name)} is used twice")
        names.add(name)
        values = self.read(spec.RULE, t, where, defaults(RuleConfig))
        for c in values["channels"]:
            if c not in channels:
                raise self.error(
                    f"{where}.channels",
                    f"unknown channel {shown(c)}; defined: {', '.join(channels) or 'none'}",
                )
        digest = None  # an instant rule's digest is never used, so never read
        if values["delivery"] == "digest":
            digest = (
                self.convert(parse_digest, t["digest"], f"{where}.digest")
                if "digest" in t
                else HOURLY
            )
        return RuleConfig(name=name, query=query, digest=digest, **values)

    def required_text(self, t: Mapping[str, Any], k: str, where: str, what: str) -> str:
        """``t[k]``, a non-empty string, stripped."""
        value = t.get(k)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{where}.{k}" if k in t else where, f'every {what} needs {k} = "..."')
        return value.strip()


def _one_line(text: str) -> str:
    """``text`` with every unprintable character (newline, escape, bidi control) written
    as its escape, never cut: an error is one line, shown as written."""
    return printable(text, 10 * len(text) + 1)  # an escape is at most 10 characters


def _exists(path: str) -> bool:
    """Whether a local feed file exists (False when the name cannot even be looked up)."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def _stored_feed_urls(path: Path) -> set[str] | None:
    """The feed URLs a press-monitor SQLite file holds (read-only), None when it cannot be
    read as one."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return {row[0] for row in conn.execute("SELECT url FROM feeds")}
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError):
        return None


def _is_file(path: Path) -> bool:
    """Whether ``path`` is an existing file (False when it cannot even be looked up)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _with_database(sa_url: Any, path: Path) -> str:
    """``sa_url`` (a SQLite URL) pointing at ``path``, its query kept, as a string."""
    return str(sa_url.set(database=str(path)).render_as_string(hide_password=False))
