"""Real migrated SQLite files and small row builders for the ops tests.

Migrating takes about half a second, so one migrated template per session is
copied for each test.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.db import make_engine, make_session_factory, upgrade
from monitor.store.schema import AlertRow, ArticleRow, FeedRow, MatchRow, SightingRow

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class Db:
    """A migrated SQLite database file with its engine and session factory."""

    path: Path
    url: str
    engine: Engine
    session_factory: sessionmaker[Session]


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> Path:
    """One migrated, empty database per test session."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def db(db_template, tmp_path) -> Db:
    """A fresh copy of the migrated template in ``tmp_path``."""
    path = tmp_path / "monitor.db"
    shutil.copy(db_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield Db(path, url, engine, make_session_factory(engine))
    engine.dispose()


def add_feed(session: Session, url: str, **fields) -> FeedRow:
    """Insert a feed row (flushed, so it has an id)."""
    row = FeedRow(url=url, created_at=fields.pop("created_at", NOW), **fields)
    session.add(row)
    session.flush()
    return row


def add_article(session: Session, feed: FeedRow, guid: str, first_seen: datetime) -> ArticleRow:
    """Insert an article with one sighting through ``feed``."""
    row = ArticleRow(
        feed_id=feed.id,
        guid=guid,
        link=f"https://news.example/{guid}",
        canonical_link=f"https://news.example/{guid}",
        title=f"Title {guid}",
        text="text",
        first_seen_at=first_seen,
    )
    session.add(row)
    session.flush()
    session.add(SightingRow(article_id=row.id, feed_id=feed.id, seen_at=first_seen))
    return row


def add_match(
    session: Session,
    article: ArticleRow,
    rule: str,
    alert_status: str | None = None,
    channel: str = "tg",
) -> None:
    """Insert a match of ``rule`` and, with ``alert_status``, its outbox row."""
    match = MatchRow(
        rule=rule, article_id=article.id, evidence=[], created_at=article.first_seen_at
    )
    session.add(match)
    session.flush()
    if alert_status is not None:
        session.add(
            AlertRow(
                match_id=match.id,
                rule=rule,
                article_id=article.id,
                channel=channel,
                status=alert_status,
                created_at=article.first_seen_at,
            )
        )
