"""The orchestrator: one poll cycle, top to bottom. It alone knows the order.

For each due feed, concurrently (bounded by :class:`monitor.fetch.client.FeedClient`):

1. fetch (conditional GET; 304 or an identical body costs no parse),
2. parse the bytes in a worker process (bounded in time),
3. normalise entries into Articles,
4. drop articles already stored, fetch full text for the rest when the feed asks,
5. in ONE transaction: update the edited articles (their words changed), store the new
   ones and put each in its story (:mod:`monitor.stories`), match both against every rule, record
   matches and their outbox rows, and update the feed's scheduling state,
6. on failure: record the classified error on the feed, back off, and raise one
   operator notice when the feed has been broken longer than the threshold.

One feed never stops the cycle: expected errors (:class:`FetchError`) are recorded
on the feed, and so is anything else raised inside one feed's poll (kind
``internal``, the traceback in the log), so a hostile feed that trips a bug becomes
that feed's failure while every other feed is stored and alerted. Only a failure
of the cycle itself propagates: a :class:`DatabaseError`, at its start or in any feed.

The database bounds a cycle once (issue 13). The cycle opens with a write transaction
(``BEGIN IMMEDIATE``), so a database another process keeps locked fails it within one
busy timeout, before any feed is fetched; and the first :class:`DatabaseError` inside
the cycle ends it: the other feeds' fetches are cancelled and their database work
fails at once instead of each waiting the busy timeout again. Nothing is lost: a
feed's articles, validators (ETag, Last-Modified) and next check are written in one
transaction, so a feed whose articles were not stored stays due and is fetched again
by the next cycle with the validators of its last stored poll: the server sends the
articles again.

Database work runs on one worker thread per cycle (``store``), never on the event
loop: a long transaction or the matching of a large article does not stall the
other feeds' fetches. Delivery of the outbox is a separate step
(:mod:`monitor.delivery`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar
from urllib.parse import urlsplit

from monitor.config import Config
from monitor.errors import DatabaseError, FetchError, FetchErrorKind
from monitor.fetch.article import fetch_article_async
from monitor.fetch.client import FeedClient
from monitor.fetch.state import FetchResult, FetchState
from monitor.log import event
from monitor.match import bound_document, detect_language
from monitor.normalize.change import title_changed
from monitor.normalize.entries import normalize_entries
from monitor.normalize.urls import canonical_url
from monitor.notify import notices
from monitor.parse.pool import ParsePool
from monitor.records import Article, Document, FeedConfig, ParsedFeed, RuleConfig, StoredArticle
from monitor.schedule import is_feed_broken, next_check
from monitor.secrets import mask_text
from monitor.store import workers
from monitor.store.articles import insert_new_articles, record_matches, unseen_articles
from monitor.store.db import SessionFactory, session_scope
from monitor.store.edits import apply_edit, edited_articles, session_title
from monitor.store.feeds import (
    FeedState,
    feed_states_of,
    record_failure,
    record_not_modified,
    record_success,
    set_broken_notified,
    sync_feeds,
)
from monitor.store.outbox import enqueue_operator_notice
from monitor.store.stories import (
    set_story,
    story_exists,
    story_time,
    window_articles,
)
from monitor.stories.cluster import StoryClusterer, StoryParams
from monitor.stories.doc import StoryDoc
from monitor.text import printable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
MAX_INTERNAL_MESSAGE = 300  # characters of an unexpected exception kept on the feed
MAX_CANONICAL_CHARS = 2048  # articles.canonical_link
SLOW_MATCH_MS = 1000  # one article's matching over this is logged (bench/match_adversarial.py)
CATCH_UP_MARGIN = 5000  # article ids below the highest seen that a catch-up looks at again
MIN_CLAIM = 32  # feeds a cycle claims at a time, at least (4 x [fetch] concurrency)


def utcnow() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one feed's poll came to."""

    url: str
    status: Literal["ok", "not_modified", "error"]
    new: int = 0
    alerts: int = 0
    error_kind: FetchErrorKind | None = None
    backlog: int = 0  # of the new articles: older than the backlog on a first poll
    error: str | None = None
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one poll cycle did."""

    outcomes: tuple[FeedOutcome, ...]
    started: datetime
    duration_ms: int
    lag_s: float = 0.0  # how long the most overdue feed waited past its next check time

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def alerts(self) -> int:
        return sum(o.alerts for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "error" for o in self.outcomes)

    @property
    def backlog(self) -> int:
        """New articles stored but not alerted: older than the backlog on a first poll."""
        return sum(o.backlog for o in self.outcomes)

    @property
    def problem(self) -> str | None:
        """Why this cycle counts as failed, or None: every feed it polled, two at least,
        failed inside press-monitor itself (kind ``internal``). One feed alone is that
        feed's problem, however often: its content could otherwise get the daemon
        restarted by the watchdog, which cannot fix a feed. Feeds that fail on their
        side (timeouts, 404s) are the feeds' problem too, reported per feed."""
        internal = [o for o in self.outcomes if o.error_kind == "internal"]
        if len(internal) < 2 or len(internal) < len(self.outcomes):
            return None
        return (
            f"every feed polled ({len(internal)}) failed inside press-monitor: {internal[0].error}"
        )


