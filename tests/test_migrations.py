"""Schema: Alembic's head on an empty SQLite file equals the models (no drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.errors import StaleSchemaError
from monitor.store import db
from monitor.store.schema import Base


def test_upgrade_on_empty_file_matches_models(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/fresh.db")
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert db.current_revision(engine) == db.head_revision(engine)


def test_stale_schema_is_refused_until_upgraded(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/old.db")
    with pytest.raises(StaleSchemaError, match="monitor db upgrade"):
        db.check_schema(engine)
    db.upgrade(engine)
    db.check_schema(engine)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_concurrent_upgrades_on_a_fresh_file_both_succeed(tmp_path: Path) -> None:
    """Two daemons starting at once on a new database: the lock serialises migration."""
    import threading

    url = f"sqlite:///{tmp_path}/race.db"
    errors: list[BaseException] = []

    def start() -> None:
        try:
            db.upgrade(db.make_engine(url))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.check_schema(db.make_engine(url))


def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    from monitor.errors import DatabaseError

    missing = tmp_path / "typo" / "monitor.db"
    with pytest.raises(DatabaseError, match="no database at"):
        db.make_engine(f"sqlite:///{missing}", create=False)
    assert not missing.parent.exists()


def test_unusable_database_path_is_one_clear_error(tmp_path: Path) -> None:
    from monitor.errors import DatabaseError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot create the database folder"):
        db.make_engine(f"sqlite:///{blocker}/sub/monitor.db")
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="garbage.db: not a SQLite database"):
        db.upgrade(db.make_engine(f"sqlite:///{tmp_path}/garbage.db"))


def test_0002_folds_stored_links_and_keeps_every_article_and_alert(tmp_path: Path) -> None:
    """A database of the previous version upgrades in place: each article becomes its own
    story, AMP and mobile links fold (the older article keeps a link two fold to), and
    the outbox keeps its rows."""
    import sqlalchemy as sa

    engine = db.make_engine(f"sqlite:///{tmp_path}/v1.db")
    db.upgrade(engine, "0001")
    now = "2026-12-01 10:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO feeds (id, url, active, failures, polls, created_at) "
                "VALUES (1, 'https://x.example/rss', 1, 0, 1, :now)"
            ),
            {"now": now},
        )
        for art_id, link in [
            (1, "https://news.example/a/1"),
            (2, "https://m.news.example/a/1/amp/"),  # the same article, stored twice before
            (3, "https://www.news.example/b/2/"),
        ]:
            conn.execute(
                sa.text(
                    "INSERT INTO articles (id, feed_id, guid, link, canonical_link, title, text,"
                    " first_seen_at, alertable) VALUES (:id, 1, :g, :l, :l, 't', 'x', :now, 1)"
                ),
                {"id": art_id, "g": f"g{art_id}", "l": link, "now": now},
            )
        conn.execute(
            sa.text(
                "INSERT INTO alerts (id, rule, article_id, channel, status, delivery, priority,"
                " attempts, created_at) VALUES (1, 'r', 1, 'c', 'sent', 'instant', 'normal', 1,"
                " :now)"
            ),
            {"now": now},
        )

    db.upgrade(engine)

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, canonical_link, story_id FROM articles ORDER BY id")
        ).all()
        alerts = conn.execute(sa.text("SELECT id, kind, revision FROM alerts")).all()
    assert [tuple(r) for r in rows] == [
        (1, "https://news.example/a/1", 1),
        (2, None, 2),  # folds to article 1's link: the older keeps it
        (3, "https://news.example/b/2", 3),
    ]
    assert [tuple(a) for a in alerts] == [(1, "match", 0)]
    from alembic import command

    with engine.begin() as conn:  # and back: the downgrade runs
        cfg = db.alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert db.current_revision(engine) == "0001"
