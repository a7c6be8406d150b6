"""Feed discovery in HTML pages (pure): <link rel="alternate"> and feed-looking <a> links."""

from __future__ import annotations

import pytest

from monitor.parse.discover import discover_feeds, feed_like_links

BASE = "https://news.example.org/section/page.html"


@pytest.mark.parametrize(
    ("html", "feeds"),
    [
        ('<link rel="alternate" type="application/rss+xml" href="/rss">', ["https://news.example.org/rss"]),
        ('<LINK REL="Alternate" TYPE="application/atom+xml; charset=utf-8" HREF="atom.xml">',
         ["https://news.example.org/section/atom.xml"]),
        ('<link rel="alternate" type="application/feed+json" href="https://cdn.example.org/f.json">',
         ["https://cdn.example.org/f.json"]),
        ('<link rel="alternate" type="text/html" href="/m">', []),  # another language edition
        ('<link rel="stylesheet" type="application/rss+xml" href="/x">', []),
        ('<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">', []),
        ('<base href="https://other.example/b/"><link rel="alternate" type="application/rss+xml" href="f">',
         ["https://other.example/b/f"]),
        ('<link rel="alternate" type="application/rss+xml" href="/a"><link rel="alternate" '
         'type="application/rss+xml" href="/a"><link rel="alternate" type="application/rss+xml" href="/b">',
         ["https://news.example.org/a", "https://news.example.org/b"]),
        ("<html><head><title>no feeds</title></head></html>", []),
        ("<<<>>> not html at all &&&", []),
    ],
)  # fmt: skip
def test_announced_feeds_are_found_resolved_and_deduplicated(html, feeds):
    assert discover_feeds(html.encode(), BASE) == feeds


@pytest.mark.parametrize(
    ("href", "is_candidate"),
    [
        ("/feed", True),
        ("/feed/", True),
        ("/rss", True),
        ("/news/rss.xml", True),
        ("/index.rss", True),
        ("/blog.atom", True),
        ("/rss?category=world", True),
        ("/feedback", False),
        ("/about", False),
        ("/rss-reader-review.html", False),
    ],
)
def test_feed_looking_anchor_links_are_candidates(href, is_candidate):
    found = feed_like_links(f'<a href="{href}">x</a>'.encode(), BASE)
    assert bool(found) is is_candidate
