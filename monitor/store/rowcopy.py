"""Rows of a SQLite database made fit for PostgreSQL, and their fingerprint. No I/O.

SQLite keeps what PostgreSQL refuses: a NUL character in text (PostgreSQL's ``text``
cannot hold ``\\x00``) and a string longer than its ``VARCHAR(n)`` column (SQLite does
not enforce lengths). :class:`RowFitter` makes each row fit, counting what it changed,
instead of failing the whole copy on one bad value:

- a NUL becomes U+FFFD (the replacement character a reader recognises), in plain text
  columns and in every string of a JSON column;
- a string longer than its column is cut to fit and ends with ``~`` and 16 hex digits
  of the SHA-256 of the whole value, so two long values that share a prefix (two
  guids, two links under a unique constraint) stay two values.

Times need nothing: the schema stores naive UTC on both backends
(:class:`~monitor.store.schema.UTCDateTime`), and rows are read and written through it.
:class:`Fingerprint` hashes fitted rows so a later run can tell an unchanged table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, String, Table

REPLACEMENT = "\ufffd"
DIGEST_CHARS = 16  # hex digits of SHA-256 kept after a cut value


@dataclass(slots=True)
class Changes:
    """How many values of a table were changed to fit: NULs replaced, strings cut."""

    nul: int = 0
    cut: int = 0
    utf8: int = 0  # text that was not valid UTF-8 in the file, decoded with U+FFFD


def fit_text(value: str, limit: int | None, changes: Changes) -> str:
    """``value`` without NUL and at most ``limit`` characters (see the module docstring)."""
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
        changes.nul += 1
    if limit is not None and len(value) > limit:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        value = f"{value[: limit - DIGEST_CHARS - 1]}~{digest[:DIGEST_CHARS]}"
        changes.cut += 1
    return value


def fit_json(value: Any, changes: Changes) -> Any:
    """A JSON value with NUL replaced in every string, keys too (PostgreSQL's ``json``
    keeps the escape ``\\u0000``, but ``jsonb`` and every text cast refuse it)."""
    if isinstance(value, str):
        return fit_text(value, None, changes)
    if isinstance(value, list):
        return [fit_json(v, changes) for v in value]
    if isinstance(value, dict):
        return {fit_text(k, None, changes): fit_json(v, changes) for k, v in value.items()}
    return value


class RowFitter:
    """Fits the rows of one table (:func:`fit_text`, :func:`fit_json`) and counts the
    values it changed in :attr:`changes`."""

    def __init__(self, table: Table) -> None:
        self.changes = Changes()
        self._json = {c.key for c in table.columns if isinstance(c.type, JSON)}
        self._limits = {
            c.key: getattr(c.type, "length", None)
            for c in table.columns
            if isinstance(c.type, String) and c.key not in self._json
        }

    def fit(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        """``row`` (column key -> value) with every value fit for PostgreSQL."""
        out = dict(row)
        for key, value in row.items():
            if value is None:
                continue
            if key in self._json:
                out[key] = fit_json(value, self.changes)
            elif key in self._limits and isinstance(value, str):
                out[key] = fit_text(value, self._limits[key], self.changes)
        return out


class Fingerprint:
    """A SHA-256 over fitted rows, fed in key order: equal for an unchanged table."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def add(self, row: Mapping[str, Any]) -> None:
        """Feed one fitted row."""
        self._digest.update(repr(tuple(row.values())).encode("utf-8", "surrogatepass"))
        self._digest.update(b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
