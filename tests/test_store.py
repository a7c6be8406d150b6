"""Storage: an article is stored once; only new articles flow on; matches write outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.normalize.urls import canonical_url
from monitor.records import Article, Evidence, FeedConfig, Match, RuleConfig
from monitor.store import articles, db, feeds
from monitor.store.schema import AlertRow, ArticleRow, MatchRow, SightingRow

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def factory(tmp_path: Path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/store.db")
    db.upgrade(engine)
    return db.make_session_factory(engine)


def article(feed: str, guid: str, link: str, published: datetime | None = NOW) -> Article:
    return Article(feed, guid, link, canonical_url(link), f"title {guid}", "text", published, NOW)


def states(factory, urls: list[str]) -> dict[str, feeds.FeedState]:
    with db.session_scope(factory) as s:
        feeds.sync_feeds(s, [FeedConfig(u) for u in urls], NOW)
        return {st.url: st for st in feeds.feed_states(s)}


def test_repoll_and_tracking_link_from_second_feed_store_once(factory) -> None:
    st = states(factory, ["https://a.example/rss", "https://b.example/rss"])
    a, b = st["https://a.example/rss"], st["https://b.example/rss"]
    with db.session_scope(factory) as s:
        first = articles.insert_new_articles(
            s, a, [article(a.url, "g1", "https://news.example/x")], now=NOW, backlog_s=86400
        )
    with db.session_scope(factory) as s:
        again = articles.insert_new_articles(
            s, a, [article(a.url, "g1", "https://news.example/x")], now=NOW, backlog_s=86400
        )
        other = articles.insert_new_articles(
            s,
            b,
            [article(b.url, "other-guid", "https://NEWS.example/x?utm_source=tg&fbclid=1#top")],
            now=NOW,
            backlog_s=86400,
        )
    assert len(first) == 1 and again == [] and other == []
    with db.session_scope(factory) as s:
        assert s.scalar(select(func.count(ArticleRow.id))) == 1
        assert s.scalar(select(func.count(SightingRow.id))) == 2  # seen through two feeds


def test_first_poll_backlog_is_stored_but_not_alertable(factory) -> None:
    st = states(factory, ["https://a.example/rss"])["https://a.example/rss"]
    old = article(st.url, "old", "https://n.example/old", NOW - timedelta(days=3))
    fresh = article(st.url, "fresh", "https://n.example/fresh", NOW - timedelta(hours=1))
    undated = article(st.url, "undated", "https://n.example/undated", None)
    with db.session_scope(factory) as s:
        new = articles.insert_new_articles(s, st, [old, fresh, undated], now=NOW, backlog_s=86400)
    assert {a.guid: a.alertable for a in new} == {"old": False, "fresh": True, "undated": True}


def test_after_first_poll_old_entries_alert(factory) -> None:
    st = states(factory, ["https://a.example/rss"])["https://a.example/rss"]
    with db.session_scope(factory) as s:
        st = feeds.record_not_modified(s, st.id, next_check=NOW, now=NOW)
        new = articles.insert_new_articles(
            s,
            st,
            [article(st.url, "late", "https://n.example/late", NOW - timedelta(days=9))],
            now=NOW,
            backlog_s=86400,
        )
    assert new[0].alertable


def test_matches_write_one_outbox_row_per_channel_once(factory) -> None:
    st = states(factory, ["https://a.example/rss"])["https://a.example/rss"]
    rule = RuleConfig("r", "Witkoff", ("desk", "mail"))
    m = Match("r", (Evidence("Witkoff", "Віткоффа", "text", 100, 3, 11),))
    with db.session_scope(factory) as s:
        [stored] = articles.insert_new_articles(
            s, st, [article(st.url, "g", "https://n.example/g")], now=NOW, backlog_s=86400
        )
        assert articles.record_matches(s, stored, [m], {"r": rule}, NOW) == 2
        assert articles.record_matches(s, stored, [m], {"r": rule}, NOW) == 0
    with db.session_scope(factory) as s:
        rows = s.scalars(select(AlertRow)).all()
        assert sorted(r.channel for r in rows) == ["desk", "mail"]
        assert all(r.status == "pending" for r in rows)
        evidence = articles.evidence_from_json(s.scalars(select(MatchRow.evidence)).one())
        assert evidence == m.evidence


def test_removed_feed_is_deactivated_and_keeps_articles(factory) -> None:
    st = states(factory, ["https://a.example/rss"])["https://a.example/rss"]
    with db.session_scope(factory) as s:
        articles.insert_new_articles(
            s, st, [article(st.url, "g", "https://n.example/g")], now=NOW, backlog_s=0
        )
        feeds.sync_feeds(s, [], NOW)
    with db.session_scope(factory) as s:
        assert feeds.feed_states(s) == []
        assert s.scalar(select(func.count(ArticleRow.id))) == 1


@pytest.mark.parametrize(
    ("name", "title", "url", "shown"),
    [
        (
            "Європейська правда",
            "EP feed",
            "https://www.eurointegration.com.ua/rss/",
            "Європейська правда",
        ),
        (
            None,
            "BBC News - World",
            "https://feeds.bbci.co.uk/news/world/rss.xml",
            "BBC News - World",
        ),
        (None, None, "https://feeds.bbci.co.uk/news/world/rss.xml", "feeds.bbci.co.uk"),
        (None, None, "/srv/fixtures/seed.xml", "/srv/fixtures/seed.xml"),
    ],
)
def test_source_name_is_the_same_in_logs_notices_and_alerts(name, title, url, shown) -> None:
    assert feeds.source_name(name, title, url) == shown
    state = feeds.FeedState(1, url, name, title, None, None, None, None, None, 0, 0, None, None)
    assert state.source == shown
