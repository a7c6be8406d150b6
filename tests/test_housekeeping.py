"""Retention, SQLite maintenance and online backup on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor.errors import MonitorError
from monitor.store.db import make_engine, session_scope
from monitor.store.housekeeping import backup, optimize, prune
from monitor.store.schema import AlertRow, ArticleRow, MatchRow, SightingRow
from tests.opsdb import NOW, add_article, add_feed, add_match, db, db_template  # noqa: F401

DAY = 86400.0
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


def count(db, model) -> int:  # noqa: F811
    with db.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def guids(db) -> set[str]:  # noqa: F811
    with db.session_factory() as s:
        return set(s.scalars(select(ArticleRow.guid)))


@pytest.fixture
def seeded(db):  # noqa: F811
    """Old and recent articles: plain, matched with a sent alert, matched with a pending one."""
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        add_article(s, feed, "old-plain", OLD)
        add_match(s, add_article(s, feed, "old-matched-sent", OLD), "r1", "sent")
        add_match(s, add_article(s, feed, "old-matched-dead", OLD), "r1", "dead")
        add_match(s, add_article(s, feed, "old-matched-pending", OLD), "r1", "pending")
        add_match(s, add_article(s, feed, "old-matched-sending", OLD), "r2", "sending")
        add_article(s, feed, "recent-plain", RECENT)
    return db


def test_prune_keeps_matched_and_recent_articles(seeded) -> None:
    """keep_matched: only old unmatched articles go, with their sightings."""
    assert prune(seeded.session_factory, NOW, 30 * DAY, keep_matched=True) == 1
    assert "old-plain" not in guids(seeded)
    assert len(guids(seeded)) == 5
    assert count(seeded, SightingRow) == 5


def test_prune_without_keep_matched_still_keeps_articles_with_waiting_alerts(seeded) -> None:
    """Pending and sending alerts protect their article; sent and dead ones do not."""
    assert prune(seeded.session_factory, NOW, 30 * DAY, keep_matched=False) == 3
    assert guids(seeded) == {"old-matched-pending", "old-matched-sending", "recent-plain"}
    assert count(seeded, MatchRow) == 2
    with seeded.session_factory() as s:
        assert sorted(s.scalars(select(AlertRow.status))) == ["pending", "sending"]
    assert count(seeded, SightingRow) == 3


def test_prune_with_long_retention_deletes_nothing(seeded) -> None:
    """Nothing older than the retention period: nothing deleted."""
    assert prune(seeded.session_factory, NOW, 60 * DAY, keep_matched=False) == 0
    assert len(guids(seeded)) == 6


def test_prune_works_through_more_than_one_batch(db, monkeypatch) -> None:  # noqa: F811
    """Deletion runs in batches until no old article is left."""
    monkeypatch.setattr("monitor.store.housekeeping.PRUNE_BATCH", 7)
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        for i in range(30):
            add_article(s, feed, f"a{i}", OLD)
    assert prune(db.session_factory, NOW, DAY, keep_matched=True) == 30
    assert count(db, ArticleRow) == 0


def test_optimize_vacuums_a_file_that_is_mostly_free_pages(db) -> None:  # noqa: F811
    """After deleting most rows, optimize gives the space back to the filesystem."""
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        for i in range(3000):
            a = add_article(s, feed, f"a{i}", OLD)
            a.text = "x" * 2000
    prune(db.session_factory, NOW, DAY, keep_matched=True)
    report = optimize(db.engine)
    assert report is not None and report.vacuumed
    assert report.size_after < report.size_before / 4
    with sqlite3.connect(db.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_optimize_leaves_a_compact_file_alone(seeded) -> None:
    """No VACUUM when there is little to reclaim."""
    report = optimize(seeded.engine)
    assert report is not None and not report.vacuumed


def test_optimize_is_a_no_op_off_sqlite() -> None:
    """Another backend: nothing done, nothing raised (no connection is even made)."""
    engine = make_engine("postgresql+psycopg://monitor@127.0.0.1:1/monitor")
    assert optimize(engine) is None


def test_backup_while_another_connection_writes_is_consistent(db, tmp_path) -> None:  # noqa: F811
    """A backup taken during a stream of inserts passes integrity_check with a whole snapshot."""
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        for i in range(2000):
            add_article(s, feed, f"seed{i}", OLD)
        feed_id = feed.id
    stop = threading.Event()
    written = []

    def writer() -> None:
        conn = sqlite3.connect(db.path, timeout=30)
        i = 0
        while not stop.is_set():
            with conn:  # one transaction per article: article + sighting
                cur = conn.execute(
                    "INSERT INTO articles (feed_id, guid, title, text, first_seen_at, alertable)"
                    " VALUES (?, ?, 't', 'x', '2026-11-27 00:00:00', 1)",
                    (feed_id, f"live{i}"),
                )
                conn.execute(
                    "INSERT INTO sightings (article_id, feed_id, seen_at) VALUES (?, ?, '2026-11-27 00:00:00')",
                    (cur.lastrowid, feed_id),
                )
            written.append(i)
            i += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            stop.wait(0.01)
        dest = backup(db.engine, tmp_path / "copy.db")
        at_backup = len(written)
        while len(written) < at_backup + 50:  # the writer kept going during and after
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        sightings = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    assert articles == sightings  # no half-written transaction in the snapshot
    assert 2000 + 50 <= articles <= 2000 + at_backup + 1
    assert count(db, ArticleRow) == 2000 + len(written)
    assert (dest.stat().st_mode & 0o777) == 0o600


def test_backup_refuses_to_overwrite_unless_told(seeded, tmp_path) -> None:
    """An existing destination is kept unless overwrite=True."""
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"precious")
    with pytest.raises(MonitorError, match="exists"):
        backup(seeded.engine, dest)
    assert dest.read_bytes() == b"precious"
    backup(seeded.engine, dest, overwrite=True)
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 6
    assert not list(tmp_path.glob(".copy.db.partial-*"))


def test_backup_of_a_non_sqlite_database_is_a_clear_error(tmp_path) -> None:
    """PostgreSQL: a MonitorError pointing at pg_dump, with the password masked."""
    engine = make_engine("postgresql+psycopg://monitor:hunter2secret@127.0.0.1:1/monitor")
    with pytest.raises(MonitorError, match="not SQLite.*pg_dump") as info:
        backup(engine, tmp_path / "copy.db")
    assert "hunter2secret" not in str(info.value)
    assert not (tmp_path / "copy.db").exists()


def test_backup_into_a_missing_folder_is_a_clear_error(seeded, tmp_path) -> None:
    """The destination folder must exist."""
    with pytest.raises(MonitorError, match="does not exist"):
        backup(seeded.engine, tmp_path / "nope" / "copy.db")


def test_backup_onto_a_folder_is_a_clear_error_even_with_overwrite(seeded, tmp_path) -> None:
    """A folder as destination is refused, --force or not."""
    with pytest.raises(MonitorError, match="is a folder"):
        backup(seeded.engine, tmp_path, overwrite=True)


def test_an_alert_that_turned_pending_after_selection_protects_its_article(seeded) -> None:
    """Candidates are checked again under the write lock before anything is deleted."""
    from monitor.store.housekeeping import _delete_articles

    with seeded.session_factory() as s:
        article_id = s.scalar(select(ArticleRow.id).where(ArticleRow.guid == "old-matched-sent"))
    with session_scope(seeded.session_factory) as s:  # an operator re-queued it meanwhile
        s.execute(
            AlertRow.__table__.update()
            .where(AlertRow.article_id == article_id)
            .values(status="pending")
        )
    cutoff = NOW - timedelta(days=30)
    with session_scope(seeded.session_factory) as s:
        assert _delete_articles(s, [article_id], cutoff, keep_matched=False) == 0
    assert "old-matched-sent" in guids(seeded)
    with seeded.session_factory() as s:
        assert (
            s.scalar(select(AlertRow.status).where(AlertRow.article_id == article_id)) == "pending"
        )


def test_incremental_vacuum_is_used_when_the_database_asks_for_it(tmp_path) -> None:
    """auto_vacuum=INCREMENTAL: free pages are returned without a full VACUUM."""
    path = tmp_path / "inc.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 500)
        conn.commit()
        conn.execute("DELETE FROM t")
        conn.commit()
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 400
    engine = make_engine(f"sqlite:///{path}")
    report = optimize(engine)
    assert report is not None and not report.vacuumed
    assert report.size_after < report.size_before / 10
    engine.dispose()


def test_run_housekeeping_prunes_only_with_a_retention(seeded) -> None:
    """The periodic job prunes per [monitor].retention and always optimizes."""
    from monitor.store.housekeeping import run_housekeeping

    off = run_housekeeping(
        seeded.session_factory, seeded.engine, NOW, retention_s=None, keep_matched=True
    )
    assert off.pruned == 0 and off.optimized is not None
    on = run_housekeeping(
        seeded.session_factory, seeded.engine, NOW, retention_s=30 * DAY, keep_matched=True
    )
    assert on.pruned == 1
