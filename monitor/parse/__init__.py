"""Parse: feed bytes into :class:`~monitor.records.ParsedFeed` records. Gets bytes, never URLs.

``feed`` (RSS/Atom/RDF through feedparser, and JSON Feed), ``pool`` (worker processes
with time and memory bounds), ``jsonfeed``, ``xmlguard`` (XXE and entity amplification),
``discover`` (feed links on HTML pages) and ``opml`` (feed lists). No I/O except the
pool's worker processes.
"""