@dataclass
class Runtime:
    """Long-lived parts a cycle uses; the config is swapped on reload."""

    config: Config
    session_factory: SessionFactory
    parse_pool: ParsePool
    on_feed: Callable[[FeedOutcome], None] | None = None  # metrics hook
    on_match: Callable[[str], None] | None = None  # metrics hook: rule name
    stories: StoryWindow = field(default_factory=lambda: StoryWindow())
    worker: workers.WorkerIdentity = field(default_factory=lambda: workers.identity("once"))

    @property
    def lease_s(self) -> float:
        """How long a claim on a feed holds unrenewed (``[monitor] worker_lease``)."""
        return self.config.monitor.worker_lease_s


class StoryWindow:
    """This process's story clusterer (:mod:`monitor.stories`), made on first use from
    the articles of the window stored before (a restart, or a ``run --once`` after
    another, goes on with the stories it left), and made again when ``story_window``
    changes. Used on the store thread only (one cycle at a time)."""

    def __init__(self) -> None:
        self.clusterer: StoryClusterer | None = None
        self.window_s = 0.0
        self.high_water = 0  # the highest article id the window has seen

    def get(self, session: Session, window_s: float, now: datetime) -> StoryClusterer:
        """The clusterer, restored from the database when there is none yet."""
        if self.clusterer is None or self.window_s != window_s:
            started = time.monotonic()
            window = timedelta(seconds=window_s)
            clusterer = StoryClusterer(StoryParams(window=window))
            skipped = 0
            for a in window_articles(session, now, window):
                self.high_water = max(self.high_water, a.id)
                doc = StoryDoc(
                    a.id, a.outlet, a.language, a.title, a.text, a.canonical_link, a.published
                )
                try:
                    clusterer.restore(doc, a.story_id)
                except Exception:  # noqa: BLE001 - one stored article must not stop them all
                    skipped += 1  # it stays out of the window; later articles start afresh
            self.clusterer, self.window_s = clusterer, window_s
            took_ms = int((time.monotonic() - started) * 1000)
            event(
                log,
                "stories.restored",
                logging.INFO if took_ms > 1000 else logging.DEBUG,  # news only when slow
                articles=len(clusterer),
                skipped=skipped,
                window_s=int(window_s),
                duration_ms=took_ms,
            )
        return self.clusterer

    def catch_up(self, session: Session, now: datetime) -> None:
        """Take in what other workers stored since the window last looked: an article
        another worker stored is a story this worker's next article may join. Reads the
        ids above the highest one this window has seen, less a margin (ids are handed
        out before commit: a slower transaction commits a lower id later); the ones it
        knows are skipped. Used only while other workers are alive."""
        clusterer = self.clusterer
        if clusterer is None:
            return
        window = timedelta(seconds=self.window_s)
        taken = 0
        after = self.high_water - CATCH_UP_MARGIN
        for a in window_articles(session, now, window, after=after):
            self.high_water = max(self.high_water, a.id)
            if a.id in clusterer:
                continue
            doc = StoryDoc(
                a.id, a.outlet, a.language, a.title, a.text, a.canonical_link, a.published
            )
            try:
                clusterer.restore(doc, a.story_id)
            except Exception:  # noqa: BLE001 - one stored article must not stop them all
                continue
            taken += 1
        if taken:
            event(log, "stories.caught_up", logging.DEBUG, articles=taken)

    def forget(self, ids: list[int]) -> None:
        """The articles of a transaction that failed: their ids may be given again."""
        if self.clusterer is not None:
            for article_id in ids:
                self.clusterer.forget(article_id)


