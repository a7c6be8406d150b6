"""The stored history for ``monitor search`` and ``monitor test-rule --since``: the
articles of a window, read-only, and a key index kept beside the database.

:func:`history_reach` says how far back the history goes (retention prunes the oldest);
:func:`window_entries` lists a window's articles (id, when first seen, content hash),
newest first, through ``ix_articles_first_seen_at``; :func:`load_articles` reads
them whole by primary key, in chunks.

:class:`KeyIndex` is a SQLite FTS5 index of each article's match keys (what
:mod:`monitor.match.prefilter` computes; this module only stores the strings it is
given). It is a cache, not part of the database: its own file (``<database>-history``
beside a SQLite database, else under ``$XDG_CACHE_HOME/press-monitor``), filled on
use for the articles of the window it has not seen or that changed since (new id,
other first-seen time or content hash), so searching never writes to the monitor's
database and never waits for the daemon's write lock. Deleting the file only costs
the next search its rebuild. ``contentless`` FTS5 (SQLite 3.40 has no deletes from
it), so an article indexed again gets a new document and its old one is left behind,
as are the documents of pruned articles (:meth:`KeyIndex.forget_pruned`); past
:data:`STALE_FRACTION` of such leftovers the file is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from monitor.errors import DatabaseError
from monitor.store.db import create_private_file, sqlite_path
from monitor.store.feeds import source_name
from monitor.store.schema import ArticleRow, FeedRow

CHUNK = 500  # ids per IN list, keys per MATCH
STALE_FRACTION = 0.5  # left-behind documents (of all) that make the index rebuild itself
T = TypeVar("T")
SCHEME = "fts5-ascii-3"  # the file's layout; with the key scheme's version it must match


@dataclass(frozen=True, slots=True)
class Reach:
    """How far back the stored history goes: the oldest and newest article's first
    sighting, and how many articles are stored (None times for an empty database)."""

    oldest: datetime | None
    newest: datetime | None
    articles: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One article of a window as the index knows it (``stamp``: when first seen)."""

    id: int
    stamp: str
    entry_hash: str | None


_STALE = (
    "(d.article_id IS NULL OR d.stamp IS NOT a.first_seen_at OR d.entry_hash IS NOT a.entry_hash)"
)
Row = tuple[int, str, str, str, str | None]  # id, title, text, first-seen stamp, hash


@dataclass(frozen=True, slots=True)
class Window:
    """The articles to scan: first seen at ``since`` or later, of ``feed_urls`` (all
    when empty), in ``language`` (``uk`` also takes ``uk-UA``; None: any)."""

    since: datetime
    feed_urls: tuple[str, ...] = ()
    language: str | None = None

    def sql(self, *more: str) -> tuple[str, list[Any]]:
        """``WHERE ...`` over ``m.articles a`` (the attached database) and its params."""
        parts = ["a.first_seen_at >= ?"]
        params: list[Any] = [_stored_time(self.since)]
        if self.feed_urls:
            marks = ",".join("?" * len(self.feed_urls))
            parts.append(f"a.feed_id IN (SELECT id FROM m.feeds WHERE url IN ({marks}))")
            params += self.feed_urls
        if self.language:
            lang = self.language.lower()
            parts.append(
                "(lower(a.language) = ? OR lower(a.language) LIKE ? "
                "OR lower(a.language) LIKE ? ESCAPE '\\')"
            )
            params += [lang, f"{lang}-%", f"{lang}\\_%"]
        parts += more
        return "WHERE " + " AND ".join(parts), params


def _stored_time(at: datetime) -> str:
    """``at`` as SQLAlchemy stores a UTC datetime in SQLite (text that sorts)."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True, slots=True)
class HistoryArticle:
    """A stored article as search and backtest show it."""

    id: int
    first_seen_at: datetime
    published_at: datetime | None
    outlet: str
    feed_url: str
    language: str | None
    title: str
    text: str
    link: str | None
    story_id: int
    alertable: bool


def history_reach(session: Session) -> Reach:
    """The oldest and newest first sighting and the article count (one index scan)."""
    oldest, newest, n = session.execute(
        select(func.min(ArticleRow.first_seen_at), func.max(ArticleRow.first_seen_at), func.count())
    ).one()
    return Reach(_utc(oldest), _utc(newest), int(n or 0))


def feed_titles(session: Session) -> dict[str, str | None]:
    """Each stored feed's URL and its own title (``None`` until it gave one)."""
    return {url: title for url, title in session.execute(select(FeedRow.url, FeedRow.title))}


