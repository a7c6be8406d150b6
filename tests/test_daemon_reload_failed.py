"""A reload refused for a bad config says, in its one event, that the previous config
stays in use (``kept=previous``), beside the file, line and key (issue 13). A real daemon
process, SIGHUP, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support import LocalServer
from tests.test_daemon import count, start, wait_until
from tests.test_pipeline import SEED_FEED, make_config


def test_a_refused_reload_says_the_previous_config_stays_in_use(
    tmp_path: Path, http_server: LocalServer
) -> None:
    http_server.static("/hook", b"{}")
    feed = http_server.static("/a.xml", SEED_FEED, {"Content-Type": "application/rss+xml"})
    cfg = make_config(tmp_path, http_server, [feed])
    proc = start(cfg, tmp_path)
    log = tmp_path / "stderr.log"
    try:
        assert wait_until(lambda: count(tmp_path / "monitor.db", "select count(*) from articles"))
        cfg.write_text(cfg.read_text().replace('channels = ["hook"]', 'channels = ["nope"]', 1))
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "config.reload_failed" in log.read_text()), log.read_text()
        [line] = [x for x in log.read_text().splitlines() if "config.reload_failed" in x]
        assert "level=error" in line and "kept=previous" in line
        assert f"{cfg}:" in line and "channels" in line and "nope" in line  # file, line, key
        assert proc.poll() is None  # and it does run on
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
