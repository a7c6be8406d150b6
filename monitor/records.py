"""Frozen, typed records passed between pipeline stages.

Data flows one way: config -> scheduler -> fetch -> parse -> normalise -> store ->
match -> outbox -> deliver. Each stage takes and returns these records; ORM classes
stay inside :mod:`monitor.store`, which converts rows to records. Closed sets of
values are ``Literal`` types (:func:`channel_kind` reads a channel URL's). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal, NamedTuple, get_args

AlertStatus = Literal["pending", "sending", "sent", "dead"]
ALERT_STATUSES: tuple[AlertStatus, ...] = get_args(AlertStatus)
Priority = Literal["normal", "high"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
DeliveryMode = Literal["instant", "digest"]
OnUpdate = Literal["record", "alert"]  # a rule's answer to a new headline of an alerted article
StoryUpdates = Literal["none", "reply"]  # a channel's answer to later articles of a story
AlertKind = Literal["match", "update", "story"]  # why an outbox row was written
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)
DELIVERY_MODES: tuple[DeliveryMode, ...] = get_args(DeliveryMode)
EvidenceField = Literal["title", "text"]
ChannelKind = Literal["telegram", "email", "console", "generic"]


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One ``[[feeds]]`` entry of the config, validated."""

    url: str  # http(s) URL, or an absolute local file path (fixtures)
    name: str | None = None  # display name; None -> the feed's own title
    interval_s: float = 300.0
    backlog_s: float = 86400.0  # first poll: entries older than this are stored, not alerted
    language: str | None = None  # "uk" | "ru" | "en" | ... ; wins over detection
    full_text: bool = False  # fetch the article page and extract the main text
    timeout_s: float | None = None  # per-feed override of [fetch] timeout
    max_bytes: int | None = None  # per-feed override of [fetch] max_bytes
    allow_private: bool | None = None  # per-feed override of [fetch] allow_private

    @property
    def is_local(self) -> bool:
        """True for a feed configured as a local file path (fixtures)."""
        return not self.url.startswith(("http://", "https://"))


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
    http_public: bool = False  # true: ``http`` may listen on a non-loopback address
    watch_config: bool = False
    retention_s: float | None = None  # None: keep articles forever
    keep_matched: bool = True  # retention keeps articles that matched a rule
    shutdown_timeout_s: float = 10.0
    tick_s: float = 15.0  # how often the scheduler looks for due feeds / due alerts
    max_attempts: int = 8  # delivery attempts before an alert is dead
    state_dir: str = "data"
    story_window_s: float = 72 * 3600.0  # how far back a new article looks for its story
    # How long a worker's claim on a feed (and its heartbeat) holds unrenewed: a killed
    # worker's feeds are polled by another after at most this (monitor.store.workers).
    worker_lease_s: float = 120.0


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """The ``[fetch]`` table: bounds and politeness for every HTTP request."""

    connect_timeout_s: float = 10.0
    timeout_s: float = 30.0  # total wall-clock deadline per fetch
    max_bytes: int = 10 * 1024 * 1024  # counted after decompression
    max_redirects: int = 5
    per_host: int = 2
    concurrency: int = 16
    user_agent: str | None = None  # None -> "press-monitor/<version> (+<project url>)"
    force_refetch_s: float = 12 * 3600.0  # unconditional GET at least this often
    parse_timeout_s: float = 20.0
    # Redirects and article pages may reach loopback/private/link-local addresses that the
    # feed's own URL is not on (server-side request forgery guard: docs/fetching.md).
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window of local time (``[monitor].timezone``) in which a channel is quiet;
    ``start`` after ``end`` spans midnight. Parsed from ``"22:00-07:00"``."""

    start: time
    end: time
    text: str = field(default="", compare=False)  # as written in the config, for display


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a digest goes out: at the top of every local hour (``daily_at`` None), or
    once a day at ``daily_at`` local time. Parsed from ``"hourly"`` or ``"daily 08:00"``."""

    daily_at: time | None = None
    text: str = field(default="", compare=False)  # as written in the config, for display


HOURLY = DigestSchedule(text="hourly")  # a digest rule without ``digest =``


@dataclass(frozen=True, slots=True)
class Rate:
    """A send rate: ``per_s`` messages a second, at most ``burst`` saved up.
    Parsed from ``"1/s"``, ``"20/min"``, ``"N/h"`` (a burst of N)."""

    per_s: float
    burst: float
    text: str = field(default="", compare=False)  # as written in the config, for display


