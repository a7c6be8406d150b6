"""The ops pieces wired the way the daemon wires them: one gate drives both the
systemd watchdog and /healthz; the alert gauge reads the real database.

Cycles start and finish by hand on a fake monotonic clock; when one hangs past the
stall limit, /healthz turns 503 and the pinger's tick sends no WATCHDOG=1; when it
returns, both recover. (The pinger's own thread is tested in test_sdnotify.py.)
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon.health import HealthServer, Metrics
from monitor.daemon.sdnotify import Notifier, WatchdogGate, WatchdogPinger
from monitor.store import views
from monitor.store.db import session_scope
from tests.opsdb import NOW, add_article, add_feed, add_match, db, db_template  # noqa: F401


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def pending(sock: socket.socket) -> list[bytes]:
    """Every datagram already waiting on ``sock`` (sends to a local socket arrive at once)."""
    out = []
    while True:
        try:
            out.append(sock.recv(4096, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return out


def test_hung_cycle_turns_healthz_503_and_silences_the_watchdog(db, tmp_path) -> None:  # noqa: F811
    """Gate, pinger, notifier, health server and metrics working together."""
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        add_match(s, add_article(s, feed, "a1", NOW), "energy", "pending", "telegram")

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = {
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "300000000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    now = [1000.0]  # the fake monotonic clock both readers of the gate share

    def clock() -> float:
        return now[0]

    notifier = Notifier(env)
    gate = WatchdogGate(stall_limit_s=60.0, created_at=clock())
    metrics = Metrics(alert_source=lambda: views.alert_counts(db.session_factory))
    health = HealthServer("127.0.0.1:0", metrics.registry, lambda: gate.is_progressing(clock()))
    pinger = WatchdogPinger(notifier, gate, clock=clock)
    health.start()
    try:
        assert notifier.ready("1 feed")
        assert pending(notify) == [b"READY=1\nSTATUS=1 feed"]
        gate.cycle_started(clock())
        now[0] += 5
        gate.cycle_finished(clock())
        assert status_of(health.url + "/healthz") == 200
        assert pinger.ping_once() and pending(notify) == [b"WATCHDOG=1"]

        gate.cycle_started(clock())  # this cycle hangs ...
        now[0] += 30
        assert status_of(health.url + "/healthz") == 200  # ... within the stall limit
        assert pinger.ping_once() and pending(notify) == [b"WATCHDOG=1"]
        now[0] += 31  # ... past it
        assert status_of(health.url + "/healthz") == 503
        assert not pinger.ping_once() and pending(notify) == []

        gate.cycle_finished(clock())  # it returns: progress again
        assert status_of(health.url + "/healthz") == 200
        assert pinger.ping_once() and pending(notify) == [b"WATCHDOG=1"]
        assert pinger.pings == 3

        with urllib.request.urlopen(health.url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
        alerts = {
            tuple(sorted(s.labels.items())): s.value
            for f in text_string_to_metric_families(text)
            if f.name == "press_monitor_alerts"
            for s in f.samples
        }
        assert alerts == {(("channel", "telegram"), ("status", "pending")): 1.0}
    finally:
        health.stop()
        notifier.close()
        notify.close()
