"""What CLI commands print in common: one masked error line, sizes for people."""

from __future__ import annotations

import sys

from monitor.errors import MonitorError
from monitor.secrets import mask_text
from monitor.store import db

EXPECTED_ERRORS: tuple[type[Exception], ...] = (MonitorError, *db.QUERY_ERRORS)
"""What a command on a broken or unreachable database reports as one error line (exit 1)."""


def print_error(exc: Exception) -> int:
    """Print one masked error line; exit code 1."""
    print(
        f"error: {mask_text(str(exc).splitlines()[0] if str(exc) else repr(exc))}",
        file=sys.stderr,
    )
    return 1


def human_size(n: int | None) -> str:
    """``512 B``, ``3.4 KiB``, ``61.3 MiB``: a byte count as people read it."""
    size = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
