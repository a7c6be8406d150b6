"""Database access: engine, sessions and migrations. The only place that creates engines.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on;
any other SQLAlchemy URL (PostgreSQL) works unchanged. The schema is managed by
Alembic (``migrations/``); :func:`upgrade` applies it, :func:`check_schema` refuses to
run on a stale schema (STYLE.md #15).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import DatabaseError, StaleSchemaError

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
SessionFactory = sessionmaker[Session]
"""What the pipeline, delivery and the CLI hold: one session (transaction) per call."""
QUERY_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError,)
"""What a query on a broken or unreachable database raises (beside :class:`DatabaseError`):
the CLI turns these into one error line."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another backend, or in memory)."""
    sa_url = make_url(url)
    db = sa_url.database
    if sa_url.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None
    return Path(db).expanduser()


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create an engine for ``url``; for SQLite, set pragmas and (with ``create``) the
    parent folder. Without ``create`` a missing SQLite file is a :class:`DatabaseError`:
    commands that only read never create a database by mistake."""
    sa_url = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            raise DatabaseError(
                f"no database at {path} (check [monitor].database; 'monitor run' creates it)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the database folder {path.parent}: {exc.strerror or exc}"
            ) from None
    if sa_url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(sa_url, **kwargs)
    if sa_url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (records are built after it)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    so two daemons starting on a fresh database do not both create the tables.
    Errors opening the database become one :class:`DatabaseError` line.
    """
    from alembic import command

    try:
        with _migration_lock(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseError(
            f"cannot open or migrate the database {display_url(str(engine.url))}: {_reason(exc)}"
        ) from exc


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0] if str(orig) else type(orig).__name__


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield
        return
    import fcntl

    with open(f"{path}.migrate-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot open the database {display_url(str(engine.url))}: {_reason(exc)}"
        ) from exc
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}"
        raise StaleSchemaError(
            f"the database {state}, this version needs {head}: run 'monitor db upgrade'"
        )


def display_url(url: str) -> str:
    """The database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)
