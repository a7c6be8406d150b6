"""Benchmark the operator paths on a realistic SQLite file; prints its numbers.

    /work/venv/bin/python bench/bench_ops.py [ARTICLES]   (default 100000)

Builds a migrated database with ARTICLES articles (one sighting each, 5% matched
with an alert), then times: ``monitor status`` facts, an online backup while a
writer inserts, a /metrics scrape that reads alert counts from the database,
pruning half the articles, and optimize (VACUUM).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.cli.ops import collect_status  # noqa: E402
from monitor.config import Config  # noqa: E402
from monitor.daemon.health import HealthServer, Metrics  # noqa: E402
from monitor.match import compile_rules  # noqa: E402
from monitor.records import (
    FetchSettings,  # noqa: E402
    MonitorSettings,  # noqa: E402
)
from monitor.store import views  # noqa: E402
from monitor.store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from monitor.store.housekeeping import backup, optimize, prune  # noqa: E402

NOW = datetime.now(UTC)


def build(path: Path, n: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    ts = lambda d: (NOW - timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    conn.executemany(
        "INSERT INTO feeds (id, url, active, failures, polls, created_at) VALUES (?, ?, 1, 0, 0, ?)",
        [(i, f"https://feed{i}.example/rss", ts(0)) for i in range(1, 201)],
    )
    text = "Lorem ipsum dolor sit amet, " * 20
    conn.executemany(
        "INSERT INTO articles (id, feed_id, guid, title, text, first_seen_at, alertable)"
        " VALUES (?, ?, ?, ?, ?, ?, 1)",
        ((i, i % 200 + 1, f"g{i}", f"Title {i}", text, ts(i * 180 / n)) for i in range(1, n + 1)),
    )
    conn.executemany(
        "INSERT INTO sightings (article_id, feed_id, seen_at) VALUES (?, ?, ?)",
        ((i, i % 200 + 1, ts(0)) for i in range(1, n + 1)),
    )
    matched = range(1, n + 1, 20)
    conn.executemany(
        "INSERT INTO matches (id, rule, article_id, evidence, created_at) VALUES (?, 'r', ?, '[]', ?)",
        ((i, i, ts(0)) for i in matched),
    )
    conn.executemany(
        "INSERT INTO alerts (match_id, rule, article_id, channel, status, delivery, priority, attempts, created_at)"
        " VALUES (?, 'r', ?, 'telegram', ?, 'instant', 'normal', 0, ?)",
        ((i, i, "pending" if i % 100 == 1 else "sent", ts(0)) for i in matched),
    )
    conn.commit()
    conn.close()


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    print(f"{label:<44} {1000 * (time.perf_counter() - start):9.1f} ms")
    return result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "monitor.db"
        timed(f"build {n} articles", lambda: build(path, n))
        print(f"{'database size':<44} {path.stat().st_size / 2**20:9.1f} MiB")
        engine = make_engine(f"sqlite:///{path}")
        sf = make_session_factory(engine)
        cfg = Config(
            path="bench",
            monitor=MonitorSettings(database=str(engine.url)),
            fetch=FetchSettings(),
            channels={},
            terms={},
            feeds=(),
            rules=(),
            matcher=compile_rules((), {}),
        )
        timed("status facts (collect_status)", lambda: collect_status(cfg, sf, engine, NOW))

        stop, written = threading.Event(), [0]

        def writer() -> None:
            c = sqlite3.connect(path, timeout=30)
            while not stop.is_set():
                with c:
                    c.execute(
                        "INSERT INTO articles (feed_id, guid, title, text, first_seen_at, alertable)"
                        " VALUES (1, ?, 't', 'x', '2026-01-01 00:00:00', 1)",
                        (f"w{written[0]}",),
                    )
                written[0] += 1
            c.close()

        t = threading.Thread(target=writer)
        t.start()
        before = written[0]
        timed("online backup while a writer inserts", lambda: backup(engine, Path(tmp) / "b.db"))
        during = written[0] - before
        stop.set()
        t.join()
        print(f"{'  writer commits during the backup':<44} {during:9d}")

        metrics = Metrics(alert_source=lambda: views.alert_counts(sf))
        server = HealthServer("127.0.0.1:0", metrics.registry, lambda: True)
        server.start()
        timed(
            "/metrics scrape (alert counts from DB)",
            lambda: urllib.request.urlopen(server.url + "/metrics").read(),
        )
        server.stop()

        timed("prune articles older than 90 days", lambda: prune(sf, NOW, 90 * 86400, True))
        report = timed("optimize (VACUUM if worth it)", lambda: optimize(engine))
        print(
            f"{'  size before -> after':<44} {report.size_before / 2**20:6.1f} -> {report.size_after / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()
