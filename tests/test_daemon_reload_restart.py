"""A reload cannot apply every key: adding [monitor] http by SIGHUP says it needs a restart
(as changing the database does), instead of logging only config.reloaded (issue 13)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tests.support import LocalServer
from tests.test_daemon import count, start, wait_until
from tests.test_pipeline import SEED_FEED, make_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_adding_http_by_reload_says_it_needs_a_restart(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    server.static("/hook", b"{}")
    feed = server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    cfg = make_config(tmp_path, server, [feed])
    proc = start(cfg, tmp_path)
    log = tmp_path / "stderr.log"
    try:
        assert wait_until(
            lambda: count(tmp_path / "monitor.db", "select count(*) from articles") > 0
        )
        port = _free_port()
        cfg.write_text(
            cfg.read_text().replace('tick = "1s"', f'tick = "1s"\nhttp = "127.0.0.1:{port}"')
        )
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "config.reloaded" in log.read_text()), log.read_text()
        text = log.read_text()
        assert "config.reload_key_ignored" in text
        assert "changing [monitor].http needs a restart" in text
        with socket.socket() as probe:  # and indeed no server was started on the new port
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
