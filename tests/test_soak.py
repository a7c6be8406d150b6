"""Crash safety: SIGKILL the daemon at random moments while feeds keep gaining items.

At the end the database passes ``PRAGMA integrity_check``, every served item is stored
exactly once, every matching item's alert was delivered (0 lost), and duplicates are at
most the number of kills. The default run makes 8 kills (CI); ``MONITOR_SOAK_KILLS=20``
(or more) runs the longer variant.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.support import ROOT, LocalServer, Response, cli_env

KILLS = int(os.environ.get("MONITOR_SOAK_KILLS", "8"))
LINK = "https://soak.example/story/{}"


class GrowingFeed:
    """A feed that gains items as time passes; every third item matches the rule."""

    def __init__(self, per_s: float = 6.0) -> None:
        self.started = time.monotonic()
        self.per_s = per_s
        self.served = 0
        self.lock = threading.Lock()

    def __call__(self, _req) -> Response:
        with self.lock:
            n = 3 + int((time.monotonic() - self.started) * self.per_s)
            self.served = max(self.served, n)
        items = "".join(
            f"<item><guid>item-{i}</guid><link>{LINK.format(i)}</link>"
            f"<title>{'Witkoff visits Paris, story' if i % 3 == 0 else 'Weather report'} {i}</title>"
            f"<description>Text {i}</description></item>"
            for i in range(n)
        )
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Soak</title>{items}'
            "</channel></rss>"
        ).encode()
        return Response(200, {"Content-Type": "application/rss+xml"}, body)


def config_text(tmp_path: Path, server: LocalServer) -> str:
    hook = server.url("/hook").removeprefix("http://")
    return f"""
[monitor]
database = "sqlite:///{tmp_path}/soak.db"
tick = "1s"

[channels]
hook = {{ url = "json://{hook}", rate_limit = "1000/s" }}

[[feeds]]
url = "{server.url("/feed.xml")}"
backlog = "3650d"

[[rules]]
name = "witkoff"
query = 'Witkoff'
channels = ["hook"]
"""


def make_due(db_path: Path) -> None:
    """Feeds are due again (the daemon only polls at start within one short life)."""
    if db_path.exists():
        with sqlite3.connect(db_path, timeout=10) as conn:
            conn.execute("UPDATE feeds SET next_check_at = NULL")


def test_sigkill_loses_nothing_and_duplicates_at_most_one_per_kill(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    feed = GrowingFeed()
    server.route("/feed.xml", feed)
    server.static("/hook", b"{}")
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(tmp_path, server))
    db_path = tmp_path / "soak.db"
    rng = random.Random(1234)
    for _ in range(KILLS):
        make_due(db_path)
        with open(tmp_path / "daemon.log", "a") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(cfg), "run"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=ROOT,
                env=cli_env(),
            )
        time.sleep(rng.uniform(0.8, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    make_due(db_path)
    final = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "run", "--once"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=120,
    )
    assert final.returncode == 0, final.stderr

    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        guids = [g for (g,) in conn.execute("SELECT guid FROM articles")]
        statuses = Counter(s for (s,) in conn.execute("SELECT status FROM alerts"))
    served = feed.served
    assert sorted(guids) == sorted(f"item-{i}" for i in range(served))  # each exactly once
    matching = {LINK.format(i) for i in range(served) if i % 3 == 0}
    delivered = Counter()
    for req in server.hits("/hook"):
        message = json.loads(req.body)["message"]
        delivered.update(
            link for link in matching if link + "\n" in message + "\n" or link in message.split()
        )
    assert set(delivered) == matching, f"lost: {sorted(matching - set(delivered))}"
    duplicates = sum(n - 1 for n in delivered.values())
    print(
        f"soak: kills={KILLS} served={served} matching={len(matching)} "
        f"messages={len(server.hits('/hook'))} duplicates={duplicates}"
    )
    assert duplicates <= KILLS
    assert statuses == Counter({"sent": len(matching)})
