"""Database access: engine, sessions and migrations. The only place that creates engines.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on;
any other SQLAlchemy URL (PostgreSQL) works unchanged. A write that waits the whole busy
timeout for another connection's lock raises :class:`DatabaseBusyError`; readers never
wait in WAL mode. :func:`session_scope` with ``write=True`` takes the write lock first,
so a locked database fails there, before any other work. The schema is managed by
Alembic (``migrations/``); :func:`upgrade` applies it, :func:`check_schema` refuses to
run on a stale schema (STYLE.md #15).

Faults of the file or the server (full disk, read-only, corrupted, not a database,
unreachable) come out of every query as one-line :class:`DatabaseError`s
(:mod:`monitor.store.faults`). Files the store creates are private: folders 0700, the
database 0600 (SQLite gives its ``-wal`` and ``-shm`` the database's mode), because the
feeds table holds feed URLs with their tokens expanded. One daemon runs per SQLite
database: :func:`acquire_database_lock`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import DatabaseBusyError, DatabaseError, StaleSchemaError
from monitor.store import faults

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry


def _migrations_dir() -> Path:
    """``migrations/`` beside the package (checkout, editable install), else the copy a
    regular install puts under ``<prefix>/share/press-monitor/migrations``."""
    beside = Path(__file__).resolve().parents[2] / "migrations"
    if (beside / "env.py").is_file():
        return beside
    return Path(sys.prefix) / "share" / "press-monitor" / "migrations"


MIGRATIONS_DIR = _migrations_dir()
BUSY_TIMEOUT_S = 30.0
"""How long a SQLite write waits for another connection's lock (a person at the CLI can
wait; the daemon passes a shorter one, :data:`monitor.daemon.service.BUSY_TIMEOUT_S`)."""
SessionFactory = sessionmaker[Session]
"""What the pipeline, delivery and the CLI hold: one session (transaction) per call."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another backend, or in memory)."""
    sa_url = make_url(url)
    db = sa_url.database
    if sa_url.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None
    return Path(db).expanduser()


def where(url: str) -> str:
    """How errors name a database: its SQLite file, else its URL without the password."""
    path = sqlite_path(url)
    return str(path) if path is not None else display_url(url)


def make_engine(
    url: str,
    *,
    create: bool = True,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    read_only_if_unwritable: bool = False,
) -> Engine:
    """Create an engine for ``url``; for SQLite, set pragmas and (with ``create``) make
    the file, private (:func:`create_private_file`). Without ``create`` a missing SQLite
    file is a :class:`DatabaseError`: commands that only read never create a database
    by mistake. Faults of any query on the engine raise :class:`DatabaseError`; a SQLite
    write that waited ``busy_timeout_s`` for a lock, :class:`DatabaseBusyError`.

    With ``read_only_if_unwritable`` (the CLI's reading commands), a SQLite file this
    process cannot write (an analyst reading the service's /var/lib/press-monitor) is
    opened read-only (``mode=ro``; ``immutable`` when no daemon has it open: no ``-shm``
    file), without the WAL pragma: reads work, a write fails with the driver's
    "readonly database" error."""
    sa_url = make_url(url)
    path = sqlite_path(url)
    read_only = (
        read_only_if_unwritable
        and path is not None
        and path.exists()
        and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    )
    if read_only:
        assert path is not None
        shm = Path(f"{path}-shm")
        flags = "mode=ro" + ("" if shm.exists() else "&immutable=1")
        sa_url = make_url(f"sqlite:///file:{quote(str(path.resolve()))}?{flags}&uri=true")
    kwargs: dict[str, Any] = {"future": True}
    if path is not None and not path.exists():
        if not create:
            raise DatabaseError(
                f"{path}: no database at this path; check [monitor].database "
                "('monitor run' creates it)"
            )
        create_private_file(path)
    if sa_url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(sa_url, **kwargs)
    if sa_url.get_backend_name() == "sqlite":
        event.listen(
            engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_s, read_only)
        )
    faults.install(engine, where(url), busy_timeout_s)
    return engine


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700. A folder that exists
    (the user's, or systemd's ``StateDirectory=``) is left as it is."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for part in reversed(missing):
        try:
            os.mkdir(part, 0o700)
        except FileExistsError:
            pass  # another process made it meanwhile
        except OSError as exc:
            raise DatabaseError(
                # os_fault speaks of the folder of the path it gets: here, part itself
                f"{part}: cannot create the database folder: {faults.os_fault(exc, part / 'x')}"
            ) from None


