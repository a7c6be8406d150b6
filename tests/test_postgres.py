"""The PostgreSQL path: the same migrations and storage code work on a real server."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from monitor.normalize.urls import canonical_url
from monitor.records import Article, Evidence, FeedConfig, Match, RuleConfig
from monitor.store import articles, db, feeds
from monitor.store.schema import AlertRow, Base
from tests.pg import postgres_url  # noqa: F401  (fixture)

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def test_postgres_migrates_stores_once_and_writes_outbox(postgres_url: str) -> None:  # noqa: F811
    engine = db.make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    db.check_schema(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    factory = db.make_session_factory(engine)
    with db.session_scope(factory) as s:
        feeds.sync_feeds(
            s, [FeedConfig("https://a.example/rss"), FeedConfig("https://b.example/rss")], NOW
        )
        a, b = feeds.feed_states(s)
    link = "https://news.example/x"
    art = Article(a.url, "g1", link, canonical_url(link), "Віткофф", "текст", NOW, NOW)
    with db.session_scope(factory) as s:
        [stored] = articles.insert_new_articles(s, a, [art], now=NOW, backlog_s=86400)
        rule = RuleConfig("r", "Witkoff", ("desk",))
        articles.record_matches(
            s, stored, [Match("r", (Evidence("Witkoff", "Віткофф", "title"),))], {"r": rule}, NOW
        )
    dup = Article(
        b.url,
        "other",
        link + "?utm_source=x",
        canonical_url(link + "?utm_source=x"),
        "t",
        "x",
        NOW,
        NOW,
    )
    with db.session_scope(factory) as s:
        assert articles.insert_new_articles(s, b, [dup], now=NOW, backlog_s=86400) == []
        assert s.scalar(select(func.count(AlertRow.id))) == 1
        assert s.scalar(select(AlertRow.created_at)) == NOW  # timezone round-trip
    engine.dispose()


def test_two_workers_storing_the_same_articles_at_once_store_each_once(
    postgres_url: str,  # noqa: F811
) -> None:
    """Two writers insert the same 30 articles (two feeds, one canonical link each) while
    the first has not committed: the second waits on the unique index, stores nothing
    twice and records its feed's sightings; neither fails (check-then-insert raised
    UniqueViolation here, issue 16)."""
    import threading
    import time as _time

    from monitor.store.schema import ArticleRow, SightingRow

    engine = db.make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    factory = db.make_session_factory(engine)
    with db.session_scope(factory) as s:
        feeds.sync_feeds(
            s, [FeedConfig("https://a.example/rss"), FeedConfig("https://b.example/rss")], NOW
        )
        a, b = feeds.feed_states(s)

    def batch(feed_url: str) -> list[Article]:
        out = []
        for i in range(30):
            link = f"https://news.example/{i}"
            out.append(
                Article(
                    feed_url, f"{feed_url}#{i}", link, canonical_url(link), f"t{i}", "x", NOW, NOW
                )
            )
        return out

    first_inserted, errors, stored = threading.Event(), [], {}

    def worker(state: feeds.FeedState, name: str, hold: bool) -> None:
        try:
            with db.session_scope(factory) as s:
                if not hold:
                    first_inserted.wait(10)
                stored[name] = articles.insert_new_articles(
                    s, state, batch(state.url), now=NOW, backlog_s=86400
                )
                if hold:
                    first_inserted.set()
                    _time.sleep(0.5)  # the other writer is now blocked on our rows
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(a, "a", True)),
        threading.Thread(target=worker, args=(b, "b", False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert len(stored["a"]) == 30 and stored["b"] == []
    with db.session_scope(factory) as s:
        assert s.scalar(select(func.count(ArticleRow.id))) == 30
        assert s.scalar(select(func.count(SightingRow.id))) == 60  # both feeds carry each
    engine.dispose()
