"""Find the feeds an HTML page announces with ``<link rel="alternate" type="...rss+xml">``. No I/O."""

from __future__ import annotations

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
_SCAN_LIMIT = 2 * 1024 * 1024  # <link> lives in <head>: never scan a whole huge page


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"].strip()
        if tag not in ("link", "a"):
            return
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES and a.get("href", "").strip():
            self.hrefs.append(a["href"].strip())

    handle_startendtag = handle_starttag


def discover_feeds(html: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds ``html`` links with ``rel="alternate"``, in page
    order, without duplicates. ``base_url`` (or the page's ``<base href>``) resolves
    relative links. No I/O.
    """
    collector = _LinkCollector()
    try:
        collector.feed(html[:_SCAN_LIMIT].decode("utf-8", "replace"))
        collector.close()
    except AssertionError:  # html.parser gives up on some broken markup: keep what it found
        pass
    base = urljoin(base_url, collector.base) if collector.base else base_url
    found: list[str] = []
    for href in collector.hrefs:
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found
