"""What CLI commands print in common: one masked error line, sizes for people."""

from __future__ import annotations

import sys

from monitor.errors import ConfigError, DatabaseError, MonitorError
from monitor.secrets import mask_text

EXPECTED_ERRORS: tuple[type[Exception], ...] = (MonitorError,)
"""What a command reports as one error line (exit 1). A fault of the database is a
:class:`DatabaseError` already: the store translates its driver's errors."""


def error_prefix(exc: BaseException) -> str:
    """``database error`` for a fault of the database, ``config error`` for the config
    (as every command says it), else ``error``."""
    if isinstance(exc, DatabaseError):
        return "database error"
    return "config error" if isinstance(exc, ConfigError) else "error"


def print_error(exc: Exception) -> int:
    """Print one masked error line; exit code 2 for a config error (like every command
    that loads the config), else 1."""
    print(
        f"{error_prefix(exc)}: {mask_text(str(exc).splitlines()[0] if str(exc) else repr(exc))}",
        file=sys.stderr,
    )
    return 2 if isinstance(exc, ConfigError) else 1


def human_size(n: int | None) -> str:
    """``512 B``, ``3.4 KiB``, ``61.3 MiB``: a byte count as people read it."""
    size = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