async def poll_cycle(
    rt: Runtime, now: datetime | None = None, *, all_feeds: bool = False
) -> CycleReport:
    """Poll every due feed (every active feed with ``all_feeds``) once, concurrently.

    Feeds are claimed a batch at a time (:func:`monitor.store.workers.claim_feeds`):
    other workers on the database take the rest, and a feed another worker is polling
    is left to it. With ``all_feeds`` (``run --once``) every feed not checked since this
    cycle began is taken, so each is polled once however the cycles of several
    ``run --once`` overlap.

    ``now`` (default: the current time) is the cycle's one clock: every feed's fetch,
    articles, matches, scheduling and notices are stamped with it; only durations and
    leases are measured on the real clock."""
    now = now or utcnow()
    started = time.monotonic()
    claims = _Claims(rt, now, all_feeds)
    # The write lock first: a locked database fails the cycle here, before any fetch.
    with session_scope(rt.session_factory, write=True) as session:
        sync_feeds(session, rt.config.feeds, now)
        workers.heartbeat(session, rt.worker, utcnow())
        shared = workers.others_alive(session, rt.worker, utcnow(), rt.lease_s) > 0
        first = claims.take(session, first=True)
    outcomes: list[FeedOutcome] = []
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store") as store:
            async with FeedClient(rt.config.fetch) as client:
                cycle = _Cycle(rt, client, store, now, _Abort(), shared)
                outcomes = await _poll_all(cycle, claims, first)
    except DatabaseError:
        # No bookkeeping write after the database failed: it would wait the busy timeout
        # (or the connection) again. The leases lapse, or this worker's next cycle takes
        # them back first.
        raise
    except BaseException:
        _end_cycle(rt, claims, outcomes, started)  # cancelled: give the feeds back now
        raise
    _end_cycle(rt, claims, outcomes, started)
    due = [s.next_check_at for s in claims.states if s.next_check_at is not None]
    lag_s = max(0.0, (now - min(due)).total_seconds()) if due else 0.0
    order = {s.url: i for i, s in enumerate(claims.states)}
    report = CycleReport(
        outcomes=tuple(sorted(outcomes, key=lambda o: order.get(o.url, 0))),
        started=now,
        duration_ms=int((time.monotonic() - started) * 1000),
        lag_s=lag_s,
    )
    event(
        log,
        "cycle.finished",
        logging.INFO if outcomes else logging.DEBUG,  # an idle tick is not news
        feeds=len(outcomes),
        new=report.new,
        alerts=report.alerts,
        failed=report.failed,
        duration_ms=report.duration_ms,
        shared=shared,  # other workers were alive: they polled the feeds this one did not
    )
    return report


class _Claims:
    """The feeds one cycle takes, a batch at a time: how many, which, and whether the
    database has more for it."""

    def __init__(self, rt: Runtime, now: datetime, all_feeds: bool) -> None:
        self.rt, self.now, self.all_feeds = rt, now, all_feeds
        self.batch = max(MIN_CLAIM, 4 * rt.config.fetch.concurrency)
        self.states: list[FeedState] = []
        self.exhausted = False

    def take(self, session: Session, *, first: bool = False) -> list[FeedState]:
        """Claim the next batch (in the caller's transaction); the states of those this
        config lists. The first claim of a cycle also takes back this worker's own
        leases (a cycle that ended on a database failure left them)."""
        if self.exhausted:
            return []
        if first:
            reaped = workers.reap_dead_here(
                session, self.rt.worker, utcnow(), jobs=(workers.DELIVERY_LEASE,)
            )
            if reaped:  # a killed predecessor on this host: its feeds are free at once
                event(log, "cycle.reaped", logging.INFO, workers=",".join(reaped)[:400])
        ids = workers.claim_feeds(
            session,
            self.rt.worker.id,
            utcnow(),
            self.rt.lease_s,
            self.batch,
            due_at=None if self.all_feeds else self.now,
            checked_before=self.now if self.all_feeds else None,
            own=first,
        )
        self.exhausted = len(ids) < self.batch
        listed = {f.url for f in self.rt.config.feeds}
        states = feed_states_of(session, ids)
        foreign = [s.id for s in states if s.url not in listed]  # another worker's config
        workers.release_feeds(session, self.rt.worker.id, foreign)
        fresh = [s for s in states if s.url in listed]
        self.states.extend(fresh)
        return fresh

    def take_more(self) -> list[FeedState]:
        with session_scope(self.rt.session_factory, write=True) as session:
            return self.take(session)


