"""The daemon: APScheduler ticks, the database says what is due.

Three jobs: ``poll`` (one :func:`monitor.pipeline.poll_cycle` over the due feeds, on a
short tick), ``deliver`` (:func:`monitor.delivery.deliver_due`) and ``housekeeping``
(retention and optimisation, every few hours), each at most one at a time. The main
thread only waits for signals: SIGTERM/SIGINT stop taking new work, cancel in-flight
fetches after ``shutdown_timeout`` and exit 0; SIGHUP (or an edit of the file, with
``watch_config``) re-reads the config, validated first: an invalid file leaves the
old config running and the log says exactly what is wrong.

systemd: READY=1 after migrations and config load, STATUS= after every cycle,
WATCHDOG=1 only while poll cycles make progress (:class:`monitor.daemon.sdnotify.WatchdogGate`),
RELOADING=1 / READY=1 around a reload, STOPPING=1 on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.config import Config, load_config
from monitor.daemon.health import HealthServer, Metrics
from monitor.daemon.sdnotify import Notifier, WatchdogGate, WatchdogPinger
from monitor.errors import ConfigError, DatabaseBusyError, DatabaseError
from monitor.log import event
from monitor.parse.pool import ParsePool
from monitor.pipeline import CycleReport, FeedOutcome, Runtime, poll_cycle, utcnow
from monitor.secrets import mask_text
from monitor.store import db, state, views, workers
from monitor.store.db import session_scope
from monitor.store.feeds import sync_feeds

if TYPE_CHECKING:
    from monitor.delivery import DeliveryReport

log = logging.getLogger(__name__)
HOUSEKEEPING_EVERY_S = 6 * 3600
WORKERS_KEPT_DAYS = 7  # a worker not heard from for this long leaves `monitor status`
RUN_ONCE_DELIVERY_WAIT_S = 60.0  # run --once waits this long for another worker's delivery
# How long the daemon's writes wait for another process's lock. Its own transactions
# last milliseconds, and a cycle that gives up is tried again on the next tick, so
# waiting longer buys nothing; it is one of the parts of the bound on a cycle
# under a locked database (docs/operations.md, "A locked database").
BUSY_TIMEOUT_S = 10.0


# [monitor] keys a reload cannot apply: the database engine and the health server are
# made at start. A reload keeps their old values and logs that they need a restart.
RESTART_KEYS = ("database", "http", "http_public")


class Daemon:
    """One running press-monitor: config, database, scheduler, signals, health."""

    def __init__(self, config: Config, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.engine = db.make_engine(config.monitor.database, busy_timeout_s=BUSY_TIMEOUT_S)
        db.upgrade(self.engine)  # an empty or old database is migrated at start
        self.session_factory = db.make_session_factory(self.engine)
        self.parse_pool = ParsePool(max_workers=2, timeout_s=config.fetch.parse_timeout_s)
        self.metrics = Metrics(alert_source=lambda: views.alert_counts(self.session_factory))
        self.runtime = Runtime(
            config=config,
            session_factory=self.session_factory,
            parse_pool=self.parse_pool,
            on_feed=self._observe_feed,
            on_match=self.metrics.matched,
        )
        self.notifier = Notifier(self.environ)
        self.gate = WatchdogGate(
            max(600.0, 10 * config.fetch.timeout_s),
            idle_limit_s=max(600.0, 10 * config.monitor.tick_s),
            created_at=time.monotonic(),
        )
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cycle_task: asyncio.Task[None] | None = None
        self.last_report: CycleReport | None = None
        self.last_delivery: DeliveryReport | None = None  # of the last run_once
        self._cancelled = False
        self._scheduler: BackgroundScheduler | None = None

    # -- one-shot ------------------------------------------------------------------
    def run_once(self, *, sole: bool = False) -> CycleReport:
        """Poll every feed once, deliver what is due, return the cycle report (what the
        delivery did is kept in :attr:`last_delivery`).

        ``sole``: no daemon runs on this database, so every row left in ``sending`` was
        a killed process's and is sent again now rather than after the lease."""
        from monitor.delivery import deliver_due

        try:
            report = asyncio.run(poll_cycle(self.runtime, all_feeds=True))
            # Unguarded, unlike the job: a database fault ends `run --once` with exit 1.
            config, me = self.runtime.config, self.runtime.worker.id
            # Another worker delivering now is waited for: what this run queued goes out
            # before it says what was delivered.
            wait_s = RUN_ONCE_DELIVERY_WAIT_S
            if sole:
                delivery = deliver_due(
                    self.session_factory, config, utcnow(), lease_s=0.0, worker=me, wait_s=wait_s
                )
            else:
                delivery = deliver_due(
                    self.session_factory, config, utcnow(), worker=me, wait_s=wait_s
                )
            self.last_delivery = delivery
        except DatabaseError:
            raise  # no goodbye written to a database that failed: its row goes quiet instead
        except BaseException:
            self._worker_stopped()
            raise
        self._worker_stopped()
        return report

    def _worker_stopped(self) -> None:
        """Tell the other workers this one is gone (its leases lapse now, not later)."""
        try:
            with session_scope(self.session_factory) as session:
                workers.stopped(session, self.runtime.worker, utcnow())
        except Exception as exc:  # noqa: BLE001 - the database may be what failed
            event(log, "worker.stop_not_recorded", logging.WARNING, error=repr(exc)[:300])

    # -- jobs -----------------------------------------------------------------------
    def poll(self) -> None:
        """The ``poll`` job: one cycle over the due feeds (cancellable on shutdown).

        A cycle that raises (the database cannot be read) or in which every feed failed
        inside press-monitor counts as failed: logged, written to ``daemon.problem``
        for ``monitor status``, and after a few in a row ``/healthz`` answers 503 and
        the watchdog stops being pinged (:class:`WatchdogGate`). A database locked by
        another process fails the cycle within the busy timeout of its first write
        (``cycle.db_busy``; the pipeline gives up the rest of the cycle's work)."""
        if self.stop_event.is_set():
            return
        self.gate.cycle_started(time.monotonic())
        try:
            asyncio.run(self._poll())
            if self._cancelled:
                return
            verdict = self._verdict()
            line = self._after_cycle(verdict)  # may raise (the database): the cycle failed
            self._judge_cycle(verdict)
            unhealthy = self.gate.problem(time.monotonic())
            self.notifier.status((f"UNHEALTHY: {unhealthy}; " if unhealthy else "") + line)
        except DatabaseBusyError as exc:
            # Another process holds the database's lock: this cycle stored nothing (its
            # feeds stay due and are fetched again) and the problem cannot be written
            # either, under the same lock: only the log, STATUS= and /healthz say it.
            reason = f"{type(exc).__name__}: {mask_text(str(exc))}"[:300]
            event(log, "cycle.db_busy", logging.ERROR, error=reason, busy_timeout_s=BUSY_TIMEOUT_S)
            self._cycle_failed(reason, record=False, database=True)
            return
        except Exception as exc:
            reason = f"{type(exc).__name__}: {mask_text(str(exc))}"[:300]
            # A DatabaseError is already classified and says what to do: no traceback for it
            # on every tick; anything else is a bug, whose traceback is wanted.
            trace = None if isinstance(exc, DatabaseError) else exc
            event(log, "cycle.failed", logging.ERROR, exc_info=trace, error=reason)
            self._cycle_failed(reason, database=isinstance(exc, DatabaseError))
            return
        if self.last_report is not None and self.last_report.alerts and self._scheduler:
            self._scheduler.modify_job("deliver", next_run_time=utcnow())  # new alerts: now

    def _verdict(self) -> tuple[Literal["ok", "idle", "failed"], str | None]:
        """What the cycle that returned came to: its work done, nothing due, or failed
        (and why). Pure: the gate is told only once the bookkeeping has succeeded."""
        report = self.last_report
        problem = report.problem if report is not None else None
        if problem:
            return "failed", problem
        return ("idle", None) if report is not None and not report.outcomes else ("ok", None)

    def _judge_cycle(self, verdict: tuple[Literal["ok", "idle", "failed"], str | None]) -> None:
        """Tell the gate whether the cycle that returned did its work."""
        kind, problem, now = verdict[0], verdict[1], time.monotonic()
        if kind == "failed" and problem:
            event(log, "cycle.failed", logging.ERROR, error=problem)
            self.gate.cycle_failed(now, problem)
        elif kind == "idle":
            self.gate.cycle_idle(now)
        else:
            self.gate.cycle_finished(now)

    def _cycle_failed(self, reason: str, *, record: bool = True, database: bool = False) -> None:
        """A cycle raised (``database``: a DatabaseError): tell the gate, systemd and
        (with ``record``, if it can be written) the database."""
        self.gate.cycle_failed(time.monotonic(), reason, database=database)
        problem = self.gate.problem(time.monotonic())
        self.notifier.status(
            f"UNHEALTHY: {problem}" if problem else f"last poll cycle failed: {reason}"
        )
        if not record:
            return
        try:  # the database may be what failed: then `monitor status` sees a stale heartbeat
            state.record_problem(self.session_factory, utcnow(), reason)
        except Exception as exc:
            event(log, "cycle.problem_not_recorded", logging.WARNING, error=repr(exc)[:300])

    async def _poll(self) -> None:
        self._cancelled = False
        self._loop = asyncio.get_running_loop()
        self._cycle_task = asyncio.current_task()
        try:
            self.last_report = await poll_cycle(self.runtime)
        except asyncio.CancelledError:
            self._cancelled = True
            event(log, "cycle.cancelled", logging.WARNING)
        finally:
            self._cycle_task = None

    def _after_cycle(self, verdict: tuple[Literal["ok", "idle", "failed"], str | None]) -> str:
        """Heartbeat and metrics after a cycle that returned; the ``STATUS=`` line's tail."""
        now = utcnow()
        kind, problem = verdict
        # The problem as it will stand once the gate is told: this cycle's, a streak that
        # an idle tick carries on (not the database's: this heartbeat shows it works), or
        # none after a good cycle.
        shown = problem if kind == "failed" else None
        if kind == "idle":
            shown = self.gate.failure_after_idle
        state.record_heartbeat(self.session_factory, now, os.getpid(), shown)
        report = self.last_report
        if report is not None:
            self.metrics.cycle_completed(report.duration_ms / 1000, now.timestamp())
            self.metrics.set_cycle_lag(report.lag_s)
        feeds = views.feed_status_counts(
            self.session_factory, now, broken_after_s=self.config.monitor.feed_broken_after_s
        )
        self.metrics.set_feed_status_counts(feeds)
        lease_s = self.config.monitor.worker_lease_s
        self.metrics.set_workers(
            views.worker_list(self.session_factory, now, since=now - timedelta(days=1)),
            now,
            lease_s,
        )
        pending = sum(
            n
            for (status, _), n in views.alert_counts(self.session_factory).items()
            if status in ("pending", "sending")
        )
        return (
            f"feeds ok {feeds['ok']}, failing {feeds['failing']}, backing off "
            f"{feeds['backing_off']}, broken {feeds['broken']}, new {feeds['new']}; "
            f"alerts pending {pending}; "
            f"last cycle {now:%H:%M:%S} UTC"
        )

    def _observe_feed(self, outcome: FeedOutcome) -> None:
        self.metrics.observe_fetch(
            outcome.url, outcome.error_kind or outcome.status, outcome.duration_ms / 1000
        )
        if outcome.new:
            self.metrics.articles_stored(outcome.new)

    def deliver(self) -> None:
        """The ``deliver`` job: send due alerts and operator notices."""
        from monitor.delivery import deliver_due

        if self.stop_event.is_set():
            return
        with _job_guard("delivery.failed"):
            deliver_due(
                self.session_factory, self.runtime.config, utcnow(), worker=self.runtime.worker.id
            )

    def housekeeping(self) -> None:
        """The ``housekeeping`` job: retention, then PRAGMA optimize / VACUUM when worth it."""
        from monitor.store.housekeeping import run_housekeeping

        if not self.stop_event.is_set():
            settings = self.config.monitor
            with _job_guard("housekeeping.failed"):
                # One worker of those sharing the database does it per period: the lease
                # is kept (not given back), so the others find it taken until then.
                with session_scope(self.session_factory, write=True) as s:
                    mine = workers.take_lease(
                        s, "housekeeping", self.runtime.worker.id, utcnow(),
                        HOUSEKEEPING_EVERY_S * 0.9,
                    )  # fmt: skip
                    workers.forget_workers(s, utcnow() - timedelta(days=WORKERS_KEPT_DAYS))
                if not mine:
                    event(log, "housekeeping.skipped", logging.DEBUG, reason="another worker")
                    return
                run_housekeeping(
                    self.session_factory, self.engine, utcnow(),
                    retention_s=settings.retention_s, keep_matched=settings.keep_matched,
                )  # fmt: skip

    # -- reload ----------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the config; keep the old one (and say why) when the new one is invalid."""
        self.notifier.reloading()
        try:
            config = load_config(self.config.path, self.environ)
        except ConfigError as exc:
            event(
                log, "config.reload_failed", logging.ERROR,
                path=self.config.path, error=str(exc), kept="previous",  # the old config runs on
            )  # fmt: skip
            self.notifier.ready(status=f"config reload failed, running on the old config: {exc}")
            return False
        old = self.config.monitor
        pending = [k for k in RESTART_KEYS if getattr(config.monitor, k) != getattr(old, k)]
        for key in pending:  # kept as they are until a restart, and said so
            event(
                log,
                "config.reload_database_ignored"
                if key == "database"
                else "config.reload_key_ignored",
                logging.WARNING,
                key=f"[monitor].{key}",
                reason=f"changing [monitor].{key} needs a restart",
            )
        if pending:
            config = dataclasses.replace(
                config,
                monitor=dataclasses.replace(
                    config.monitor, **{key: getattr(old, key) for key in pending}
                ),
            )
        self.config = config
        self.runtime.config = config
        # If the database fails here, the next cycle syncs the feeds again.
        with _job_guard("config.reload_sync_failed"), session_scope(self.session_factory) as s:
            sync_feeds(s, config.feeds, utcnow())
        event(
            log,
            "config.reloaded",
            path=config.path,
            feeds=len(config.feeds),
            rules=len(config.rules),
            channels=len(config.channels),
        )
        restart = ", ".join(f"[monitor].{key}" for key in pending)
        self.notifier.ready(
            status=f"config reloaded; {restart} needs a restart" if pending else "config reloaded"
        )
        return True

    # -- the service -------------------------------------------------------------------
    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code."""
        self._install_signals()
        self.runtime.worker = workers.identity("daemon")
        health = self._start_health()
        scheduler = self._start_scheduler()
        pinger = WatchdogPinger(self.notifier, self.gate)
        pinger.start()
        self.notifier.ready(status=f"polling {len(self.config.feeds)} feeds")
        event(
            log,
            "daemon.started",
            pid=os.getpid(),
            feeds=len(self.config.feeds),
            rules=len(self.config.rules),
            database=db.display_url(self.config.monitor.database),
            http=self.config.monitor.http or "off",
        )
        for warning in self.config.warnings:
            event(log, "config.warning", logging.WARNING, warning=warning)
        watcher = _FileWatcher(Path(self.config.path))
        try:
            while not self.stop_event.wait(0.5):
                if self.config.monitor.watch_config and watcher.changed():
                    self.reload_event.set()
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    self.reload()
        finally:
            self.notifier.stopping()
            pinger.stop()
            self._shutdown(scheduler)
            if health is not None:
                health.stop()
        return 0

    def _start_health(self) -> HealthServer | None:
        if not self.config.monitor.http:
            return None
        health = HealthServer(
            self.config.monitor.http,
            self.metrics.registry,
            lambda: self.gate.should_ping(time.monotonic()),
            problem=lambda: self.gate.problem(time.monotonic()),
        )
        health.start()
        return health

    def _start_scheduler(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        tick, now = self.config.monitor.tick_s, utcnow()
        scheduler.add_job(self.poll, "interval", seconds=tick, id="poll", next_run_time=now)
        scheduler.add_job(
            self.deliver, "interval", seconds=max(2.0, tick / 3), id="deliver", next_run_time=now
        )
        scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=HOUSEKEEPING_EVERY_S,
            id="housekeeping",
            next_run_time=now + timedelta(minutes=5),
        )
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_event.set())

    def _shutdown(self, scheduler: BackgroundScheduler) -> None:
        started = time.monotonic()
        event(log, "daemon.stopping")
        scheduler.pause()
        deadline = started + self.config.monitor.shutdown_timeout_s
        # In-flight fetches get the grace period, then are cancelled (each feed's
        # database work is one transaction, so a cancel never half-writes).
        _wait_for(lambda: self._cycle_task is None, max(0.0, deadline - time.monotonic()))
        loop, task = self._loop, self._cycle_task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        scheduler.shutdown(wait=False)
        _wait_for(lambda: self._cycle_task is None, 2.0)
        self.parse_pool.close()
        self._worker_stopped()
        self.engine.dispose()
        event(log, "daemon.stopped", duration_ms=int((time.monotonic() - started) * 1000))


class _FileWatcher:
    """Notices edits of the config file (mtime and size), for ``watch_config``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = self._stamp()

    def _stamp(self) -> tuple[float, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def changed(self) -> bool:
        stamp = self._stamp()
        if stamp is None or stamp == self.last:
            return False
        self.last = stamp
        return True


@contextlib.contextmanager
def _job_guard(name: str) -> Iterator[None]:
    """Log an exception of a scheduled job as one event ``name`` (a DatabaseError in one
    line, anything else with its traceback) instead of letting APScheduler print it;
    the job runs again at its next time."""
    try:
        yield
    except Exception as exc:
        trace = None if isinstance(exc, DatabaseError) else exc
        event(log, name, logging.ERROR, exc_info=trace, error=mask_text(str(exc))[:300])


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)