def channel_kind(url: str) -> ChannelKind:
    """The kind of a channel URL, from its scheme: "telegram" (``tgram://``,
    ``telegram://``), "email" (``mailto://``, ``mailtos://``), "console" (ours) or
    "generic" (any other apprise URL). The config loader calls it once per channel
    (:attr:`ChannelConfig.kind`); nothing reads the scheme again."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("tgram", "telegram"):
        return "telegram"
    if scheme in ("mailto", "mailtos"):
        return "email"
    if scheme == "console":
        return "console"
    return "generic"


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One ``[channels]`` entry: a name bound to an apprise URL and its options."""

    name: str
    url: str  # with ${VAR} already substituted: holds secrets, never log it
    masked_url: str  # the same URL with secrets replaced by '***', safe to show
    kind: ChannelKind  # channel_kind(url): picks the template, the sender, the default rate
    quiet_hours: QuietHours | None = None
    rate_limit: Rate | None = None  # None -> the default of the channel kind
    template: str | None = None  # path to a template overriding the default for the kind
    story_updates: StoryUpdates = "none"  # "reply": later outlets as a reply (Telegram)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One ``[[rules]]`` entry of the config (the query is compiled by :mod:`monitor.match`)."""

    name: str
    query: str
    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # empty -> any language
    delivery: DeliveryMode = "instant"
    digest: DigestSchedule | None = None  # set when delivery == "digest" (default HOURLY)
    priority: Priority = "normal"  # high ignores quiet hours
    min_sources: int = 1  # distinct outlets carrying the story before it alerts
    on_update: OnUpdate = "record"  # "alert": a new headline of an alerted article alerts


@dataclass(frozen=True, slots=True)
class ImportedFeed:
    """One feed found in a feed list (an OPML file), to be written as ``[[feeds]]``."""

    url: str
    name: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry as parsed (before normalisation); strings may hold HTML."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str  # summary/content, HTML as given
    published: datetime | None  # UTC-aware, or None when the entry has no date


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What :func:`monitor.parse.feed.parse_feed` returns."""

    title: str | None
    entries: tuple[Entry, ...]
    ttl_s: float | None = None  # RSS <ttl>, in seconds
    warning: str | None = None  # feedparser 'bozo' message: kept, not a failure


@dataclass(frozen=True, slots=True)
class Article:
    """A normalised article, ready to be deduplicated and stored."""

    feed_url: str
    guid: str
    link: str | None
    canonical_link: str | None
    title: str
    text: str  # plain text: HTML stripped, entities decoded
    published: datetime | None  # UTC
    first_seen: datetime  # UTC
    language: str | None = None
    entry_hash: str = ""  # of what the feed says (monitor.normalize.change): edits


class Page(NamedTuple):
    """An article page (``full_text`` feeds): its title and main text, and the URL it
    names as its canonical one (``<link rel="canonical">``, else ``og:url``), if any."""

    title: str
    text: str
    canonical: str | None = None


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as stored: has a database id and its source's display name."""

    id: int
    feed_url: str
    source: str
    guid: str
    link: str | None
    title: str
    text: str
    published: datetime | None
    first_seen: datetime
    language: str | None
    alertable: bool = True  # False for first-poll backlog: stored, not alerted
    canonical_link: str | None = None
    story_id: int | None = None  # the id of its story's first article (set by the pipeline)
    edited: bool = False  # stored before, and the feed has changed it (matched again)
    title_changed: bool = False  # an edit that gave it a new headline


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule matched: one term and where its surface form was found."""

    term: str  # the term as written in the rule (or the @group entry)
    surface: str  # the text as written in the article
    field: EvidenceField
    score: int = 100  # 0-100; < 100 only for fuzzy matches
    start: int = -1  # character offset of the surface in the field, -1 if unknown
    end: int = -1


@dataclass(frozen=True, slots=True)
class Document:
    """The text a matcher sees. ``language`` None -> the matcher detects it."""

    title: str
    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a document, with its evidence."""

    rule: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """One outbox row: a match to deliver to one channel."""

    id: int
    rule: str
    channel: str
    status: AlertStatus
    attempts: int
    article_id: int
    title: str
    link: str | None
    source: str
    published: datetime | None  # UTC
    text: str
    evidence: tuple[Evidence, ...]
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    priority: Priority = "normal"
    delivery: DeliveryMode = "instant"
    extra: Mapping[str, str] = field(default_factory=dict)
    kind: AlertKind = "match"
    story_id: int | None = None
    # The story's other outlets (display names) and languages, as known when loaded.
    story_sources: tuple[str, ...] = ()
    story_languages: tuple[str, ...] = ()
    # kind "story": the alert it answers, and that alert's message ids once it was sent
    # ("chat:id,chat:id"; "" when it died or is gone: the reply goes alone), None while
    # it waits to be sent.
    reply_to: int | None = None
    reply_to_message: str | None = None
    title_before: str | None = None  # kind "update": the headline it had when it alerted
