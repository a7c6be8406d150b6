"""Normalise: parsed entries into :class:`~monitor.records.Article` records. No I/O.

``entries`` (plain text, UTC dates, stable guids) and ``urls`` (canonical links, the
one dedup key for links).
"""
