"""SIGKILL in the middle of a delivery cycle: nothing lost, at most one duplicate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

from monitor.config.units import parse_rate
from monitor.delivery import deliver_due
from monitor.store.outbox import SENDING_LEASE_S
from tests.support import ROOT, Request, Response
from tests.test_delivery_support import NOW, add_alert, alert_row, channel, fast, make_config

pytest_plugins = ["tests.test_delivery_support"]

CHILD = """
import sys
from monitor.config.units import parse_rate
from monitor.store.db import make_engine, make_session_factory
from monitor.delivery import deliver_due
from tests.test_delivery_support import NOW, channel, make_config
config = make_config([channel("c", sys.argv[2], rate_limit=parse_rate("100/s"))])
deliver_due(make_session_factory(make_engine(sys.argv[1])), config, NOW)
"""


def test_killed_cycle_loses_nothing_and_duplicates_only_the_message_in_flight(
    factory, http_server, tmp_path
):
    release = threading.Event()
    titles: list[str] = []

    def hook(req: Request) -> Response:
        titles.append(json.loads(req.body)["title"])
        if len(titles) == 3:  # the third message hangs: the process dies with it in flight
            release.wait(10)
        return Response(200, {}, b"ok")

    url = http_server.route("/hook", hook).replace("http://", "json://")
    ids = [add_alert(factory, title=f"Story {i}") for i in range(5)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"sqlite:///{tmp_path}/m.db", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 20
        while len(titles) < 3 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert len(titles) == 3, "the child never reached the third message"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()

    assert alert_row(factory, ids[2]).status == "sending"
    config = make_config([channel("c", url, rate_limit=parse_rate("100/s"))])
    soon = deliver_due(factory, config, NOW + timedelta(seconds=10), **fast())
    assert soon.sent == 2  # the two never tried; the one in flight waits for the timeout
    later = NOW + timedelta(seconds=SENDING_LEASE_S + 1)
    assert deliver_due(factory, config, later, **fast()).sent == 1

    counts = Counter(titles)
    assert {alert_row(factory, i).status for i in ids} == {"sent"}
    assert counts == {
        "[r] Story 0": 1,
        "[r] Story 1": 1,
        "[r] Story 2": 2,
        "[r] Story 3": 1,
        "[r] Story 4": 1,
    }
