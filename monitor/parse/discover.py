"""Find the feeds an HTML page announces with ``<link rel="alternate" type="...rss+xml">``. No I/O."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json+feed",
        "application/x.atom+xml",
        "application/x-atom+xml",
        "application/x-rss+xml",
        "text/xml",
        "application/xml",
    }
)
_FEEDISH_HREF = re.compile(
    r"(\.(rss|atom|rdf)|/(feed|rss|atom)(\.xml)?/?|[/.]rss\.xml)(\?|$)", re.I
)
_SCAN_LIMIT = 2 * 1024 * 1024  # <link> lives in <head>: never scan a whole huge page


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []
        self.titles: dict[str, str] = {}  # href -> the <link title="..."> (first one wins)
        self.anchors: list[str] = []  # <a href> that look like feeds (second choice)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"].strip()
        if tag not in ("link", "a"):
            return
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        href = a.get("href", "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            self.hrefs.append(href)
            if a.get("title", "").strip():
                self.titles.setdefault(href, a["title"].strip())
        elif tag == "a" and _FEEDISH_HREF.search(href):
            self.anchors.append(href)

    handle_startendtag = handle_starttag


def _collect(html: bytes) -> _LinkCollector:
    collector = _LinkCollector()
    try:
        collector.feed(html[:_SCAN_LIMIT].decode("utf-8", "replace"))
        collector.close()
    except AssertionError:  # html.parser gives up on some broken markup: keep what it found
        pass
    return collector


def _absolute(collector: _LinkCollector, hrefs: list[str], base_url: str) -> list[str]:
    return list(_resolved(collector, hrefs, base_url))


def _resolved(collector: _LinkCollector, hrefs: list[str], base_url: str) -> dict[str, str]:
    """Absolute http(s) URL -> the href it came from (first one), in page order."""
    base = urljoin(base_url, collector.base) if collector.base else base_url
    found: dict[str, str] = {}
    for href in hrefs:
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found[url] = href
    return found


def discover_feeds(html: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds ``html`` links with ``rel="alternate"``, in page
    order, without duplicates. ``base_url`` (or the page's ``<base href>``) resolves
    relative links. No I/O.
    """
    collector = _collect(html)
    return _absolute(collector, collector.hrefs, base_url)


def announced_titles(html: bytes, base_url: str) -> dict[str, str]:
    """The ``title`` attribute of each feed :func:`discover_feeds` finds, by absolute URL
    (feeds announced without one are absent). Raw page text: scrub it before printing. No I/O."""
    collector = _collect(html)
    return {
        url: collector.titles[href]
        for url, href in _resolved(collector, collector.hrefs, base_url).items()
        if href in collector.titles
    }


def feed_like_links(html: bytes, base_url: str) -> list[str]:
    """Absolute URLs of plain ``<a href>`` links that look like feeds (``/feed``, ``.rss``,
    ``rss.xml``...): candidates to verify when a page announces no feed. No I/O."""
    collector = _collect(html)
    return _absolute(collector, collector.anchors, base_url)
