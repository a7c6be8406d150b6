"""The daemon as a real subprocess: polls on its own, reloads on SIGHUP, stops on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT, LocalServer, cli_env
from tests.test_pipeline import SEED_FEED, make_config, rss


def start(cfg: Path, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``monitor run`` as a subprocess, its log in tmp_path/stderr.log."""
    with open(tmp_path / "stderr.log", "a") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=ROOT,
            env=env or cli_env(),
        )


def wait_until(predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def count(db_path: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_daemon_polls_reloads_and_stops_cleanly_on_sigterm(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    server.static("/hook", b"{}")
    a = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    b = server.static(
        "/b.xml",
        rss(("b1", "https://b.example/1", "Unrelated story")),
        {"Content-Type": "application/rss+xml"},
    )
    cfg = make_config(tmp_path, server, [a])
    db_path = tmp_path / "monitor.db"
    proc = start(cfg, tmp_path)
    try:
        assert wait_until(
            lambda: count(db_path, "select count(*) from alerts where status='sent'") == 1
        ), (tmp_path / "stderr.log").read_text()
        # An invalid edit is refused and the daemon keeps running on the old config.
        good_text = cfg.read_text()
        cfg.write_text(good_text.replace('channels = ["hook"]', 'channels = ["nope"]', 1))
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "config.reload_failed" in (tmp_path / "stderr.log").read_text())
        assert proc.poll() is None
        # A valid edit adds a feed, which starts polling without a restart.
        cfg.write_text(
            good_text.replace("\n[[rules]]", f'\n[[feeds]]\nurl = "{b}"\n\n[[rules]]', 1)
        )
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: count(db_path, "select count(*) from articles") == 6), (
            tmp_path / "stderr.log"
        ).read_text()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=25) == 0
        # Well under the unit's TimeoutStopSec=30s, after which systemd would SIGKILL us.
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "daemon.stopped" in (tmp_path / "stderr.log").read_text()


def test_daemon_speaks_sd_notify_and_serves_health(
    tmp_path: Path, http_server: LocalServer
) -> None:
    """READY=1 after start, STATUS= after a cycle, WATCHDOG=1 while cycles progress,
    RELOADING=1 + MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 on SIGTERM; and
    /healthz + /metrics on the configured loopback address."""
    import socket
    import urllib.request

    server = http_server
    server.static("/hook", b"{}")
    a = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = make_config(tmp_path, server, [a])
    cfg.write_text(
        cfg.read_text().replace('tick = "1s"', f'tick = "1s"\nhttp = "127.0.0.1:{port}"')
    )
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []

    def drain() -> str:
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        return "\n".join(messages)

    env = cli_env(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000")
    proc = start(cfg, tmp_path, env)
    try:
        assert wait_until(lambda: "STATUS=feeds ok 1" in drain() and "WATCHDOG=1" in drain()), (
            messages
        )
        assert "READY=1" in messages[0] or any(m.startswith("READY=1") for m in messages)
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status == 200
        metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
        assert 'press_monitor_feeds{status="ok"} 1.0' in metrics
        assert 'press_monitor_matches_total{rule="witkoff-coalition"} 1.0' in metrics
        messages.clear()
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "READY=1" in drain()), messages
        reloading = next(m for m in messages if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in reloading
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "STOPPING=1" in drain()
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_watch_config_reloads_on_file_edit_without_a_signal(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    server.static("/hook", b"{}")
    a = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    b = server.static(
        "/b.xml",
        rss(("b1", "https://b.example/1", "Unrelated story")),
        {"Content-Type": "application/rss+xml"},
    )
    cfg = make_config(tmp_path, server, [a])
    cfg.write_text(cfg.read_text().replace('tick = "1s"', 'tick = "1s"\nwatch_config = true'))
    db_path = tmp_path / "monitor.db"
    proc = start(cfg, tmp_path)
    try:
        assert wait_until(lambda: count(db_path, "select count(*) from articles") == 5)
        text = cfg.read_text()
        cfg.write_text(text.replace("\n[[rules]]", f'\n[[feeds]]\nurl = "{b}"\n\n[[rules]]', 1))
        assert wait_until(lambda: count(db_path, "select count(*) from articles") == 6), (
            tmp_path / "stderr.log"
        ).read_text()
        assert "config.reloaded" in (tmp_path / "stderr.log").read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
