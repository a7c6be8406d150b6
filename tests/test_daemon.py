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


def start(cfg: Path, tmp_path: Path) -> subprocess.Popen:
    env = cli_env()
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "stderr.log", "w"),
        cwd=ROOT,
        env=env,
        text=True,
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
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 12
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "daemon.stopped" in (tmp_path / "stderr.log").read_text()
