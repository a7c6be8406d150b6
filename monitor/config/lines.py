"""Where a dotted config key is written in the TOML source, for error messages. No I/O.

TOML parsers do not keep positions, so this looks the key up in the text: the table
header (``[monitor]``, the n-th ``[[rules]]``), then the ``key =`` line inside it, or a
``[table.key]`` header anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def line_of(lines: Sequence[str], key: str) -> int | None:
    """Best-effort 1-based line of a dotted key such as ``rules[2].query`` or ``channels.desk``."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    if not parts:
        return None
    table, rest = parts[0], parts[1:]
    index = int(rest.pop(0)[1:-1]) if rest and rest[0].startswith("[") else None
    start, end = _table_span(lines, table, index)
    if start is None:
        return _top_level_line(lines, table)
    for sub in rest[:1]:
        pat = re.compile(rf"^\s*(\"?){re.escape(sub)}\1\s*=")
        for i in range(start, end):
            if pat.match(lines[i]):
                return i + 1
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\.{re.escape(sub)}\s*\]")
        for i, line in enumerate(lines):
            if header.match(line):
                return i + 1
    return start + 1 if start < len(lines) else None


def _table_span(lines: Sequence[str], table: str, index: int | None) -> tuple[int | None, int]:
    """The 0-based line range of ``[table]`` (or the ``index``-th ``[[table]]``), header
    included, up to the next header."""
    header = re.compile(
        rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]"
        if index is not None
        else rf"^\s*\[\s*{re.escape(table)}\s*\]"
    )
    seen = -1
    for i, line in enumerate(lines):
        if header.match(line):
            seen += 1
            if index is None or seen == index:
                end = next(
                    (j for j in range(i + 1, len(lines)) if re.match(r"^\s*\[", lines[j])),
                    len(lines),
                )
                return i, end
    return None, 0


def _top_level_line(lines: Sequence[str], key: str) -> int | None:
    """The line of ``key = ...`` before the first table header (``feeds = ["url"]``)."""
    pat = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
    for i, line in enumerate(lines):
        if re.match(r"^\s*\[", line):
            return None
        if pat.match(line):
            return i + 1
    return None
