"""SQLAlchemy 2.x ORM models: the database schema.

The database is the source of truth: scheduling state per feed, every article once,
every match, and the alert outbox. ORM classes never leave :mod:`monitor.store`, whose
functions convert rows to the records of :mod:`monitor.records`.
Any schema change here needs an Alembic revision in ``migrations/versions``
(``tests/test_migrations.py`` fails on drift).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Insert,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def insert_ignoring(session: Session, table: type[Base]) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` in the session's dialect (SQLite, PostgreSQL):
    of two writers inserting one key, the second inserts nothing and fails nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


class FeedRow(Base):
    """A feed and its scheduling state (survives restarts, carries backoff)."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str | None] = mapped_column(String(512))  # configured name
    title: Mapped[str | None] = mapped_column(String(512))  # the feed's own title
    active: Mapped[int] = mapped_column(Integer, default=1)  # 0: removed from config
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_forced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warning: Mapped[str | None] = mapped_column(Text)  # last bozo warning
    broken_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    polls: Mapped[int] = mapped_column(Integer, default=0)  # successful polls
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Work sharing (monitor.store.workers): the worker polling the feed right now and
    # until when its claim holds (renewed while it works; a dead worker's lapses).
    lease_owner: Mapped[str | None] = mapped_column(String(160))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ArticleRow(Base):
    """An article, stored once: unique by (feed, guid) and by canonical link."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)
    guid: Mapped[str] = mapped_column(String(2048))
    link: Mapped[str | None] = mapped_column(String(2048))
    canonical_link: Mapped[str | None] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alertable: Mapped[int] = mapped_column(Integer, default=1)
    # The story (monitor.stories): the id of its first article (its own id when it
    # started one), why it joined ("new", "same_link", "near_duplicate", "linked",
    # "same_story") and how strongly (0-100).
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    story_reason: Mapped[str | None] = mapped_column(String(16))
    story_score: Mapped[int | None] = mapped_column(Integer)
    # Edits: the hash of what the feed said (what changes meaning: words of the title
    # and text), the headlines it had before ([{"title", "until"}]) and when it changed.
    entry_hash: Mapped[str | None] = mapped_column(String(64))
    title_history: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SightingRow(Base):
    """Each (article, feed) pair seen: the same story through a second outlet."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("article_id", "feed_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MatchRow(Base):
    """A rule that matched an article, with its evidence (JSON list of Evidence)."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("rule", "article_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(256), index=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    evidence: Mapped[list[dict[str, str | int]]] = mapped_column(JSON)  # evidence_to_json
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRow(Base):
    """The outbox: one row per (rule, article, channel), written with its match.

    Lifecycle: pending -> sending (claimed) -> sent | pending (retry) | dead.
    A row left in ``sending`` past a timeout (the daemon was killed) is resent.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "article_id", "channel", "revision"),
        Index("ix_alerts_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(256))
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    delivery: Mapped[str] = mapped_column(String(16), default="instant")  # instant | digest
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(256))
    digest_id: Mapped[int | None] = mapped_column(Integer)  # set when folded into a digest/summary
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "match": a rule matched the article; "update": an edited article that the rule
    # matches now (or, with on_update = "alert", a new headline); "story": a later article
    # of a story already alerted, sent as a reply to the first alert (story_updates).
    kind: Mapped[str] = mapped_column(String(16), default="match", server_default="match")
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # per edit
    reply_to: Mapped[int | None] = mapped_column(Integer)  # the alert a "story" row answers


class OperatorNoticeRow(Base):
    """Operator notices (feed broken/recovered, alert dead) queued for delivery."""

    __tablename__ = "operator_notices"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512))  # dedup: "feed-broken:<url>:<since>"
    channel: Mapped[str] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StateRow(Base):
    """Small key/value daemon state: last cycle time, last digest per rule/channel."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkerRow(Base):
    """A ``monitor run`` process sharing the database (runtime state, not history:
    ``db migrate-to`` leaves it behind). ``seen_at`` is its heartbeat."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)  # host:pid:token
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))  # daemon | once
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_cycle_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_cycle_feeds: Mapped[int | None] = mapped_column(Integer)
    last_cycle_new: Mapped[int | None] = mapped_column(Integer)
    last_cycle_ms: Mapped[int | None] = mapped_column(Integer)


class LeaseRow(Base):
    """A job only one worker may do at a time (``delivery``, ``housekeeping``): who
    holds it and until when (runtime state, like :class:`WorkerRow`)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(160))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
