"""The ops pieces wired the way the daemon wires them: one gate drives both the
systemd watchdog and /healthz; the alert gauge reads the real database.

A stand-in poll loop runs cycles on a thread; when one hangs, /healthz turns 503
and the WATCHDOG=1 datagrams stop; when it returns, both recover.
"""

from __future__ import annotations

import os
import socket
import threading
import time
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


def pings_within(sock: socket.socket, seconds: float) -> int:
    """WATCHDOG=1 datagrams received in the next ``seconds``."""
    end, n = time.monotonic() + seconds, 0
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"WATCHDOG=1":
                n += 1
        except TimeoutError:
            break
    return n


def test_hung_cycle_turns_healthz_503_and_silences_the_watchdog(db, tmp_path) -> None:  # noqa: F811
    """Gate, pinger, notifier, health server and metrics working together."""
    with session_scope(db.session_factory) as s:
        feed = add_feed(s, "https://news.example/rss")
        add_match(s, add_article(s, feed, "a1", NOW), "energy", "pending", "telegram")

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = {
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "200000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    notifier = Notifier(env)
    gate = WatchdogGate(stall_limit_s=0.4, created_at=time.monotonic())
    metrics = Metrics(alert_source=lambda: views.alert_counts(db.session_factory))
    health = HealthServer(
        "127.0.0.1:0", metrics.registry, lambda: gate.is_progressing(time.monotonic())
    )
    pinger = WatchdogPinger(notifier, gate)
    release, stop = threading.Event(), threading.Event()

    def poll_loop() -> None:  # the daemon's poll job, simplified
        while not stop.is_set():
            gate.cycle_started(time.monotonic())
            if not release.is_set():
                release.wait()  # this cycle hangs until the test lets it go
            gate.cycle_finished(time.monotonic())
            stop.wait(0.02)

    release.set()
    loop = threading.Thread(target=poll_loop)
    health.start()
    pinger.start()
    loop.start()
    try:
        assert notifier.ready("1 feed")
        assert notify.recv(4096) == b"READY=1\nSTATUS=1 feed"
        assert status_of(health.url + "/healthz") == 200
        assert pings_within(notify, 0.3) >= 1

        release.clear()  # the next cycle hangs
        time.sleep(0.6)  # past the stall limit
        pings_within(notify, 0.05)  # drain what was sent before the limit
        assert status_of(health.url + "/healthz") == 503
        assert pings_within(notify, 0.3) == 0

        release.set()  # it returns: progress again
        time.sleep(0.1)
        assert status_of(health.url + "/healthz") == 200
        assert pings_within(notify, 0.3) >= 1

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
        stop.set()
        release.set()
        loop.join()
        pinger.stop()
        health.stop()
        notifier.close()
        notify.close()