def create_private_file(path: Path) -> None:
    """Create an empty SQLite database at ``path`` with mode 0600 (an empty file is a
    valid empty database), and its folders 0700. SQLite would create it 0644: its
    ``-wal`` and ``-shm`` then take the mode of the database file."""
    make_private_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise DatabaseError(
            f"{path}: cannot create the database: {faults.os_fault(exc, path)}"
        ) from None


@contextlib.contextmanager
def acquire_database_lock(url: str) -> Iterator[None]:
    """Hold ``<database>.lock`` (an exclusive ``flock``) while the block runs: the life
    of a daemon. A second daemon on the same SQLite database raises
    :class:`DatabaseError` naming the database and the PID that holds it. The kernel
    drops the lock when the holder dies, however it dies, so a crash leaves at most the
    file, which the next holder reuses; a holder that ends normally removes it
    (:func:`_take_lock`). ``monitor run --once`` takes it only for a
    moment, to see whether a daemon runs. Other backends and in-memory databases are not
    locked (several workers on PostgreSQL are a later issue)."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    make_private_dirs(path.parent)
    lock = Path(f"{path}.lock")
    fd = _lock_of(path, lock, blocking=False)
    if isinstance(fd, bytes):
        raise DatabaseError(_in_use(path, fd))
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still held: nobody reads a stale PID
    finally:
        _drop_lock(fd, lock)


def _lock_of(path: Path, lock: Path, *, blocking: bool) -> int | bytes:
    """:func:`_take_lock` on the lock file of database ``path``, an OS failure as a
    :class:`DatabaseError` naming both."""
    try:
        return _take_lock(lock, blocking=blocking)
    except OSError as exc:
        raise DatabaseError(
            f"{path}: cannot create its lock file {lock.name}: {faults.os_fault(exc, path)}"
        ) from None


def _take_lock(lock: Path, *, blocking: bool) -> int | bytes:
    """An exclusive ``flock`` on the file ``lock`` (created 0600): its descriptor, held;
    or, when ``blocking`` is false and another process holds it, what that process
    wrote in it (its PID). :func:`_drop_lock` lets it go and removes the file, so
    nothing is left beside the database.

    Removing a lock file is safe only because every taker checks, once it holds the
    lock, that the descriptor it locked is still the file at ``lock`` (same device and
    inode), and starts again if not: a process that opened the file just before its
    holder removed it then holds a lock on a file nobody else can find, and must not
    go on. Only the holder removes the file, while it still holds the lock."""
    import fcntl

    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0)
            os.close(fd)
            return holder
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock):
            return fd
        os.close(fd)  # removed (or replaced) by its last holder: take the file there now


def _drop_lock(fd: int, lock: Path) -> None:
    """Remove ``lock`` while still holding it (:func:`_take_lock`), then let it go."""
    try:
        os.unlink(lock)
    except OSError:
        pass  # a folder this process may not write to: the file stays, harmless
    finally:
        os.close(fd)  # releases the lock


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open descriptor ``fd`` is the file now at ``path``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _in_use(path: Path, content: bytes) -> str:
    pid = content.decode("ascii", "replace").strip()
    holder = f"pid {pid}" if pid.isdigit() else "another process"
    return (
        f"{path}: another 'monitor run' ({holder}) is using this database; stop it first, "
        "or give this one its own [monitor].database ('monitor run --once' may run beside it)"
    )


def _sqlite_pragmas(
    busy_timeout_s: float,
    read_only: bool,
    dbapi_conn: DBAPIConnection,
    _record: ConnectionPoolEntry,
) -> None:
    cur = dbapi_conn.cursor()
    if not read_only:  # (setting the journal mode is a write)
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (records are built after it)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception.

    ``write``: on SQLite, take the write lock at once (``BEGIN IMMEDIATE``, waiting up to
    the busy timeout) rather than at the first write, so a database another process
    keeps locked fails here (:class:`DatabaseBusyError`), before the caller does work
    that could not be stored. Nothing for other backends."""
    session = factory()
    try:
        if write:
            _begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _begin_write(session: Session) -> None:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # pysqlite begins a transaction only before a write; an explicit BEGIN is then
        # the transaction the session commits or rolls back.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_write_locked(engine: Engine) -> bool:
    """Whether another connection holds the SQLite write lock right now: tried on a
    connection of its own, without waiting, and let go at once. False for other
    backends and in-memory databases. For ``monitor status``: a daemon whose writes
    wait on such a lock cannot write its heartbeat or say why itself."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        fault = faults.translate(exc, str(path))
        if isinstance(fault, DatabaseBusyError):
            return True
        raise fault or DatabaseError(f"{path}: cannot open the database: {_reason(exc)}") from None
    return False


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic Config bound to ``engine`` and to this package's migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (an empty database gets the schema).

    Serialised across processes (a file lock for SQLite, an advisory lock for PostgreSQL),
    so two daemons starting on a fresh database do not both create the tables. A
    corrupted SQLite file is refused first (:func:`check_integrity`): nothing writes to
    it, and ``run`` and ``run --once`` stop with one line instead of working on it.
    Errors opening the database become one :class:`DatabaseError` line.
    """
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    try:
        with _migration_lock(engine):
            check_integrity(engine)
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
                cfg = alembic_config(engine)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    except (SQLAlchemyError, OSError) as exc:
        raise faults.translate(exc, where(url)) or DatabaseError(
            f"{where(url)}: cannot open or migrate the database: {_reason(exc)}"
        ) from exc


