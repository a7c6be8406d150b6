"""Housekeeping: article retention, SQLite maintenance and online backup.

* :func:`prune` deletes articles older than the retention period with their
  sightings, matches and settled alerts, in small batches so the daemon's writers
  are never blocked for long. It keeps matched articles when asked and never
  deletes an article that still has an alert waiting (pending or sending).
* :func:`optimize` runs ``PRAGMA optimize`` and gives free pages back (incremental
  vacuum, or a full ``VACUUM`` when enough of the file is free). No-op off SQLite.
* :func:`backup` copies a live SQLite database with the online backup API: the copy
  is one consistent snapshot even while the daemon writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, exists, select
from sqlalchemy.orm import Session

from monitor.errors import DatabaseError, MonitorError
from monitor.log import event
from monitor.records import AlertStatus
from monitor.secrets import mask_url
from monitor.store import faults
from monitor.store.db import SessionFactory, sqlite_path
from monitor.store.schema import AlertRow, ArticleRow, MatchRow, SightingRow

log = logging.getLogger(__name__)

PRUNE_BATCH = 500
WAITING_ALERT_STATUSES: tuple[AlertStatus, ...] = ("pending", "sending")
VACUUM_FREE_FRACTION = 0.25  # full VACUUM when a quarter of the file is free pages ...
VACUUM_MIN_FREE_PAGES = 1024  # ... and that is at least 4 MiB with 4 KiB pages


def prune(
    session_factory: SessionFactory, now: datetime, retention_s: float, keep_matched: bool
) -> int:
    """Delete articles first seen before ``now - retention_s``; return how many.

    Their sightings, matches and alerts go with them. With ``keep_matched`` an
    article any rule matched is kept; an article with a pending or sending alert is
    always kept (it has not been delivered yet). Works in batches of
    :data:`PRUNE_BATCH`, one short write transaction each.
    """
    cutoff = now - timedelta(seconds=retention_s)
    deleted, after_id = 0, 0
    while True:
        with session_factory() as session:
            candidates = _prunable(session, cutoff, keep_matched, after_id)
        if not candidates:
            break
        with session_factory.begin() as session:
            deleted += _delete_articles(session, candidates, cutoff, keep_matched)
        after_id = candidates[-1]
    event(log, "housekeeping.pruned", articles=deleted, retention_s=retention_s)
    return deleted


def _prunable(
    session: Session, cutoff: datetime, keep_matched: bool, after_id: int, ids: Sequence[int] = ()
) -> list[int]:
    """The ids of prunable articles (the next batch after ``after_id``, or among ``ids``)."""
    waiting = exists().where(
        AlertRow.article_id == ArticleRow.id, AlertRow.status.in_(WAITING_ALERT_STATUSES)
    )
    stmt = select(ArticleRow.id).where(ArticleRow.first_seen_at < cutoff, ~waiting)
    if keep_matched:
        stmt = stmt.where(~exists().where(MatchRow.article_id == ArticleRow.id))
    if ids:
        stmt = stmt.where(ArticleRow.id.in_(ids))
    else:
        stmt = stmt.where(ArticleRow.id > after_id).order_by(ArticleRow.id).limit(PRUNE_BATCH)
    return list(session.scalars(stmt))


def _delete_articles(
    session: Session, candidates: Sequence[int], cutoff: datetime, keep_matched: bool
) -> int:
    """Delete the candidates that are still prunable; return how many were deleted.

    The first statement is a write, so the transaction holds SQLite's write lock
    from there on; the candidates are then checked again under it (an alert may
    have turned pending since they were chosen).
    """
    waiting = select(AlertRow.article_id).where(AlertRow.status.in_(WAITING_ALERT_STATUSES))
    session.execute(
        delete(AlertRow).where(
            AlertRow.article_id.in_(candidates), AlertRow.article_id.not_in(waiting)
        )
    )
    ids = _prunable(session, cutoff, keep_matched, 0, candidates)
    # Children explicitly: correct even where foreign keys are not enforced.
    for model in (MatchRow, SightingRow):
        session.execute(delete(model).where(model.article_id.in_(ids)))
    session.execute(delete(ArticleRow).where(ArticleRow.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True, slots=True)
class OptimizeReport:
    """What :func:`optimize` did; sizes in bytes."""

    size_before: int
    size_after: int
    vacuumed: bool


def optimize(engine: Engine) -> OptimizeReport | None:
    """``PRAGMA optimize`` and reclaim free pages on SQLite; None (nothing done) elsewhere."""
    if engine.dialect.name != "sqlite":
        return None
    started = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        pragma = _pragma_reader(conn)
        page_size, before = pragma("page_size"), pragma("page_count")
        free, auto_vacuum = pragma("freelist_count"), pragma("auto_vacuum")
        vacuumed = False
        if auto_vacuum == 2:  # INCREMENTAL: cheap, no rewrite
            # Each step frees one page and execute() steps once; executescript steps
            # to the end (we are in autocommit, so its implicit COMMIT is a no-op).
            _sqlite3(conn.connection.driver_connection).executescript("PRAGMA incremental_vacuum;")
        elif free >= VACUUM_MIN_FREE_PAGES and free >= before * VACUUM_FREE_FRACTION:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").all()
            vacuumed = True
        conn.exec_driver_sql("PRAGMA optimize")
        after = pragma("page_count")
    report = OptimizeReport(before * page_size, after * page_size, vacuumed)
    event(
        log,
        "housekeeping.optimized",
        size_before=report.size_before,
        size_after=report.size_after,
        vacuumed=vacuumed,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return report


def _pragma_reader(conn: Connection) -> Callable[[str], int]:
    """``pragma(name)``: the integer value of a SQLite PRAGMA (0 when it has none)."""

    def pragma(name: str) -> int:
        value: int | None = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
        return value or 0

    return pragma


def _sqlite3(driver: object) -> sqlite3.Connection:
    """The DB-API connection of a SQLite engine: the stdlib's (SQLAlchemy's pysqlite
    dialect, the one a ``sqlite://`` URL selects). A closed connection has none."""
    if not isinstance(driver, sqlite3.Connection):
        raise MonitorError(f"not an open sqlite3 connection: {type(driver).__name__}")
    return driver


