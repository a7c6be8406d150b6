"""What CLI commands print in common: one masked error line, sizes for people, lines
cut to the terminal's width."""

from __future__ import annotations

import re
import shutil
import sys
import unicodedata
from collections.abc import Iterable

from monitor.errors import ConfigError, DatabaseError, MonitorError
from monitor.secrets import mask_text
from monitor.text import scrub, scrub_line

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


DEFAULT_WIDTH = 80
MIN_WIDTH = 40  # below this no listing is readable: narrower terminals wrap instead


def terminal_width() -> int:
    """The columns to fit: ``COLUMNS`` when set, else the terminal's width, else (a pipe, a
    file) 80; never below :data:`MIN_WIDTH`."""
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def char_width(char: str) -> int:
    """Columns a terminal gives ``char``: 2 for wide East Asian characters, 0 for
    combining marks and invisible format characters, else 1. No I/O."""
    if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, with an ellipsis when cut (one line in,
    one line out: scrub it first); at most ``4 * width`` characters, so that a run of
    combining marks (zero columns each) cannot make a line of 10 kB. No I/O."""
    if len(text) <= width and text.isascii():
        return text
    widths = [char_width(c) for c in text]
    if sum(widths) <= width and len(text) <= 4 * width:
        return text
    used = 0
    for i, w in enumerate(widths):
        if used + w > width - 1 or i >= 4 * width - 1:  # a column left for the ellipsis
            return text[:i].rstrip() + "…"
        used += w
    raise AssertionError("unreachable: the text is wider than width")


MARK_ON, MARK_OFF = "\x1b[1;4m", "\x1b[22;24m"  # bold + underline, and both off (SGR)
_SPACE_RUN = re.compile(r"\s+")


def marked_line(text: str, spans: Iterable[tuple[int, int]], width: int, *, mark: bool) -> str:
    """``text`` (a stored, hostile string) as one line of at most ``width`` columns, the
    characters of ``spans`` (offsets into ``text``) set in bold underline when ``mark``.

    Each piece is scrubbed on its own (:func:`monitor.text.scrub`: controls, bidi and
    escape sequences never reach the terminal; whitespace runs become one space), so
    the offsets stay true; the marks are added after the cut and take no column. No I/O."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        pieces += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    pieces.append((text[pos:], False))
    clean = [(_SPACE_RUN.sub(" ", scrub(p)), on) for p, on in pieces]
    if clean:
        clean[0] = (clean[0][0].lstrip(), clean[0][1])
        clean[-1] = (clean[-1][0].rstrip(), clean[-1][1])
    line = fit("".join(p for p, _ in clean), width)
    if not mark:
        return line
    out, used = [], 0
    for piece, on in clean:
        part = line[used : used + len(piece)]
        used += len(part)
        out.append(f"{MARK_ON}{part}{MARK_OFF}" if on and part else part)
    return "".join(out) + line[used:]  # the ellipsis, when cut


_FORMULA_START = tuple("=+-@\t\r")


def csv_text(text: str) -> str:
    """A stored string as a CSV cell: one line, scrubbed, and never read as a formula
    by a spreadsheet (a leading ``= + - @`` gets a ``'`` before it, as OWASP advises)."""
    line = scrub_line(text)
    return "'" + line if line.startswith(_FORMULA_START) else line