def check_integrity(engine: Engine) -> None:
    """``PRAGMA quick_check`` on a SQLite database (every page read once: about a second
    per GB); raise :class:`DatabaseError` when it finds damage. Nothing for other
    backends, which check their own pages."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        problems = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        found = " ".join(" ".join(problems).split())[:200]  # rows may hold newlines
        url = engine.url.render_as_string(hide_password=False)
        raise DatabaseError(f"{where(url)}: the file is corrupted ({found}); {faults.RESTORE}")


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0] if str(orig) else type(orig).__name__


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes: ``<database>.migrate-lock``
    (a blocking ``flock``), removed when done (:func:`_take_lock`)."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield
        return
    lock = Path(f"{path}.migrate-lock")
    fd = _lock_of(path, lock, blocking=True)
    assert isinstance(fd, int)  # a blocking take waits; it never reports a holder
    try:
        yield
    finally:
        _drop_lock(fd, lock)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has no schema yet."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this version of press-monitor knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def check_schema(engine: Engine) -> None:
    """Raise :class:`StaleSchemaError` unless the database is at the head revision."""

    try:
        current, head = current_revision(engine), head_revision(engine)
    except SQLAlchemyError as exc:  # a fault is a DatabaseError already (faults.install)
        url = engine.url.render_as_string(hide_password=False)
        raise DatabaseError(f"{where(url)}: cannot open the database: {_reason(exc)}") from exc
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}"
        raise StaleSchemaError(
            f"{where(engine.url.render_as_string(hide_password=False))}: the database "
            f"{state}, this version needs {head}: run 'monitor db upgrade'"
        )


def display_url(url: str) -> str:
    """The database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)