def window_entries(session: Session, window: Window) -> list[Entry]:
    """The articles of ``window``, newest first (any database; SQLite attaches instead,
    :meth:`KeyIndex.attach`).

    The time is read as stored (its text on SQLite), not converted to a datetime per
    row: it only tells versions apart."""
    raw_time = type_coerce(ArticleRow.first_seen_at, String)
    stmt = select(ArticleRow.id, raw_time, ArticleRow.entry_hash).where(
        ArticleRow.first_seen_at >= window.since
    )
    if window.feed_urls:
        ids = select(FeedRow.id).where(FeedRow.url.in_(list(window.feed_urls)))
        stmt = stmt.where(ArticleRow.feed_id.in_(ids))
    if window.language:
        lang = window.language.lower()
        column = func.lower(ArticleRow.language)
        stmt = stmt.where(
            (column == lang) | column.like(f"{lang}-%") | column.like(f"{lang}\\_%", escape="\\")
        )
    stmt = stmt.order_by(ArticleRow.first_seen_at.desc(), ArticleRow.id.desc())
    return [Entry(i, str(at), h) for i, at, h in session.execute(stmt)]


def load_articles(session: Session, ids: Sequence[int]) -> dict[int, HistoryArticle]:
    """The articles of ``ids`` (those still stored), by id, read in chunks."""
    out: dict[int, HistoryArticle] = {}
    for chunk in _chunks(ids):
        stmt = (
            select(ArticleRow, FeedRow.name, FeedRow.title, FeedRow.url)
            .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
            .where(ArticleRow.id.in_(chunk))
        )
        for row, name, title, url in session.execute(stmt):
            out[row.id] = HistoryArticle(
                id=row.id,
                first_seen_at=row.first_seen_at,
                published_at=row.published_at,
                outlet=source_name(name, title, url),
                feed_url=url,
                language=row.language,
                title=row.title or "",
                text=row.text or "",
                link=row.link,
                story_id=row.story_id or row.id,
                alertable=bool(row.alertable),
            )
    return out


def load_rows(session: Session, ids: Sequence[int]) -> Iterator[Row]:
    """``(id, title, text, stamp, hash)`` of the articles of ``ids`` (for indexing)."""
    raw_time = type_coerce(ArticleRow.first_seen_at, String)
    for chunk in _chunks(ids):
        stmt = select(
            ArticleRow.id, ArticleRow.title, ArticleRow.text, raw_time, ArticleRow.entry_hash
        ).where(ArticleRow.id.in_(chunk))
        for i, title, text, at, entry_hash in session.execute(stmt):
            yield i, title or "", text or "", str(at), entry_hash


def index_path(database_url: str) -> Path:
    """Where the key index of a database lives: beside a SQLite file, else in the
    user's cache folder under a name made from the URL (never the URL itself)."""
    path = sqlite_path(database_url)
    if path is not None:
        return path.with_name(path.name + "-history")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return cache / "press-monitor" / f"history-{digest}.sqlite"


_SIDE = ("-wal", "-shm", "-journal")


class IndexCorrupt(DatabaseError):
    """The key index's file is damaged or not a database: delete it and build it again
    (:meth:`KeyIndex.discard`)."""


def _corrupt(exc: BaseException) -> bool:
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return isinstance(exc, sqlite3.DatabaseError) and code in (11, 26)  # CORRUPT, NOTADB


