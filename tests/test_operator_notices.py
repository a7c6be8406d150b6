"""A feed broken longer than the threshold raises ONE operator notice, and one on recovery."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.store import db
from monitor.store.schema import FeedRow
from tests.support import LocalServer, Response
from tests.test_pipeline import SEED_FEED, make_config


def test_broken_feed_notifies_operator_once_then_on_recovery(
    tmp_path: Path, http_server: LocalServer
) -> None:
    server = http_server
    server.static("/hook", b"{}")
    state = {"up": False}

    def feed(_req):
        if state["up"]:
            return Response(200, {"Content-Type": "application/rss+xml"}, SEED_FEED)
        return Response(404, {}, b"gone")

    url = server.route("/feed.xml", feed)
    cfg = make_config(tmp_path, server, [url])
    text = cfg.read_text().replace(
        'tick = "1s"', 'tick = "1s"\noperator_channel = "ops"\nfeed_broken_after = "0s"'
    )
    text = text.replace(
        "[channels]\n", f'[channels]\nops = "json://{server.url("/ops").removeprefix("http://")}"\n'
    )
    cfg.write_text(text)
    server.static("/ops", b"{}")
    daemon = Daemon(load_config(cfg, {}))
    try:
        for _ in range(3):  # three failing polls: one notice, not three
            daemon.run_once()
        state["up"] = True
        daemon.run_once()
        daemon.run_once()
    finally:
        daemon.parse_pool.close()
    notices = [json.loads(r.body) for r in server.hits("/ops")]
    assert len(notices) == 2, notices
    assert "broken" in notices[0]["title"].lower() and "404" in notices[0]["message"]
    assert "EET" in notices[0]["message"] or "EEST" in notices[0]["message"]  # config timezone
    assert "recovered" in notices[1]["title"].lower()
    with db.session_scope(daemon.session_factory) as s:
        row = s.scalars(select(FeedRow)).one()
        assert row.failures == 0 and row.error_kind is None and row.broken_notified_at is None
