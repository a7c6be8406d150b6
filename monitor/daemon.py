"""The daemon: APScheduler ticks, the database says what is due.

Two jobs run on a short tick: ``poll`` (one :func:`monitor.pipeline.poll_cycle` over the
due feeds) and ``deliver`` (:func:`monitor.delivery.deliver_due`), each at most one at a
time. The main thread only waits for signals: SIGTERM/SIGINT stop taking new work,
cancel in-flight fetches after ``shutdown_timeout`` and exit; SIGHUP re-reads the
config (validated first: an invalid file leaves the old config running).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitor import db, store
from monitor.config import Config, load_config
from monitor.db import session_scope
from monitor.errors import ConfigError
from monitor.log import event
from monitor.parse import ParsePool
from monitor.pipeline import CycleReport, Runtime, poll_cycle, utcnow

log = logging.getLogger(__name__)


class Daemon:
    """One running press-monitor: config, database, scheduler, signal handling."""

    def __init__(self, config: Config, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.engine = db.make_engine(config.monitor.database)
        db.upgrade(self.engine)  # an empty or old database is migrated at start
        self.session_factory = db.make_session_factory(self.engine)
        self.parse_pool = ParsePool(max_workers=2, timeout_s=config.fetch.parse_timeout_s)
        self.runtime = Runtime(config, self.session_factory, self.parse_pool)
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cycle_task: asyncio.Task | None = None
        self.last_report: CycleReport | None = None
        self.cycles = 0

    # -- one-shot ------------------------------------------------------------------
    def run_once(self) -> CycleReport:
        """Poll every feed once, deliver what is due, return the cycle report."""
        report = asyncio.run(poll_cycle(self.runtime, all_feeds=True))
        self.deliver()
        return report

    # -- jobs -----------------------------------------------------------------------
    def poll(self) -> None:
        """The ``poll`` job: one cycle over the due feeds (cancellable on shutdown)."""
        if self.stop_event.is_set():
            return
        asyncio.run(self._poll())
        self.cycles += 1
        with session_scope(self.session_factory) as session:
            now = utcnow()
            store.set_state(session, "daemon.heartbeat", now.isoformat(), now)
            store.set_state(session, "daemon.pid", str(os.getpid()), now)

    async def _poll(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._cycle_task = asyncio.current_task()
        try:
            self.last_report = await poll_cycle(self.runtime)
        except asyncio.CancelledError:
            event(log, "cycle.cancelled", logging.WARNING)
        finally:
            self._cycle_task = None

    def deliver(self) -> None:
        """The ``deliver`` job: send due alerts and operator notices."""
        from monitor.delivery import deliver_due

        if self.stop_event.is_set():
            return
        deliver_due(self.session_factory, self.runtime.config, utcnow())

    # -- reload ----------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the config; keep the old one (and say why) when the new one is invalid."""
        try:
            config = load_config(self.config.path, self.environ)
        except ConfigError as exc:
            event(log, "config.reload_failed", logging.ERROR, path=self.config.path, error=str(exc))
            return False
        if config.monitor.database != self.config.monitor.database:
            event(
                log,
                "config.reload_database_ignored",
                logging.WARNING,
                reason="changing [monitor].database needs a restart",
            )
            config = _with_database(config, self.config.monitor.database)
        self.config = config
        self.runtime.config = config
        with session_scope(self.session_factory) as session:
            store.sync_feeds(session, config.feeds, utcnow())
        event(
            log,
            "config.reloaded",
            path=config.path,
            feeds=len(config.feeds),
            rules=len(config.rules),
            channels=len(config.channels),
        )
        return True

    # -- the service -------------------------------------------------------------------
    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code."""
        self._install_signals()
        scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        tick = self.config.monitor.tick_s
        scheduler.add_job(self.poll, "interval", seconds=tick, id="poll", next_run_time=utcnow())
        scheduler.add_job(
            self.deliver,
            "interval",
            seconds=max(5.0, tick / 3),
            id="deliver",
            next_run_time=utcnow(),
        )
        scheduler.start()
        event(
            log,
            "daemon.started",
            pid=os.getpid(),
            feeds=len(self.config.feeds),
            rules=len(self.config.rules),
            database=db.display_url(self.config.monitor.database),
        )
        try:
            while not self.stop_event.wait(0.5):
                if self.reload_event.is_set():
                    self.reload_event.clear()
                    self.reload()
        finally:
            self._shutdown(scheduler)
        return 0

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
        while self._cycle_task is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._cancel_cycle()
        scheduler.shutdown(wait=False)
        _wait_for(lambda: self._cycle_task is None, 2.0)
        self.parse_pool.close()
        self.engine.dispose()
        event(log, "daemon.stopped", duration_ms=int((time.monotonic() - started) * 1000))

    def _cancel_cycle(self) -> None:
        loop, task = self._loop, self._cycle_task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)


def _with_database(config: Config, database: str) -> Config:
    import dataclasses

    return dataclasses.replace(
        config, monitor=dataclasses.replace(config.monitor, database=database)
    )
