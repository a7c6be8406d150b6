"""Read feed lists: the feeds of an OPML subscription file. No I/O.

:func:`parse_opml` takes the file's bytes (nested outlines, any case of ``xmlUrl``) and
returns :class:`~monitor.records.ImportedFeed` records; external entities and
amplifying DTDs are refused first (:mod:`monitor.parse.xmlguard`). Writing them into a
config file is :mod:`monitor.config.edit`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from monitor.errors import FetchError
from monitor.parse.xmlguard import defuse_entities
from monitor.records import ImportedFeed


def parse_opml(body: bytes) -> list[ImportedFeed]:
    """The http(s) feeds of an OPML document, in document order, without duplicate URLs.
    Raises ``FetchError("parse_error")`` for a document that is not readable XML."""
    try:
        root = ET.fromstring(defuse_entities(body))
    except ET.ParseError as exc:
        raise FetchError("parse_error", str(exc)) from exc
    feeds: dict[str, ImportedFeed] = {}
    for outline in root.iter("outline"):
        attrs = {k.lower(): v.strip() for k, v in outline.attrib.items()}
        url = attrs.get("xmlurl", "")
        if url.startswith(("http://", "https://")) and url not in feeds:
            name = attrs.get("title") or attrs.get("text") or None
            feeds[url] = ImportedFeed(url=url, name=name, language=attrs.get("language") or None)
    return list(feeds.values())
