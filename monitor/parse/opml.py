"""Read feed lists: the feeds of an OPML subscription file. No I/O.

:func:`parse_opml` takes the file's bytes (nested outlines, any case of ``xmlUrl``) and
returns :class:`~monitor.records.ImportedFeed` records; external entities and
amplifying DTDs are refused first (:mod:`monitor.parse.xmlguard`). A document that is a
feed itself (RSS, Atom, RDF) or any other XML is refused with :class:`NotOpmlError`, so
an RSS file given by mistake is not "imported" as zero feeds. Writing them into a config
file is :mod:`monitor.config.edit`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from monitor.errors import FetchError
from monitor.parse.xmlguard import defuse_entities
from monitor.records import ImportedFeed

# The root elements of the feed formats, by local name (namespaces stripped).
FEED_ROOTS = {"rss": "an RSS feed", "feed": "an Atom feed", "RDF": "an RSS 1.0 (RDF) feed"}


class NotOpmlError(ValueError):
    """Readable XML, but not OPML; ``feed_kind`` names the feed format it looks like
    (``"an RSS feed"``), or is ``None`` for other XML."""

    def __init__(self, message: str, feed_kind: str | None = None) -> None:
        super().__init__(message)
        self.feed_kind = feed_kind


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_opml(body: bytes) -> list[ImportedFeed]:
    """The http(s) feeds of an OPML document, in document order, without duplicate URLs.
    Raises ``FetchError("parse_error")`` for a document that is not readable XML and
    :class:`NotOpmlError` for XML whose root is not ``<opml>`` (a feed, for instance)."""
    try:
        root = ET.fromstring(defuse_entities(body))
    except ET.ParseError as exc:
        raise FetchError("parse_error", str(exc)) from exc
    root_name = _local(root.tag)
    if root_name in FEED_ROOTS:
        kind = FEED_ROOTS[root_name]
        raise NotOpmlError(f"looks like {kind}, not an OPML list of feeds", kind)
    if root_name.lower() != "opml":
        raise NotOpmlError(f"its root element is <{root_name[:40]}>, not <opml>")
    feeds: dict[str, ImportedFeed] = {}
    for outline in root.iter():
        if _local(outline.tag).lower() != "outline":
            continue
        attrs = {k.lower(): v.strip() for k, v in outline.attrib.items()}
        url = attrs.get("xmlurl", "")
        if url.startswith(("http://", "https://")) and url not in feeds:
            name = attrs.get("title") or attrs.get("text") or None
            feeds[url] = ImportedFeed(url=url, name=name, language=attrs.get("language") or None)
    return list(feeds.values())
