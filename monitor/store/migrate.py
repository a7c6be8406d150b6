"""``monitor db migrate-to``: copy the SQLite database into PostgreSQL, resumably.

Every table of the schema is copied with its primary keys (ids are referenced:
``story_id`` is the first article's id, ``reply_to`` an alert's), in foreign-key order,
**one transaction per table**; then each PostgreSQL sequence is set past its table's
largest id. The run is recorded in the target's ``state`` table under
:data:`MARKER_KEY`, in the same transaction as each table: which tables are copied,
their row counts and a fingerprint of their rows (:class:`~monitor.store.rowcopy.Fingerprint`).
So an interrupted run leaves whole tables or none, and running again copies the rest;
a run after a complete one copies nothing. Per table and not one transaction for all:
a re-run after a failure late in a big copy does not redo the articles.

Refused, with nothing changed (:class:`~monitor.errors.MigrationRefusedError`):

- a daemon holds the SQLite database (its lock, :func:`~monitor.store.db.acquire_database_lock`);
  the copy also holds the SQLite write lock for its whole run, so a ``monitor run
  --once`` beside it waits and cannot write what would not be copied;
- a target holding rows no earlier run of this migration wrote, or tables that run
  copied from a SQLite database that has changed since (or is another one).

Values PostgreSQL cannot hold are made to fit and counted (:mod:`monitor.store.rowcopy`);
text that is not valid UTF-8 in the file is decoded with U+FFFD and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import DatabaseError, MigrationRefusedError
from monitor.store import db
from monitor.store.rowcopy import Changes, Fingerprint, RowFitter
from monitor.store.schema import Base, StateRow

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

MARKER_KEY = "migrate.from_sqlite"
BATCH_ROWS = 1000
BATCH_CHARS = 16 * 1024 * 1024  # a batch of huge articles is cut sooner: memory stays bounded
TARGET_LOCK = 727275  # pg_advisory_lock key (db.upgrade uses 727274)
# Runtime state of the workers sharing a database (monitor.store.workers): not history,
# and meaningless on another database. Not copied; the feeds' leases are left behind too.
RUNTIME_TABLES = ("workers", "leases")
TABLES: tuple[Table, ...] = tuple(
    t for t in Base.metadata.sorted_tables if t.name not in RUNTIME_TABLES
)  # parents before children
RUNTIME_COLUMNS = {"feeds": ("lease_owner", "lease_until")}


@dataclass(frozen=True, slots=True)
class TableResult:
    """One table: rows in SQLite and (after the copy) in PostgreSQL, rows this run copied
    (or would copy), whether an earlier run copied it, values changed to fit."""

    table: str
    source_rows: int
    target_rows: int
    copied: int
    earlier: bool
    changes: Changes = field(default_factory=Changes)

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a run did (or, with ``dry_run``, would do), table by table."""

    source: str
    target: str
    tables: tuple[TableResult, ...]
    dry_run: bool

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)

    @property
    def ok(self) -> bool:
        """Every table's row counts match (a dry run: always, nothing was compared)."""
        return self.dry_run or all(t.matches for t in self.tables)


def migrate_to(source_url: str, target_url: str, *, dry_run: bool = False) -> MigrationReport:
    """Copy the SQLite database ``source_url`` into the PostgreSQL ``target_url``
    (module docstring); with ``dry_run`` only read both and say what would be copied."""
    path = db.sqlite_path(source_url)
    if path is None:
        raise MigrationRefusedError(
            f"{db.display_url(source_url)}: [monitor] database is not a SQLite file: "
            "nothing to migrate from"
        )
    check_target_url(target_url)
    shown = db.display_url(target_url)
    with _no_daemon(source_url):
        source = db.make_engine(source_url, create=False)
        target = db.make_engine(target_url)
        decoded = Changes()
        event.listen(source, "connect", _lenient_text(decoded))
        try:
            db.check_schema(source)
            with _sole_migration(target), source.connect() as src:
                src.exec_driver_sql("BEGIN IMMEDIATE")  # one snapshot; no writer meanwhile
                tables = _run(src, target, str(path), dry_run, decoded)
                src.rollback()
        finally:
            source.dispose()
            target.dispose()
    return MigrationReport(str(path), shown, tables, dry_run)


def check_target_url(url: str) -> None:
    """Refuse a target that is not a PostgreSQL URL with an installed driver."""
    try:
        sa_url = make_url(url)
        if sa_url.get_backend_name() != "postgresql":
            raise MigrationRefusedError(
                f"{db.display_url(url)}: not a PostgreSQL URL; give "
                "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE ('monitor db backup' copies "
                "a SQLite database)"
            )
        sa_url.get_dialect().import_dbapi()
    except ImportError:
        raise MigrationRefusedError(
            "no PostgreSQL driver installed: pip install 'press-monitor[postgres]'"
        ) from None
    except MigrationRefusedError:
        raise
    except Exception:  # noqa: BLE001 - SQLAlchemy raises several kinds; quoting leaks the URL
        raise MigrationRefusedError(
            "not a database URL: give postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"
        ) from None


