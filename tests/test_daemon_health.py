"""The daemon's health reflects reality (issue 10): poll cycles that keep failing turn
``/healthz`` to 503 and stop the watchdog, and ``monitor status`` says why; one good
cycle clears it. A real daemon, a real feed on 127.0.0.1, a real SQLite file and the
real health server; the failure is injected at a stage seam."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from monitor import pipeline
from monitor.cli.ops import collect_status, render_status
from monitor.config import load_config
from monitor.daemon import service
from monitor.daemon.sdnotify import WatchdogGate
from monitor.daemon.service import Daemon
from monitor.errors import DatabaseError
from monitor.store import db, state
from monitor.store.schema import FeedRow
from tests.support import LocalServer
from tests.test_pipeline import SEED_FEED, make_config

RSS = {"Content-Type": "application/rss+xml"}


def healthz(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def daemon(tmp_path: Path, http_server: LocalServer):
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    feed = http_server.static("/feed.xml", SEED_FEED, RSS)
    other = http_server.static("/other.xml", SEED_FEED, RSS)
    path = make_config(tmp_path, http_server, [feed, other])
    with socket.socket() as probe:  # a free port (the config refuses port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = path.read_text().replace('tick = "1s"', f'tick = "1s"\nhttp = "127.0.0.1:{port}"')
    path.write_text(text)
    d = Daemon(load_config(path, {}))
    health = d._start_health()
    assert health is not None
    d.health_url = health.url  # type: ignore[attr-defined]
    yield d
    health.stop()
    d.parse_pool.close()


def make_due(d: Daemon) -> None:
    """Every feed due now (a failed feed backs off; the test does not wait for it)."""
    with db.session_scope(d.session_factory) as s:
        s.execute(update(FeedRow).values(next_check_at=None))


def test_cycles_where_every_feed_fails_internally_turn_healthz_503_and_status_says_why(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.normalize_entries

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("normaliser bug")

    monkeypatch.setattr(pipeline, "normalize_entries", broken)
    for n in range(1, 4):
        make_due(daemon)
        daemon.poll()
        code, body = healthz(daemon.health_url)  # type: ignore[attr-defined]
        assert (code == 503) is (n >= 3), (n, code, body)
        daemon.poll()  # an idle tick (the feed backs off) neither fails nor clears the streak
    assert "the last 3 poll cycles failed" in body and "RuntimeError" in body
    assert not daemon.gate.should_ping(time.monotonic())  # watchdog silenced
    status = collect_status(daemon.config, daemon.session_factory, daemon.engine, datetime.now(UTC))
    assert status.problem and "normaliser bug" in status.problem
    assert "problem:   poll cycles are failing:" in render_status(status, daemon.config)

    monkeypatch.setattr(pipeline, "normalize_entries", real)
    make_due(daemon)
    daemon.poll()  # one good cycle
    assert healthz(daemon.health_url)[0] == 200  # type: ignore[attr-defined]
    status = collect_status(daemon.config, daemon.session_factory, daemon.engine, datetime.now(UTC))
    assert status.problem is None and "problem:" not in render_status(status, daemon.config)


def test_a_cycle_that_raises_is_a_failed_cycle_recorded_for_status(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database failing under the cycle (here: at its start) is logged once per
    cycle, never escapes into the scheduler, and is written where `status` reads it."""

    async def db_down(*args: object, **kwargs: object) -> object:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(service, "poll_cycle", db_down)
    for _ in range(3):
        daemon.poll()  # does not raise
    code, body = healthz(daemon.health_url)  # type: ignore[attr-defined]
    assert code == 503 and "DatabaseError: disk I/O error" in body
    failed = [r for r in caplog.records if r.getMessage() == "cycle.failed"]
    assert len(failed) == 3
    assert all(r.exc_info is None for r in failed)  # classified: one line, not 70 per tick
    beat = state.read_heartbeat(daemon.session_factory)
    assert beat.problem == "DatabaseError: disk I/O error"


def test_a_cycle_with_one_feed_failing_is_not_a_daemon_problem(
    daemon: Daemon, http_server: LocalServer
) -> None:
    """Feeds failing on their side (here both answer 500) are reported per feed; the
    daemon itself stays healthy, or every outage would restart it."""
    for path in ("/feed.xml", "/other.xml"):
        http_server.static(path, b"oops", {"Content-Type": "text/plain"}, status=500)
    for _ in range(4):
        make_due(daemon)
        daemon.poll()
    assert daemon.last_report is not None and daemon.last_report.failed == 2
    assert healthz(daemon.health_url)[0] == 200  # type: ignore[attr-defined]


def test_one_feed_failing_internally_is_that_feeds_problem_not_the_daemons(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third party's content that trips a bug in one feed must not get the daemon
    restarted by the watchdog (a restart cannot fix a feed): /healthz stays 200."""
    real = pipeline.normalize_entries

    def broken_for_one(parsed: object, feed: object, now: object) -> object:
        if "/feed.xml" in feed.url:  # type: ignore[attr-defined]
            raise RuntimeError("bug on one feed")
        return real(parsed, feed, now)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "normalize_entries", broken_for_one)
    for _ in range(4):
        make_due(daemon)
        daemon.poll()
    assert daemon.last_report is not None and daemon.last_report.failed == 1
    assert healthz(daemon.health_url)[0] == 200  # type: ignore[attr-defined]


def test_bookkeeping_that_fails_after_each_cycle_counts_as_failed_cycles(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat or the feed counts failing after the cycle returned is a failed
    cycle too: the gate is told only once the bookkeeping succeeded, so three in a row
    turn /healthz to 503 (before, a good verdict reset the count first)."""

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("views bug")

    monkeypatch.setattr(service.views, "feed_status_counts", broken)
    for _ in range(3):
        make_due(daemon)
        daemon.poll()
    code, body = healthz(daemon.health_url)  # type: ignore[attr-defined]
    assert code == 503 and "RuntimeError: views bug" in body


@pytest.mark.parametrize(
    ("events", "healthy"),
    [
        (["fail", "fail"], True),
        (["fail", "fail", "fail"], False),
        (["fail", "fail", "fail", "idle"], False),
        (["fail", "fail", "fail", "ok"], True),
        (["fail", "ok", "fail", "fail"], True),
    ],
)
def test_gate_fails_after_three_failed_cycles_in_a_row(events: list[str], healthy: bool) -> None:
    gate = WatchdogGate(stall_limit_s=60.0)
    for t, kind in enumerate(events):
        gate.cycle_started(float(t))
        if kind == "fail":
            gate.cycle_failed(float(t), "boom")
        elif kind == "idle":
            gate.cycle_idle(float(t))
        else:
            gate.cycle_finished(float(t))
    assert gate.should_ping(10.0) is healthy
    assert (gate.problem(10.0) is None) is healthy
