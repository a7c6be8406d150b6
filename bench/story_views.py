"""The queries of ``monitor stories`` and of the STORY column of ``monitor alerts`` on a
realistic SQLite file: their plans and their times.

    .venv/bin/python bench/story_views.py [ARTICLES]   (default 100000)

Builds a migrated database with ARTICLES articles over 180 days from 200 feeds, in
stories of 1 to 6 articles (a second sighting on every third article), 5% matched by
rule ``r`` with an alert, 33% by ``broad`` and 1% by ``rare`` (no alerts). Then, for ``recent_stories`` (24 h, 7 d, with ``--rule``) and
``alert_stories`` (the 20 newest alerts), prints each SQL statement's EXPLAIN QUERY PLAN
(a ``SCAN articles`` would be a full table read) and the median time of 5 runs.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from monitor.store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from monitor.store.story_views import alert_stories, recent_stories  # noqa: E402

NOW = datetime.now(UTC)
FEEDS = 200
RULES = (("r", 20), ("broad", 3), ("rare", 97))  # a rule and how often it matches: 1 in N


def build(path: Path, n: int) -> None:
    """ARTICLES articles, newest with the highest id, in stories of 1-6 consecutive ones."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    ts = lambda d: (NOW - timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    conn.executemany(
        "INSERT INTO feeds (id, url, name, active, failures, polls, created_at)"
        " VALUES (?, ?, ?, 1, 0, 0, ?)",
        [(i, f"https://feed{i}.example/rss", f"Outlet {i}", ts(0)) for i in range(1, FEEDS + 1)],
    )
    rows, story, left = [], 0, 0
    for i in range(1, n + 1):
        if left == 0:
            story, left = i, 1 + i % 6
        left -= 1
        age = (n - i) * 180 / n
        reason = "new" if story == i else "same_story"
        rows.append((i, i % FEEDS + 1, f"g{i}", f"Title {i}", ts(age), story, reason))
    conn.executemany(
        "INSERT INTO articles (id, feed_id, guid, title, text, first_seen_at, alertable,"
        " story_id, story_reason, story_score) VALUES (?, ?, ?, ?, 'text', ?, 1, ?, ?, 80)",
        rows,
    )
    conn.executemany(
        "INSERT INTO sightings (article_id, feed_id, seen_at) VALUES (?, ?, ?)",
        [(r[0], r[1], r[4]) for r in rows]
        + [(r[0], (r[1] + 7) % FEEDS + 1, r[4]) for r in rows[::3]],
    )
    matched = [(rule, r) for r in rows for rule, every in RULES if r[0] % every == 0]
    conn.executemany(
        "INSERT INTO matches (rule, article_id, evidence, created_at) VALUES (?, ?, '[]', ?)",
        [(rule, r[0], r[4]) for rule, r in matched],
    )
    conn.executemany(
        "INSERT INTO alerts (rule, article_id, channel, status, delivery, priority,"
        " attempts, created_at, kind, revision) VALUES (?, ?, 'c', 'sent', 'instant',"
        " 'normal', 1, ?, 'match', 0)",
        [(rule, r[0], r[4]) for rule, r in matched if rule == "r"],
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def measure(factory: Any, engine: Any, name: str, call: Callable[[Any], object]) -> None:
    """Print the plan of each statement ``call`` runs, then its median time."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    with factory() as session:
        result = call(session)
    event.remove(engine, "before_cursor_execute", record)
    print(f"\n== {name}: {len(result) if hasattr(result, '__len__') else '?'} results")
    raw = engine.raw_connection()
    seen: set[str] = set()
    for sql, params in statements:
        if sql in seen:
            continue
        seen.add(sql)
        plan = raw.cursor().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        print("  " + " ".join(sql.split())[:110] + " …")
        for row in plan:
            print(f"      {row[-1]}")
    raw.close()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with factory() as session:
            call(session)
        times.append((time.perf_counter() - start) * 1000)
    print(f"  median {statistics.median(times):.1f} ms over 5 runs")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories.db"
        start = time.perf_counter()
        build(path, n)
        print(f"built {n} articles in {time.perf_counter() - start:.1f} s")
        engine = make_engine(f"sqlite:///{path}", create=False)
        factory = make_session_factory(engine)
        day, week = NOW - timedelta(hours=24), NOW - timedelta(days=7)
        measure(factory, engine, "stories --since 24h", lambda s: recent_stories(s, day))
        measure(factory, engine, "stories --since 7d", lambda s: recent_stories(s, week))
        measure(
            factory, engine, "stories --since 7d --rule r",
            lambda s: recent_stories(s, week, rule="r"),
        )  # fmt: skip
        measure(
            factory, engine, "stories --since 7d --rule broad (1 in 3 articles)",
            lambda s: recent_stories(s, week, rule="broad"),
        )  # fmt: skip
        measure(
            factory, engine, "stories --since 180d --limit 1000",
            lambda s: recent_stories(s, NOW - timedelta(days=181), limit=1000),
        )  # fmt: skip
        newest = list(range(n // 20, n // 20 - 20, -1))  # alert ids: one per 20 articles
        measure(factory, engine, "alerts (STORY of 20)", lambda s: alert_stories(s, newest))
        engine.dispose()


if __name__ == "__main__":
    main()
