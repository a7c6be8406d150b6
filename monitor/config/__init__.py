"""Config: parse the TOML file once, strictly, into frozen objects (STYLE.md #9).

:func:`load_config` reads the file, :class:`~monitor.config.validate.Validator` checks
every section (the keys of each: :mod:`monitor.config.spec`; the value parsers:
:mod:`monitor.config.units`), and the rules are compiled once
(:func:`monitor.match.compile_rules`), so a bad rule fails at start. The result is one
frozen :class:`Config` passed down to every stage, every value already parsed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config.validate import Validator
from monitor.errors import ConfigError
from monitor.match import Matcher
from monitor.records import ChannelConfig, FeedConfig, FetchSettings, MonitorSettings, RuleConfig
from monitor.secrets import secret_environ


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config. ``matcher`` is the compiled rule set."""

    path: str
    monitor: MonitorSettings
    fetch: FetchSettings
    channels: Mapping[str, ChannelConfig]
    terms: Mapping[str, tuple[str, ...]]
    feeds: tuple[FeedConfig, ...]
    rules: tuple[RuleConfig, ...]
    matcher: Matcher = field(compare=False, repr=False)
    warnings: tuple[str, ...] = ()  # things that work but are probably not meant


DEFAULT_CONFIG = "config.toml"


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--config`` wins, then ``$MONITOR_CONFIG``, then ``./config.toml``."""
    env = os.environ if environ is None else environ
    return Path(cli_path or env.get("MONITOR_CONFIG") or DEFAULT_CONFIG)


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    *,
    unset_channel_env: bool = False,
) -> Config:
    """Read, validate and compile the config at ``path``; raise :class:`ConfigError`.

    ``environ`` supplies ``${VAR}`` values (default: the process environment, then files
    in ``$CREDENTIALS_DIRECTORY`` — systemd ``LoadCredential=``). With
    ``unset_channel_env`` a ``${VAR}`` of a channel URL that is not set is no error (a
    stand-in takes its place): for the commands that never deliver.
    """
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found (use --config PATH or $MONITOR_CONFIG)", path=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", path=str(path)) from exc
    try:
        data = tomllib.loads(source)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4,300 digits
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(
            f"invalid TOML: {msg}" + (f" (column {m.group(2)})" if m else ""),
            path=str(path),
            line=int(m.group(1)) if m else None,
        ) from exc
    validator = Validator(
        path, source, secret_environ(environ), unset_channel_env=unset_channel_env
    )
    s = validator.build(data)
    return Config(
        path=str(path),
        monitor=s.monitor,
        fetch=s.fetch,
        channels=s.channels,
        terms=s.terms,
        feeds=s.feeds,
        rules=s.rules,
        matcher=validator.compile(s.rules, s.terms),
        warnings=s.warnings,
    )