class KeyIndex:
    """The key index file (see the module docstring). Use as a context manager."""

    def __init__(self, path: Path, scheme: str) -> None:
        self.path = path
        self.scheme = f"{SCHEME}/{scheme}"
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> KeyIndex:
        try:
            create_private_file(self.path)
            self._conn = self._open()
            if self._meta("scheme") != self.scheme or self._stale():
                self._conn.close()
                self.path.unlink()
                create_private_file(self.path)
                self._conn = self._open()
        except (OSError, sqlite3.Error) as exc:
            if self._conn is not None:
                self._conn.close()
            if _corrupt(exc):
                raise IndexCorrupt(f"{self.path}: {exc}") from None
            raise DatabaseError(f"{self.path}: cannot use the search index: {exc}") from None
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if self._conn is not None:
            self._conn.close()
        if exc is not None and _corrupt(exc):  # the index's file (or the attached one)
            raise IndexCorrupt(f"{self.path}: {exc}") from None
        if isinstance(exc, sqlite3.Error):
            raise DatabaseError(f"{self.path}: cannot use the search index: {exc}") from None

    def discard(self) -> None:
        """Delete the file (and its ``-wal``, ``-shm``): a cache that cannot be read is
        rebuilt, not kept."""
        for path in (self.path, *(self.path.with_name(self.path.name + s) for s in _SIDE)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("KeyIndex used outside its with block")
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, uri=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # a cache: a crash costs a rebuild at most
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS docs (
                article_id INTEGER PRIMARY KEY, doc INTEGER NOT NULL,
                stamp TEXT NOT NULL, entry_hash TEXT);
            CREATE UNIQUE INDEX IF NOT EXISTS docs_doc ON docs (doc);
            CREATE VIRTUAL TABLE IF NOT EXISTS article_keys
                USING fts5(k, content='', detail='none', tokenize='ascii');
            """
        )
        if self._meta_of(conn, "scheme") is None:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('scheme', ?)", (self.scheme,))
        return conn

    @staticmethod
    def _meta_of(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _meta(self, key: str) -> str | None:
        return self._meta_of(self.conn, key)

    def _stale(self) -> bool:
        """Whether left-behind documents are over :data:`STALE_FRACTION` of all."""
        total = int(self._meta("documents") or 0)
        live = self.conn.execute("SELECT count(*) FROM docs").fetchone()[0]
        return total > 10_000 and (total - live) > STALE_FRACTION * total

    def missing(self, entries: Iterable[Entry]) -> list[int]:
        """The ids of ``entries`` not indexed, or indexed as another version."""
        known = dict(
            self.conn.execute("SELECT article_id, stamp || '|' || ifnull(entry_hash, '') FROM docs")
        )
        get = known.get
        return [e.id for e in entries if get(e.id) != f"{e.stamp}|{e.entry_hash or ''}"]

    def add(
        self,
        rows: Iterable[Row],
        keys_of: Callable[[str, str], Iterable[str]],
        progress: Callable[[int], None] = lambda n: None,
    ) -> int:
        """Index ``rows`` (id, title, text, first-seen stamp, content hash) with
        ``keys_of``; commits every :data:`CHUNK` articles, so an interrupted run keeps
        what it did."""
        conn = self.conn
        doc = int(self._meta("documents") or 0)
        done = 0
        batch: list[Row] = []

        def flush() -> None:
            nonlocal doc
            first = doc + 1
            keys = [(first + n, " ".join(keys_of(r[1], r[2]))) for n, r in enumerate(batch)]
            docs = [(r[0], first + n, r[3], r[4]) for n, r in enumerate(batch)]
            doc += len(batch)
            with _transaction(conn):
                conn.executemany("INSERT INTO article_keys(rowid, k) VALUES (?, ?)", keys)
                conn.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)", docs)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('documents', ?)", (str(doc),))
            batch.clear()

        for item in rows:
            batch.append(item)
            if len(batch) >= CHUNK:
                done += len(batch)
                flush()
                progress(done)
        if batch:
            done += len(batch)
            flush()
            progress(done)
        return done

    def candidates(self, expression: str) -> set[int]:
        """The article ids whose keys satisfy the FTS5 ``expression``."""
        rows = self.conn.execute(
            "SELECT d.article_id FROM article_keys JOIN docs d "
            "ON d.doc = article_keys.rowid WHERE article_keys MATCH ?",
            (expression,),
        )
        return {r[0] for r in rows}

    # -- a SQLite database, attached read-only: the window is joined in SQL ------------

    def attach(self, database: Path) -> None:
        try:
            self._attach(database)
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"{database}: cannot read it beside the search index: {exc}"
            ) from None

    def _attach(self, database: Path) -> None:
        """Attach the monitor's SQLite database read-only as ``m`` (URI ``mode=ro``):
        the window, the stale articles and the candidates are then found by joins in
        SQLite, without a Python object per article of the window."""
        uri = "file:" + quote(str(database.resolve())) + "?mode=ro"
        self.conn.execute("ATTACH DATABASE ? AS m", (uri,))
        self.conn.execute("SELECT 1 FROM m.articles LIMIT 1").fetchall()  # it is the monitor's

    def forget_pruned(self) -> int:
        """Drop the documents of articles the attached database no longer holds
        (retention pruned them), so that their FTS rows count as left behind and the
        file is rebuilt past :data:`STALE_FRACTION`; return how many. Only when the
        index knows more articles than are stored (two counts, no join otherwise)."""
        conn = self.conn
        known = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM m.articles").fetchone()[0]
        if known <= stored:
            return 0
        with _transaction(conn):
            gone = conn.execute(
                "DELETE FROM docs WHERE article_id NOT IN (SELECT id FROM m.articles)"
            ).rowcount
        return int(gone)

    def attached_window(self, where: Window) -> int:
        """How many articles the window holds."""
        sql, params = where.sql()
        return int(
            self.conn.execute(f"SELECT count(*) FROM m.articles a {sql}", params).fetchone()[0]
        )

    def attached_missing(self, where: Window) -> list[int]:
        """The window's articles not indexed, or indexed as another version."""
        sql, params = where.sql(_STALE)
        rows = self.conn.execute(
            f"SELECT a.id FROM m.articles a LEFT JOIN docs d ON d.article_id = a.id {sql}", params
        )
        return [r[0] for r in rows]

    def attached_rows(self, ids: Sequence[int]) -> Iterator[Row]:
        """``(id, title, text, stamp, hash)`` of the attached articles ``ids``."""
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            yield from self.conn.execute(  # read whole: add() writes between chunks
                "SELECT id, coalesce(title, ''), coalesce(text, ''), first_seen_at, entry_hash "
                f"FROM m.articles WHERE id IN ({marks})",
                list(chunk),
            ).fetchall()

    def attached_candidates(self, expression: str, where: Window) -> list[int]:
        """The window's articles whose keys satisfy ``expression``, newest first."""
        sql, params = where.sql("article_keys MATCH ?")
        rows = self.conn.execute(
            "SELECT a.id FROM article_keys JOIN docs d ON d.doc = article_keys.rowid "
            f"JOIN m.articles a ON a.id = d.article_id {sql} "
            "ORDER BY a.first_seen_at DESC, a.id DESC",
            [*params, expression],
        )
        return [r[0] for r in rows]

    def plans(self, window: Window) -> dict[str, list[str]]:
        """``EXPLAIN QUERY PLAN`` of the index's queries, the monitor's database attached
        (for the benchmark)."""
        where, params = window.sql()
        stale, stale_params = window.sql(_STALE)
        match, match_params = window.sql("article_keys MATCH ?")
        queries = {
            "window count (attached)": (f"SELECT count(*) FROM m.articles a {where}", params),
            "stale articles (attached)": (
                f"SELECT a.id FROM m.articles a LEFT JOIN docs d ON d.article_id = a.id {stale}",
                stale_params,
            ),
            "candidates, newest first (attached)": (
                "SELECT a.id FROM article_keys JOIN docs d ON d.doc = article_keys.rowid "
                f"JOIN m.articles a ON a.id = d.article_id {match} "
                "ORDER BY a.first_seen_at DESC, a.id DESC",
                [*match_params, '"pvitkof"'],
            ),
            "candidates (other databases)": (
                "SELECT d.article_id FROM article_keys JOIN docs d "
                "ON d.doc = article_keys.rowid WHERE article_keys MATCH ?",
                ['"pvitkof"'],
            ),
        }
        return {
            name: [str(r[-1]) for r in self.conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
            for name, (sql, args) in queries.items()
        }


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # Deferred: IMMEDIATE would lock every attached database, the monitor's too.
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _stamp(at: datetime) -> str:
    return at.isoformat()


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)