def _end_cycle(rt: Runtime, claims: _Claims, outcomes: list[FeedOutcome], started: float) -> None:
    """Give back what the cycle still holds (feeds whose poll was cancelled or could not
    be recorded) and write this worker's last cycle. Best effort: when the database is
    what failed, the leases lapse by themselves."""
    try:
        with session_scope(rt.session_factory) as session:
            workers.release_feeds(session, rt.worker.id)
            workers.record_cycle(
                session,
                rt.worker,
                utcnow(),
                feeds=len(outcomes),
                new=sum(o.new for o in outcomes),
                ms=int((time.monotonic() - started) * 1000),
            )
    except Exception as exc:  # noqa: BLE001 - the cycle's own error (if any) is what matters
        event(log, "cycle.release_failed", logging.WARNING, error=repr(exc)[:MAX_INTERNAL_MESSAGE])


async def _poll_all(cycle: _Cycle, claims: _Claims, first: list[FeedState]) -> list[FeedOutcome]:
    """Poll the claimed feeds concurrently, claiming the next batch when fewer than half
    a batch are still in flight, and renewing the leases held while the polls run.

    The first exception out of one poll (a :class:`DatabaseError`: the others are caught
    per feed) ends the cycle: the other polls are cancelled and awaited (their fetches
    abandoned, their database work not started), then it propagates. ``gather`` alone
    let them run on, each waiting the busy timeout in turn while the store thread was
    shut down."""
    rt = cycle.rt
    feeds = {f.url: f for f in rt.config.feeds}
    tasks: set[asyncio.Future[FeedOutcome]] = set()
    outcomes: list[FeedOutcome] = []
    renewer = asyncio.ensure_future(_keep_leases(rt))

    def spawn(states: list[FeedState]) -> None:
        tasks.update(asyncio.ensure_future(_poll_one(cycle, feeds[s.url], s)) for s in states)

    try:
        spawn(first)
        while tasks:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                tasks.discard(task)
                outcomes.append(task.result())  # a DatabaseError ends the cycle
            if not claims.exhausted and len(tasks) < claims.batch // 2:
                spawn(await cycle.db(claims.take_more))
    except BaseException as exc:
        unfinished = [task for task in tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(exc, DatabaseError):
            event(
                log,
                "cycle.aborted",
                logging.WARNING,
                feeds=len(outcomes) + len(tasks),
                given_up=len(unfinished),
                error=str(exc)[:MAX_INTERNAL_MESSAGE],
            )
        raise
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
    return outcomes


async def _keep_leases(rt: Runtime) -> None:
    """While the cycle runs, renew its leases every third of a lease, on a thread of its
    own: behind the store thread's queue (a batch of feeds being stored and matched) a
    renewal came too late and another worker took feeds this one was still polling."""
    every = rt.lease_s / 3
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(_renew, rt)
        except Exception as exc:  # noqa: BLE001 - the cycle's own database work will say it
            event(
                log, "worker.renew_failed", logging.WARNING, error=repr(exc)[:MAX_INTERNAL_MESSAGE]
            )


def _renew(rt: Runtime) -> None:
    """Extend this worker's leases: its polls are still running."""
    with session_scope(rt.session_factory) as session:
        workers.renew(session, rt.worker, utcnow(), rt.lease_s)


class _Abort:
    """The first :class:`DatabaseError` of a cycle; once set, the cycle's other
    database work raises it at once instead of waiting on the database again."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: DatabaseError | None = None


@dataclass(frozen=True, slots=True)
class _Cycle:
    """What every feed of one cycle shares: the runtime, the HTTP client, the store
    thread, the cycle's one clock and its first database failure."""

    rt: Runtime
    client: FeedClient
    store: ThreadPoolExecutor
    now: datetime
    abort: _Abort
    shared: bool = False  # other workers are alive: the story window takes in their articles

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` (database work, matching) on the store thread, off the event loop;
        after the cycle's first :class:`DatabaseError`, raise that instead."""
        loop = asyncio.get_running_loop()
        job = functools.partial(fn, *args, **kwargs)
        return await loop.run_in_executor(self.store, functools.partial(self._guarded, job))

    def _guarded(self, job: Callable[[], T]) -> T:
        """On the store thread, which runs one job at a time: only the first job that
        meets a locked database waits its busy timeout. (Cancelling the other feeds
        drops their queued jobs, but the thread may already have taken the next one
        before the event loop hears of the failure.)"""
        if self.abort.error is not None:
            raise self.abort.error
        try:
            return job()
        except DatabaseError as exc:
            self.abort.error = exc
            raise


class _Stage:
    """Where one feed's poll is, for the message of an unexpected error."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = "fetching"


async def _poll_one(cycle: _Cycle, feed: FeedConfig, state: FeedState) -> FeedOutcome:
    """Poll one feed; whatever it raises becomes its recorded failure, never the cycle's."""
    started = time.monotonic()
    stage = _Stage()
    try:
        outcome = await poll_feed(cycle, feed, state, stage)
    except FetchError as exc:
        outcome = await _failed(cycle, feed, state, exc, started)
    except DatabaseError:
        raise  # the database (disk full, corrupted, unreachable) fails the cycle, not the feed
    except Exception as exc:  # one feed's bug or unforeseen input never stops the others
        event(
            log,
            "feed.internal_error",
            logging.ERROR,
            exc_info=exc,
            feed_url=feed.url,
            stage=stage.name,
            error=repr(exc)[:MAX_INTERNAL_MESSAGE],
        )
        outcome = await _failed(cycle, feed, state, internal_error(exc, stage.name), started)
    _observe(cycle.rt.on_feed, outcome)
    return outcome


def internal_error(exc: BaseException, stage: str) -> FetchError:
    """An unexpected exception as the feed's ``internal`` failure: one printable line."""
    # Bounded before masking (a hostile message may be megabytes), but with room to spare:
    # a secret that straddles the final cut is masked whole before the cut, not half-shown.
    detail = printable(mask_text(str(exc)[: 4 * MAX_INTERNAL_MESSAGE]), MAX_INTERNAL_MESSAGE)
    return FetchError(
        "internal",
        f"unexpected {type(exc).__name__} while {stage}"
        + (f": {detail}" if detail else "")
        + " (a press-monitor bug or an input it cannot handle; the traceback is in the"
        " log as feed.internal_error; the other feeds go on)",
    )


def _observe(hook: Callable[[FeedOutcome], None] | None, outcome: FeedOutcome) -> None:
    """Call the metrics hook; a failing hook is logged, never the feed's failure."""
    if hook is None:
        return
    try:
        hook(outcome)
    except Exception as exc:
        event(log, "metrics.hook_failed", logging.WARNING, exc_info=exc, feed_url=outcome.url)


async def _failed(
    cycle: _Cycle, feed: FeedConfig, state: FeedState, exc: FetchError, started: float
) -> FeedOutcome:
    """Record ``exc`` on the feed. A :class:`DatabaseError` while recording fails the
    cycle (re-raised); any other failure to record is logged and the feed reported
    failed, and the cycle goes on."""
    duration_ms = int((time.monotonic() - started) * 1000)
    try:
        return await cycle.db(_record_failure, cycle.rt, feed, state, exc, duration_ms, cycle.now)
    except DatabaseError:
        raise
    except Exception as db_exc:
        event(
            log,
            "feed.failure_not_recorded",
            logging.ERROR,
            exc_info=db_exc,
            feed_url=feed.url,
            error_kind=exc.kind,
            error=exc.message,
        )
        return FeedOutcome(
            url=feed.url,
            status="error",
            error_kind=exc.kind,
            error=exc.message,
            duration_ms=duration_ms,
        )


async def poll_feed(
    cycle: _Cycle, feed: FeedConfig, state: FeedState, stage: _Stage | None = None
) -> FeedOutcome:
    """Fetch, parse, normalise, store, match one feed as of the cycle's clock; raise
    FetchError on failure (``stage`` tracks where it is, for unexpected errors)."""
    stage = stage or _Stage()
    rt, now = cycle.rt, cycle.now
    started = time.monotonic()
    fstate = FetchState(
        etag=state.etag,
        last_modified=state.last_modified,
        body_hash=state.body_hash,
        last_forced_at=state.last_forced_at,
    )
    result = await cycle.client.fetch(feed, fstate, now)
    if result.status == "not_modified" or result.body is None:
        stage.name = "recording a not-modified answer"
        return await cycle.db(_record_not_modified, rt, feed, state, result, started, now)
    if result.moved_to:
        # Every redirect was permanent: the operator should update the config.
        event(log, "feed.moved", logging.WARNING, feed_url=feed.url, moved_to=result.moved_to)
    stage.name = "parsing"
    parsed = await rt.parse_pool.parse(
        result.body, result.content_type, result.final_url or feed.url
    )
    stage.name = "normalising entries"
    articles = [_with_language(a) for a in normalize_entries(parsed, feed, now)]
    if feed.full_text:
        stage.name = "fetching full text"
        articles = await _with_full_text(cycle, feed, state, articles)
    stage.name = "storing and matching"
    return await cycle.db(
        _store_and_match, rt, feed, state, result, parsed, articles, started, now, cycle.shared
    )


async def _with_full_text(
    cycle: _Cycle, feed: FeedConfig, state: FeedState, articles: list[Article]
) -> list[Article]:
    """Fetch and extract the page of each article not stored yet (same bounds as feeds)."""
    client, now = cycle.client, cycle.now
    fresh = {a.guid for a in await cycle.db(_unseen, cycle.rt, state, articles)}

    async def one(article: Article) -> Article:
        if article.guid not in fresh or not article.link:
            return article
        try:
            page = await fetch_article_async(
                client, article.link, now=now, feed=feed, extract=cycle.rt.parse_pool.extract
            )
        except FetchError as exc:
            event(
                log,
                "article.full_text_failed",
                logging.WARNING,
                feed_url=state.url,
                link=article.link,
                error_kind=exc.kind,
                error=exc.message,
            )
            return article
        article = _with_canonical(article, page.canonical)
        if page.text and page.text not in article.text:
            return replace(article, text=f"{article.text}\n\n{page.text}".strip())
        return article

    return list(await asyncio.gather(*(one(a) for a in articles)))


def _with_language(article: Article) -> Article:
    """The article with a language: its feed's configured one, else the matcher's guess
    from its letters (uk/ru/en: the guess the matcher makes for a rule's `languages`
    anyway), so that stories say "also reported by 3 outlets (uk, ru, en)" without a
    `language` on every feed. A feed's own <language> is not believed: outlets declare
    "en-us" on Ukrainian feeds."""
    if article.language:
        return article
    guess = detect_language(f"{article.title[:500]}\n{article.text[:4000]}")  # what it reads
    return replace(article, language=guess) if guess else article


def _with_canonical(article: Article, named: str | None) -> Article:
    """The article with the canonical link its page names (``rel=canonical``), when that
    is on the same site as the link the feed gave (folded: ``m.``, ``amp.``, ``www.``): a
    page cannot make itself another site's article, which would hide that one."""
    claimed = canonical_url(named)
    if claimed is None or article.canonical_link is None or claimed == article.canonical_link:
        return article
    if len(claimed) > MAX_CANONICAL_CHARS:  # it would not fit its column: ignored
        return article
    if urlsplit(claimed).hostname != urlsplit(article.canonical_link).hostname:
        return article
    return replace(article, canonical_link=claimed)


def _unseen(rt: Runtime, state: FeedState, articles: list[Article]) -> list[Article]:
    with session_scope(rt.session_factory) as session:
        return unseen_articles(session, state.id, articles)


def _store_and_match(
    rt: Runtime,
    feed: FeedConfig,
    state: FeedState,
    result: FetchResult,
    parsed: ParsedFeed,
    articles: list[Article],
    started: float,
    now: datetime,
    shared: bool = False,
) -> FeedOutcome:
    """In ONE transaction: store the new articles, match each against every rule
    (recording matches and outbox rows), and record the feed's success. ``shared``:
    other workers store articles too; the story window first takes in theirs."""
    rules = {r.name: r for r in rt.config.rules}
    assigned: list[int] = []
    try:
        with session_scope(rt.session_factory) as session:
            # the window as stored before this feed's articles (a restore reads it)
            clusterer = rt.stories.get(session, rt.config.monitor.story_window_s, now)
            if shared:
                rt.stories.catch_up(session, now)
            edited = _apply_edits(session, feed, state, articles, now)
            new = insert_new_articles(session, state, articles, now=now, backlog_s=feed.backlog_s)
            new = [_place_in_story(clusterer, session, feed, state.id, a, assigned) for a in new]
            alerts = sum(_match_article(rt, session, a, rules, now) for a in [*edited, *new])
            fresh = _store_success(session, feed, state, result, parsed, now, rt.worker.id)
            _notify_recovered(rt, session, state, now)
    except BaseException:
        rt.stories.forget(assigned)  # nothing of this transaction was stored
        raise
    duration_ms = int((time.monotonic() - started) * 1000)
    event(
        log,
        "feed.polled",
        feed_url=feed.url,
        status="ok",
        entries=len(articles),
        new=len(new),
        edited=len(edited),
        alerts=alerts,
        warning=parsed.warning or "",
        duration_ms=duration_ms,
        next_check=fresh.next_check_at.isoformat() if fresh.next_check_at else "",
    )
    return FeedOutcome(
        url=feed.url,
        status="ok",
        new=len(new),
        alerts=alerts,
        duration_ms=duration_ms,
        backlog=sum(not a.alertable for a in new),
    )


def _store_success(
    session: Session,
    feed: FeedConfig,
    state: FeedState,
    result: FetchResult,
    parsed: ParsedFeed,
    now: datetime,
    owner: str | None = None,
) -> FeedState:
    """Store the fetch's validators and schedule the next check (server hints honoured);
    give the feed's lease back."""
    hints = [h for h in (result.max_age_s, parsed.ttl_s) if h]
    return record_success(
        session,
        state.id,
        title=parsed.title,
        etag=result.etag,
        last_modified=result.last_modified,
        body_hash=result.body_hash,
        warning=parsed.warning,
        next_check=next_check(now, feed.interval_s, failures=0, hints_s=hints),
        now=now,
        forced=result.forced,
        owner=owner,
    )


def _apply_edits(
    session: Session, feed: FeedConfig, state: FeedState, articles: list[Article], now: datetime
) -> list[StoredArticle]:
    """Update in place the stored articles whose entries say something else now (their
    former headlines kept), to be matched again; an entry only re-sent with a new
    timestamp or counter is no edit (:mod:`monitor.normalize.change`)."""
    out = []
    for row_id, article in edited_articles(session, state.id, articles):
        old = session_title(session, row_id)
        stored = apply_edit(
            session,
            state,
            row_id,
            article,
            now,
            new_title=title_changed(old, article.title),
            keep_text=feed.full_text,  # its stored text holds the page, not the entry
        )
        event(
            log,
            "article.edited",
            feed_url=feed.url,
            article_id=row_id,
            new_title=stored.title_changed,
        )
        out.append(stored)
    return out


def _place_in_story(
    clusterer: StoryClusterer,
    session: Session,
    feed: FeedConfig,
    feed_id: int,
    article: StoredArticle,
    assigned: list[int],
) -> StoredArticle:
    """Put a newly stored article in its story (a copy, another outlet's report, the
    other-language edition of one already stored) and record it; the article back, with
    its story. A clusterer failure on one hostile article leaves it a story of its own."""
    doc = StoryDoc(
        id=article.id,
        outlet=feed.url,
        language=article.language,
        title=article.title,
        text=article.text,
        link=article.canonical_link,
        published=story_time(
            article.published,
            article.first_seen,
            timedelta(seconds=clusterer.params.window.total_seconds()),
        ),
    )
    try:
        clusterer.forget(article.id)  # a new row: an entry of that id is a stale one
        found = clusterer.assign(doc)
    except Exception as exc:  # noqa: BLE001 - one article's bug must not stop the feed
        event(log, "story.failed", logging.ERROR, exc_info=exc, article_id=article.id)
        return article
    assigned.append(article.id)
    if found.story_id == article.id or not story_exists(session, found.story_id):
        return article  # its own story (or one the database no longer has: pruned)
    set_story(session, article.id, found.story_id, found.reason, found.score)
    event(
        log,
        "story.joined",
        logging.DEBUG,
        article_id=article.id,
        story_id=found.story_id,
        reason=found.reason,
        score=round(found.score, 2),
    )
    return replace(article, story_id=found.story_id)


def _match_article(
    rt: Runtime,
    session: Session,
    article: StoredArticle,
    rules: Mapping[str, RuleConfig],
    now: datetime,
) -> int:
    """Match one new article against every rule; record the matches; return alerts queued."""
    if not article.alertable:
        return 0
    document, cut = bound_document(
        Document(title=article.title, text=article.text, language=article.language)
    )
    if cut:  # the matcher's cost is bounded by reading a prefix of a huge article
        event(
            log,
            "article.match_truncated",
            logging.WARNING,
            feed_url=article.feed_url,
            article_id=article.id,
            text_chars=len(article.text),
            matched_chars=len(document.text),
            title_chars=len(article.title),
            matched_title_chars=len(document.title),
        )
    started = time.monotonic()
    matches = rt.config.matcher.match(document)
    match_ms = int((time.monotonic() - started) * 1000)
    if match_ms > SLOW_MATCH_MS:
        event(
            log,
            "article.match_slow",
            logging.WARNING,
            feed_url=article.feed_url,
            article_id=article.id,
            text_chars=len(document.text),
            duration_ms=match_ms,
        )
    for m in matches:
        event(
            log,
            "rule.matched",
            rule=m.rule,
            feed_url=article.feed_url,
            article_id=article.id,
            link=article.link or "",
            surfaces=",".join(sorted({e.surface for e in m.evidence})),
        )
        if rt.on_match:
            rt.on_match(m.rule)
    replies = [c.name for c in rt.config.channels.values() if c.story_updates == "reply"]
    return record_matches(session, article, matches, rules, now, replies)


def _record_not_modified(
    rt: Runtime,
    feed: FeedConfig,
    state: FeedState,
    result: FetchResult,
    started: float,
    now: datetime,
) -> FeedOutcome:
    """Nothing new (304 or an identical body): schedule the next check."""
    hints = [result.max_age_s] if result.max_age_s else []
    with session_scope(rt.session_factory) as session:
        record_not_modified(
            session,
            state.id,
            now=now,
            forced=result.forced,
            next_check=next_check(now, feed.interval_s, failures=0, hints_s=hints),
            owner=rt.worker.id,
        )
        _notify_recovered(rt, session, state, now)
    duration_ms = int((time.monotonic() - started) * 1000)
    event(
        log, "feed.polled", feed_url=feed.url, status="not_modified", new=0, duration_ms=duration_ms
    )
    return FeedOutcome(url=feed.url, status="not_modified", duration_ms=duration_ms)


def _record_failure(
    rt: Runtime,
    feed: FeedConfig,
    state: FeedState,
    exc: FetchError,
    duration_ms: int,
    now: datetime,
) -> FeedOutcome:
    """Record the classified error on the feed, back off, maybe notify the operator."""
    fresh = _store_failure(rt, feed, state, exc, now)
    event(
        log,
        "feed.failed",
        logging.WARNING,
        feed_url=feed.url,
        status="error",
        error_kind=exc.kind,
        error=exc.message,
        failures=fresh.failures,
        next_check=fresh.next_check_at.isoformat() if fresh.next_check_at else "",
        duration_ms=duration_ms,
    )
    return FeedOutcome(
        url=feed.url,
        status="error",
        error_kind=exc.kind,
        error=exc.message,
        duration_ms=duration_ms,
    )


def _store_failure(
    rt: Runtime, feed: FeedConfig, state: FeedState, exc: FetchError, now: datetime
) -> FeedState:
    """In one transaction: the error and the backed-off next check (a Retry-After is
    honoured), and the operator notice if the feed is now broken."""
    hints = [exc.retry_after_s] if exc.retry_after_s else []
    with session_scope(rt.session_factory) as session:
        fresh = record_failure(
            session,
            state.id,
            exc,
            now=now,
            next_check=next_check(now, feed.interval_s, failures=state.failures + 1, hints_s=hints),
            owner=rt.worker.id,
        )
        _notify_broken(rt, session, fresh, exc, now)
    return fresh


def _notify_broken(
    rt: Runtime, session: Session, state: FeedState, exc: FetchError, now: datetime
) -> None:
    """One operator notice when a feed has failed longer than the threshold (no storm)."""
    channel = rt.config.monitor.operator_channel
    if not channel or state.broken_notified_at is not None or state.error_since is None:
        return
    if not is_feed_broken(state.error_since, now, rt.config.monitor.feed_broken_after_s):
        return
    notice = notices.feed_broken(
        source=state.source,
        url=state.url,
        error_since=state.error_since,
        kind=exc.kind,
        message=exc.message,
        tz=rt.config.monitor.timezone,
    )
    enqueue_operator_notice(session, notice.key, notice.title, notice.body, channel, now)
    set_broken_notified(session, state.id, now)
    event(log, "feed.broken_notified", logging.WARNING, feed_url=state.url, error_kind=exc.kind)


def _notify_recovered(rt: Runtime, session: Session, state: FeedState, now: datetime) -> None:
    """One operator notice when a feed reported broken works again."""
    channel = rt.config.monitor.operator_channel
    if not channel or state.broken_notified_at is None:
        return
    notice = notices.feed_recovered(source=state.source, url=state.url, now=now)
    enqueue_operator_notice(session, notice.key, notice.title, notice.body, channel, now)
    set_broken_notified(session, state.id, None)
