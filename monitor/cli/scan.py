"""The scan of stored articles that ``monitor search`` and the backtest
(``monitor test-rule --since``) share: the window, the key index brought up to date and
asked (:mod:`monitor.store.history`, :mod:`monitor.match.prefilter`), and the daemon's
matcher over what it offers, newest first. A progress bar (``rich``) on a terminal when
it takes more than a second.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.cli.context import Context
from monitor.cli.output import fit
from monitor.config import Config
from monitor.errors import DatabaseError, MonitorError
from monitor.match import Matcher, compile_rules
from monitor.match.prefilter import VERSION, KeyMaker, query_expression
from monitor.records import Document, Match, RuleConfig
from monitor.secrets import mask_text
from monitor.store import history
from monitor.store.db import SessionFactory, session_scope, sqlite_path
from monitor.store.feeds import source_name
from monitor.store.history import HistoryArticle, Reach

QUERY_RULE = "query"  # the rule name a query is matched and reported under
PROGRESS_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Found:
    """A stored article and the rules that match it (with evidence)."""

    article: HistoryArticle
    matches: tuple[Match, ...]


@dataclass(slots=True)
class Scan:
    """What a scan looked at: the window, how far history reaches, what was read."""

    since: datetime
    reach: Reach
    window: int = 0  # articles in the window
    indexed: int = 0  # of them (re)indexed by this run
    candidates: int = 0  # offered by the index (every article of the window without it)
    read: int = 0  # of them read whole and matched so far (a --limit stops the scan early)
    prefilter: str = "index"  # "index", or why every article was matched
    first_result_s: float | None = None
    retention_s: float | None = None  # the config's: None keeps every article
    keep_matched: bool = True
    started: float = field(default_factory=time.perf_counter)


def load_config_if_any(ctx: Context) -> Config | None:
    """The config when one is given or found (a query needs none; its @groups do)."""
    if getattr(ctx.args, "config", None) or Path(ctx.config_path).exists():
        return ctx.config()
    return None


def compile_query(query: str, config: Config | None) -> Matcher:
    """``query`` as the rule ``query``; raises :class:`QueryError`."""
    terms = config.terms if config is not None else {}
    return compile_rules([RuleConfig(name=QUERY_RULE, query=query)], terms)


def feed_urls(
    config: Config | None, names: Sequence[str] | None, ctx: Context | None = None
) -> list[str]:
    """The URLs of the feeds ``--feed`` names; raises ``ValueError`` naming the known
    ones. A feed is named by its URL as the config has it (a local path relative to the
    config's folder or the working directory, or resolved), its ``name``, or the outlet
    name the listings print (the name, else the feed's own title as stored); names
    compare case-insensitively."""
    if not names:
        return []
    feeds = config.feeds if config is not None else ()
    titles = _feed_titles(ctx) if ctx is not None and feeds else {}
    base = Path(ctx.config_path).resolve().parent if ctx is not None else Path.cwd()
    urls = []
    for name in names:
        paths = {name}
        if not name.startswith(("http://", "https://")):
            with contextlib.suppress(OSError, ValueError):
                paths |= {str((base / name).resolve()), str(Path(name).resolve())}
        folded = name.casefold()
        found = [
            f.url
            for f in feeds
            if f.url in paths
            or folded
            in {
                (f.name or "").casefold(),
                source_name(f.name, titles.get(f.url), f.url).casefold(),
            }
        ]
        if not found:
            known = (
                ", ".join(
                    f"{source_name(f.name, titles.get(f.url), f.url)!r} ({mask_text(f.url)})"
                    for f in feeds
                )
                or "none (no config)"
            )
            raise ValueError(f"unknown feed {name!r}; feeds: {fit(known, 600)}")
        urls += found
    return urls


def _feed_titles(ctx: Context) -> dict[str, str | None]:
    """The feeds' own titles as stored (what the listings show for a feed without a
    ``name``); none when the database cannot be read (the scan then says why)."""
    try:
        with session_scope(ctx.session_factory()) as s:
            return history.feed_titles(s)
    except MonitorError:
        return {}


def scan(
    ctx: Context,
    matcher: Matcher,
    since_s: float,
    *,
    feeds: Sequence[str] = (),
    language: str | None = None,
    stats: Callable[[Scan], None] = lambda s: None,
) -> Iterator[Found]:
    """The articles of the window that ``matcher`` matches, newest first.

    ``stats`` gets the :class:`Scan` before the first article is matched (the window,
    the history's reach) and is kept up to date as the scan goes on."""
    settings = ctx.config().monitor
    window = history.Window(datetime.now(UTC) - timedelta(seconds=since_s), tuple(feeds), language)
    factory = ctx.session_factory()
    with session_scope(factory) as s:
        info = Scan(
            since=window.since,
            reach=history.history_reach(s),
            retention_s=settings.retention_s,
            keep_matched=settings.keep_matched,
        )
    ids: list[int] | None = None
    expression = query_expression(matcher)
    if isinstance(expression, str):
        try:
            try:
                ids = _prefiltered(settings.database, factory, window, expression, info)
            except history.IndexCorrupt as exc:  # a cache: rebuilt once, never kept broken
                print(
                    f"warning: the search index cannot be read ({exc}); "
                    "deleted it, building it again",
                    file=sys.stderr,
                )
                history.KeyIndex(history.index_path(settings.database), "").discard()
                ids = _prefiltered(settings.database, factory, window, expression, info)
        except DatabaseError as exc:  # a read-only folder: slower, never wrong
            info.prefilter = f"off: {exc}"
    else:
        info.prefilter = "off: the query would not narrow the articles"
    if ids is None:
        with session_scope(factory) as s:
            ids = [e.id for e in history.window_entries(s, window)]
        info.window = len(ids)
        if expression is None:  # no word of the query has a spelling: nothing can match
            ids = []
    info.candidates = len(ids)
    stats(info)
    yield from _matched(factory, matcher, ids, info)


def _matched(
    factory: SessionFactory, matcher: Matcher, ids: list[int], info: Scan
) -> Iterator[Found]:
    """Read the articles ``ids`` in chunks, in order, and match them."""
    with Progress("matching", len(ids)) as bar:
        for chunk_start in range(0, len(ids), history.CHUNK):
            chunk = ids[chunk_start : chunk_start + history.CHUNK]
            with session_scope(factory) as s:
                articles = history.load_articles(s, chunk)
            for i in chunk:
                article = articles.get(i)
                if article is None:  # pruned since the window was read
                    continue
                info.read += 1
                doc = Document(title=article.title, text=article.text, language=article.language)
                matches = matcher.match(doc)
                if matches:
                    if info.first_result_s is None:
                        info.first_result_s = time.perf_counter() - info.started
                    yield Found(article, tuple(matches))
            bar.advance(len(chunk))


def _prefiltered(
    database: str,
    factory: SessionFactory,
    window: history.Window,
    expression: str,
    info: Scan,
) -> list[int]:
    """The ids of the window's articles (newest first) the key index says can match,
    after indexing those it has not seen. A SQLite database is attached to the index
    read-only and joined there; another is read through its session."""
    maker = KeyMaker()
    path = sqlite_path(database)
    with history.KeyIndex(history.index_path(database), f"keys-{VERSION}") as index:
        if path is not None:
            index.attach(path)
            index.forget_pruned()
            info.window = index.attached_window(window)
            missing = index.attached_missing(window)
            with Progress("indexing", len(missing)) as bar:
                rows = index.attached_rows(missing)
                info.indexed = index.add(rows, maker.document_keys, progress=bar.update)
            return index.attached_candidates(expression, window)
        with session_scope(factory) as s:
            entries = history.window_entries(s, window)
        info.window = len(entries)
        missing = index.missing(entries)
        with Progress("indexing", len(missing)) as bar, session_scope(factory) as s:
            rows = history.load_rows(s, missing)
            info.indexed = index.add(rows, maker.document_keys, progress=bar.update)
        found = index.candidates(expression)
    return [e.id for e in entries if e.id in found]


class Progress:
    """A progress bar on stderr (``rich``), shown only on a terminal and only once the
    work has taken :data:`PROGRESS_AFTER_S`; nothing otherwise, so pipes and logs stay
    clean."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.started = time.monotonic()
        self.on = sys.stderr.isatty() and total > 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        """``n`` more done."""
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """``done`` of the total done."""
        self.done = done
        if not self.on:
            return
        if self._bar is None:
            if time.monotonic() - self.started < PROGRESS_AFTER_S:
                return
            from rich.console import Console  # imported only when a bar is shown
            from rich.progress import Progress as Bar

            self._bar = Bar(console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(f"{self.what} stored articles", total=self.total)
        self._bar.update(self._task, completed=done)