@contextmanager
def _no_daemon(source_url: str) -> Iterator[None]:
    """Hold the daemon's lock of the SQLite database: refused while a daemon runs."""
    stack = ExitStack()
    try:
        stack.enter_context(db.acquire_database_lock(source_url))
    except DatabaseError as exc:
        if "another 'monitor run'" not in str(exc):
            raise
        holder = str(exc).split("(", 1)[1].split(")", 1)[0]
        raise MigrationRefusedError(
            f"{db.where(source_url)}: {holder} holds this database (a running daemon, or "
            "another migrate-to): stop it first (systemctl stop press-monitor); what a daemon "
            "wrote during the copy would be lost"
        ) from None
    with stack:
        yield


@contextmanager
def _sole_migration(target: Engine) -> Iterator[None]:
    """Hold a session advisory lock on the target: a second migrate-to into the same
    database at the same time is refused, not interleaved."""
    with target.connect() as conn:
        if not conn.scalar(text(f"SELECT pg_try_advisory_lock({TARGET_LOCK})")):
            raise MigrationRefusedError(
                f"{target.url.render_as_string(hide_password=True)}: another "
                "'monitor db migrate-to' is writing to this database: let it finish"
            )
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({TARGET_LOCK})"))
            conn.commit()


def _lenient_text(decoded: Changes) -> Any:
    """A ``connect`` hook: text that is not valid UTF-8 decodes with U+FFFD, counted."""

    def decode(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded.utf8 += 1
            return raw.decode("utf-8", "replace")

    def hook(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.text_factory = decode

    return hook


def _run(
    src: Connection, target: Engine, path: str, dry_run: bool, decoded: Changes
) -> tuple[TableResult, ...]:
    """Check the target, then copy (or, dry, count) every table."""
    counts, marker = _target_state(target)
    done: dict[str, Any] = marker["tables"] if marker else {}
    _refuse_foreign(counts, marker)
    _refuse_changed(src, done)
    if dry_run:
        return tuple(_dry(src, t, counts.get(t.name, 0), t.name in done, decoded) for t in TABLES)
    db.upgrade(target)
    marker = marker or {"source": path, "started_at": _now(), "tables": {}}
    results = []
    for table in TABLES:
        if table.name in done:
            results.append(TableResult(table.name, done[table.name]["rows"], 0, 0, True))
        else:
            results.append(_copy_table(src, target, table, marker, decoded))
    with target.begin() as conn:
        _reset_sequences(conn)
        if marker.get("finished_at") is None:
            marker["finished_at"] = _now()
            _write_marker(conn, marker)
    after, _ = _target_state(target)
    return tuple(
        TableResult(
            r.table, _source_count(src, r.table), after[r.table], r.copied, r.earlier, r.changes
        )
        for r in results
    )


def _target_state(target: Engine) -> tuple[dict[str, int], dict[str, Any] | None]:
    """Rows per table of the target (0 for a table it lacks; ``state`` without the
    marker) and the marker of an earlier run, read without changing anything."""
    with target.connect() as conn:
        present = set(inspect(conn).get_table_names())
        counts = {t.name: _count(conn, t) if t.name in present else 0 for t in TABLES}
        marker = None
        if "state" in present:
            value = conn.scalar(select(StateRow.value).where(StateRow.key == MARKER_KEY))
            marker = json.loads(value) if value else None
    return counts, marker


def _count(conn: Connection, table: Table) -> int:
    query = select(func.count()).select_from(table)
    if table.name == "state":
        query = query.where(table.c.key != MARKER_KEY)
    return int(conn.scalar(query) or 0)


def _source_count(src: Connection, name: str) -> int:
    return _count(src, Base.metadata.tables[name])


def _refuse_foreign(counts: dict[str, int], marker: dict[str, Any] | None) -> None:
    """Refuse rows in the target that no earlier run of this migration wrote."""
    done = marker["tables"] if marker else {}
    foreign = {name: n for name, n in counts.items() if n and name not in done}
    if foreign:
        held = ", ".join(f"{name} {n} rows" for name, n in foreign.items())
        why = (
            "rows an earlier 'monitor db migrate-to' did not write (a daemon ran on it?)"
            if marker
            else "data of its own"
        )
        raise MigrationRefusedError(
            f"the PostgreSQL database holds {why} ({held}): nothing copied; "
            "give an empty database (createdb), or empty this one (DROP SCHEMA public CASCADE; "
            "CREATE SCHEMA public) if its data can go"
        )


def _refuse_changed(src: Connection, done: dict[str, Any]) -> None:
    """Refuse when a table an earlier run copied differs now in SQLite: the daemon ran
    on it since, or this is another database."""
    for table in TABLES:
        if table.name not in done:
            continue
        fitter, digest = RowFitter(table), Fingerprint()
        for batch in _batches(src, table, fitter):
            for row in batch:
                digest.add(row)
        if digest.hexdigest() != done[table.name]["sha256"]:
            raise MigrationRefusedError(
                f"table {table.name} was copied by an earlier 'monitor db migrate-to' from a "
                "SQLite database that differs from this one now (did the daemon run on it "
                "since?): nothing copied; empty the PostgreSQL database (DROP SCHEMA public "
                "CASCADE; CREATE SCHEMA public) and run it again"
            )


def _dry(
    src: Connection, table: Table, target_rows: int, earlier: bool, decoded: Changes
) -> TableResult:
    """What copying ``table`` would do: its rows and the values that would change."""
    before, fitter = decoded.utf8, RowFitter(table)
    rows = sum(len(batch) for batch in _batches(src, table, fitter))
    fitter.changes.utf8 = decoded.utf8 - before
    return TableResult(
        table.name, rows, target_rows, 0 if earlier else rows, earlier, fitter.changes
    )


def _copy_table(
    src: Connection, target: Engine, table: Table, marker: dict[str, Any], decoded: Changes
) -> TableResult:
    """Copy every row of ``table`` and record it in the marker, in one transaction."""
    before, fitter, digest = decoded.utf8, RowFitter(table), Fingerprint()
    rows = 0
    faults = (SQLAlchemyError, target.dialect.loaded_dbapi.Error)
    try:
        with target.begin() as conn:
            for batch in _batches(src, table, fitter):
                for row in batch:
                    digest.add(row)
                _copy_rows(conn, table, batch)
                rows += len(batch)
            marker["tables"][table.name] = {"rows": rows, "sha256": digest.hexdigest()}
            _write_marker(conn, marker)
    except faults as exc:
        orig = getattr(exc, "orig", None) or exc
        line = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        raise DatabaseError(
            f"table {table.name}: cannot copy into PostgreSQL: {line}; nothing of this "
            "table was written (the tables before it are kept: run again to go on)"
        ) from None
    fitter.changes.utf8 = decoded.utf8 - before
    return TableResult(table.name, rows, 0, rows, False, fitter.changes)


def _batches(src: Connection, table: Table, fitter: RowFitter) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` in key order, fitted, in batches of at most
    :data:`BATCH_ROWS` rows or about :data:`BATCH_CHARS` characters."""
    query = select(table).order_by(*table.primary_key.columns)
    batch: list[dict[str, Any]] = []
    size = 0
    runtime = RUNTIME_COLUMNS.get(table.name, ())
    for row in src.execution_options(yield_per=BATCH_ROWS).execute(query).mappings():
        fitted = fitter.fit(row)
        for column in runtime:
            fitted[column] = None
        batch.append(fitted)
        size += sum(len(v) for v in fitted.values() if isinstance(v, str))
        if len(batch) >= BATCH_ROWS or size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _copy_rows(conn: Connection, table: Table, batch: list[dict[str, Any]]) -> None:
    """Write fitted rows with PostgreSQL's ``COPY`` (the whole copy of 210,200 rows took
    16.6 s against 24.5 s with batched INSERTs: bench/migrate_speed.py), each value as the schema's types
    would bind it: times as naive UTC (:class:`~monitor.store.schema.UTCDateTime`), JSON
    as its text, None as NULL (also in a JSON column: SQL NULL, as SQLite held it)."""
    columns = list(table.columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    as_json = {c.key for c in columns if isinstance(c.type, JSON)}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in batch:
            copy.write_row([_copy_value(row[c.key], c.key in as_json) for c in columns])


def _copy_value(value: Any, is_json: bool) -> Any:
    if value is None:
        return None
    if is_json:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _reset_sequences(conn: Connection) -> None:
    """Set each table's id sequence past its largest id: the next insert gets a new one."""
    for table in TABLES:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
        )


def _write_marker(conn: Connection, marker: dict[str, Any]) -> None:
    state = Base.metadata.tables["state"]
    values = {"value": json.dumps(marker), "updated_at": datetime.now(UTC)}
    if conn.scalar(select(func.count()).select_from(state).where(state.c.key == MARKER_KEY)):
        conn.execute(state.update().where(state.c.key == MARKER_KEY).values(**values))
    else:
        conn.execute(state.insert().values(key=MARKER_KEY, **values))


def _now() -> str:
    return datetime.now(UTC).isoformat()
