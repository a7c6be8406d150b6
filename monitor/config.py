"""Config: parse the TOML file once, strictly, into frozen objects (STYLE.md #9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.records import ChannelConfig, FeedConfig, FetchSettings, RuleConfig


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """The ``[monitor]`` table."""

    database: str  # SQLAlchemy URL
    poll_interval_s: float = 300.0
    timezone: str = "UTC"
    backlog_s: float = 86400.0
    operator_channel: str | None = None  # where "feed broken" / "alert dead" notices go
    feed_broken_after_s: float = 12 * 3600.0
    http: str | None = None  # "127.0.0.1:9310": /healthz and /metrics; None = off
    watch_config: bool = False
    retention_s: float | None = None  # None: keep articles forever
    keep_matched: bool = True  # retention keeps articles that matched a rule
    shutdown_timeout_s: float = 10.0
    tick_s: float = 15.0  # how often the scheduler looks for due feeds / due alerts
    max_attempts: int = 8  # delivery attempts before an alert is dead
    state_dir: str = "data"


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
    matcher: Any = field(default=None, compare=False, repr=False)
