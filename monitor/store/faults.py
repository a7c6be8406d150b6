"""Database faults as one line: what happened to the file or the server, and what to do.

A full disk, a read-only file or folder, a corrupted or truncated file, a file that is
not a database, a lock held too long, an unreachable server: the drivers raise these
with their own wording, wrapped by SQLAlchemy. :func:`install` hooks every engine the
store makes, so such a fault surfaces from any query as a
:class:`~monitor.errors.DatabaseError` reading ``<path>: <what>; <what to do>``, and the
CLI prints it as ``database error: ...`` (exit 1). A lock held past the busy timeout is
a :class:`~monitor.errors.DatabaseBusyError`: the daemon fails that cycle at once and
tries again on the next tick (docs/operations.md, "A locked database"). Anything else a query raises (a bug
in our SQL, an integrity error) passes through unchanged: unexpected errors propagate.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.exc import InterfaceError, OperationalError

from monitor.errors import DatabaseBusyError, DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import ExceptionContext

# Primary SQLite result codes (https://www.sqlite.org/rescode.html) that are faults of
# the file, the disk or another process, never of our SQL.
_PERM, _BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _CORRUPT = 3, 5, 6, 7, 8, 10, 11
_FULL, _CANTOPEN, _PROTOCOL, _AUTH, _NOTADB = 13, 14, 15, 23, 26
BUSY_CODES = (_BUSY, _LOCKED, _PROTOCOL)  # another connection holds a lock
_SERVER_RESOURCES = (
    "53"  # PostgreSQL SQLSTATE class: disk full, out of memory, too many connections
)
RESTORE = "restore a backup ('monitor db backup' makes them), or move the file aside to start empty"


def install(engine: Engine, where: str, busy_timeout_s: float | None = None) -> None:
    """Turn the faults of every query on ``engine`` into :class:`DatabaseError` naming
    ``where`` (the SQLite file, or the URL with its password hidden); ``busy_timeout_s``
    is the engine's, quoted when a lock outlasts it."""

    def hook(ctx: ExceptionContext) -> BaseException | None:
        if ctx.is_pre_ping:  # SQLAlchemy reconnects on its own; leave it its error
            return None
        # The wrapped error (it has ``.orig``): its class says OperationalError for any driver.
        return translate(ctx.sqlalchemy_exception or ctx.original_exception, where, busy_timeout_s)

    event.listen(engine, "handle_error", hook)


def translate(
    exc: BaseException, where: str, busy_timeout_s: float | None = None
) -> DatabaseError | None:
    """The :class:`DatabaseError` for a fault (a driver error, as raised or wrapped by
    SQLAlchemy, or an ``OSError`` on a file beside the database), or None; a lock held
    by another connection is a :class:`DatabaseBusyError`."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error) and _code(orig) in BUSY_CODES:
        return DatabaseBusyError(f"{where}: {locked(busy_timeout_s)}")
    if isinstance(orig, sqlite3.Error):
        what = _sqlite_fault(orig, Path(where))
    elif isinstance(orig, OSError):
        what = os_fault(orig, Path(where))
    elif isinstance(exc, OperationalError | InterfaceError):
        what = _server_fault(orig)
    else:
        what = None
    return DatabaseError(f"{where}: {what}") if what else None


def is_corruption(exc: BaseException) -> bool:
    """Whether a SQLite error says the file is damaged or not a database at all."""
    orig = getattr(exc, "orig", None) or exc
    return _code(orig) in (_CORRUPT, _NOTADB)


def locked(busy_timeout_s: float | None) -> str:
    """What to say when a lock outlasted the busy timeout (``None``: not known)."""
    waited = f" (a write waited {busy_timeout_s:g} s)" if busy_timeout_s is not None else ""
    return (
        f"the database is locked by another process{waited}; "
        "look for a stuck 'monitor' or 'sqlite3' process"
    )


def _code(exc: BaseException) -> int:
    """The primary SQLite result code of a driver error (0 when it has none)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _disk_full(folder: Path) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def read_only(path: Path) -> str:
    """What to say about a database that cannot be written."""
    folder = path.parent
    if _read_only_fs(folder):
        return f"the filesystem of {folder} is mounted read-only; remount it read-write or use another folder"
    return (
        f"the database is read-only; make {path.name} and its folder {folder} writable by "
        f"{_user()} (SQLite writes {path.name}-wal and {path.name}-shm beside it)"
    )


def disk_full(path: Path) -> str:
    """What to say when the disk holding ``path`` is full."""
    return (
        f"the disk is full; free space on the filesystem of {path.parent} "
        "(a pending write was rolled back: nothing is lost), then run again"
    )


def _cannot_open(path: Path) -> str:
    """SQLITE_CANTOPEN says no more than that: find out why."""
    if path.is_dir():
        return "is a folder, not a database file; fix [monitor].database"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist; create it or fix [monitor].database"
    if _read_only_fs(path.parent) or not os.access(path.parent, os.W_OK):
        return read_only(path)
    return f"cannot open the file; check that {_user()} may read and write it and its folder"


def _sqlite_fault(exc: sqlite3.Error, path: Path) -> str | None:
    code = _code(exc)
    detail = _first_line(exc)
    if code in (_CORRUPT, _NOTADB):
        what = "not a SQLite database" if code == _NOTADB else f"the file is corrupted ({detail})"
        return f"{what}; {RESTORE}"
    if code == _FULL or (code == _IOERR and _disk_full(path.parent)):
        return disk_full(path)
    if code in (_READONLY, _PERM, _AUTH) or (code == _IOERR and _read_only_fs(path.parent)):
        return read_only(path)
    if code == _CANTOPEN:
        return _cannot_open(path)
    if code == _IOERR:
        return f"disk I/O error ({detail}); check the disk and the kernel log (dmesg)"
    if code == _NOMEM:
        return "out of memory; free memory and run again"
    return None


def os_fault(exc: OSError, path: Path) -> str:
    """What to say about an ``OSError`` on ``path`` or a file beside it."""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return read_only(path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(path)
    if exc.errno == errno.ENOENT:
        return f"the folder {path.parent} does not exist; create it or fix [monitor].database"
    return f"{exc.strerror or exc}; check the path in [monitor].database"


def _server_fault(exc: BaseException) -> str:
    detail = _first_line(exc)
    if str(getattr(exc, "sqlstate", "") or "").startswith(_SERVER_RESOURCES):
        return f"the server is out of a resource ({detail}); free disk space or memory on it"
    return (
        f"{detail}; check that the server is running and reachable, "
        "and the user and password in [monitor].database"
    )