def backup(engine: Engine, dest_path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Copy the live SQLite database to ``dest_path`` with the online backup API.

    The copy is taken in one step inside a read transaction, so it is a consistent
    snapshot while the daemon keeps writing (WAL readers do not block writers).
    It is written beside the destination, checked, switched to a self-contained
    rollback journal and then moved into place (mode 0600). Raises
    :class:`MonitorError` for a non-SQLite database or an existing destination
    unless ``overwrite``.
    """
    if engine.dialect.name != "sqlite":
        url = mask_url(engine.url.render_as_string(hide_password=True))
        raise MonitorError(f"backup: {url} is not SQLite; use the database's own tools (pg_dump)")
    dest = Path(dest_path).expanduser().resolve()
    if dest.is_dir():
        raise MonitorError(f"backup: {dest} is a folder; give a file name")
    if dest.exists() and not overwrite:
        raise MonitorError(f"backup: {dest} exists; pass --force to overwrite it")
    if not dest.parent.is_dir():
        raise MonitorError(f"backup: folder {dest.parent} does not exist")
    started = time.monotonic()
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        _copy_snapshot(engine, tmp, dest)
        _move_into_place(tmp, dest, overwrite)
    finally:
        with contextlib.suppress(OSError):  # gone, or never made (a read-only folder)
            tmp.unlink()
    event(
        log,
        "housekeeping.backup",
        path=str(dest),
        size_bytes=dest.stat().st_size,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return dest


def _copy_snapshot(engine: Engine, tmp: Path, dest: Path) -> None:
    """The snapshot into ``tmp`` (created 0600: a backup holds the feed tokens too);
    errors name ``dest``, or the live database when it is the damaged one."""
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise DatabaseError(f"{dest}: backup failed: {faults.os_fault(exc, dest)}") from None
    raw = engine.raw_connection()
    try:
        source = _sqlite3(raw.driver_connection)
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)  # pages=-1: the whole file in one step, one snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            verdict = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    except sqlite3.Error as exc:  # the live database's fault, or the destination's
        live = str(sqlite_path(engine.url.render_as_string(hide_password=False)))
        fault = faults.translate(exc, live if faults.is_corruption(exc) else str(dest))
        raise fault or MonitorError(f"backup failed: {exc}") from exc
    finally:
        raw.close()
    if verdict != "ok":
        raise MonitorError(f"backup failed: the copy does not pass quick_check: {verdict}")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())


def _move_into_place(tmp: Path, dest: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # atomic "create only if absent"
    except FileExistsError:
        raise MonitorError(f"backup: {dest} exists; pass --force to overwrite it") from None
    except OSError:  # a filesystem without hard links: check, then rename
        if dest.exists():
            raise MonitorError(f"backup: {dest} exists; pass --force to overwrite it") from None
        os.replace(tmp, dest)


@dataclass(frozen=True, slots=True)
class HousekeepingReport:
    """What one :func:`run_housekeeping` pass did."""

    pruned: int
    optimized: OptimizeReport | None


def run_housekeeping(
    session_factory: SessionFactory,
    engine: Engine,
    now: datetime,
    *,
    retention_s: float | None,
    keep_matched: bool,
) -> HousekeepingReport:
    """The daemon's periodic job: prune per ``[monitor].retention`` (None: keep
    everything), then optimize."""
    pruned = 0
    if retention_s is not None:
        pruned = prune(session_factory, now, retention_s, keep_matched)
    return HousekeepingReport(pruned, optimize(engine))
