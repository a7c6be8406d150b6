"""One feed vocabulary: :func:`monitor.schedule.classify_feed` and the views built on it."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor import schedule
from monitor.config import Config
from monitor.daemon.health import Metrics
from monitor.match import compile_rules
from monitor.records import FeedConfig, FetchSettings, MonitorSettings
from monitor.store import views
from monitor.store.db import session_scope
from monitor.store.views import feed_views
from tests.opsdb import NOW, add_feed, db, db_template  # noqa: F401

H = timedelta(hours=1)
BROKEN_AFTER_S = 12 * 3600.0


CLASSIFY_CASES = [
    # failures, error age, succeeded before, expected state
    (0, None, False, "new"),
    (None, None, False, "new"),
    (0, None, True, "ok"),
    (1, timedelta(minutes=5), True, "failing"),
    (2, 2 * H, False, "failing"),
    (3, 1 * H, True, "backing_off"),
    (9, 11 * H, True, "backing_off"),
    (9, 12 * H, True, "broken"),
    (2, 13 * H, True, "broken"),  # a slow feed (long interval) can break before 3 failures
    (5, None, True, "backing_off"),  # no error_since recorded: never broken
]


@pytest.mark.parametrize(("failures", "error_age", "succeeded", "expected"), CLASSIFY_CASES)
def test_classify_feed(failures, error_age, succeeded, expected) -> None:
    since = NOW - error_age if error_age is not None else None
    success = NOW - 20 * H if succeeded else None
    assert schedule.classify_feed(failures, since, success, NOW, BROKEN_AFTER_S) == expected


def test_every_state_in_the_vocabulary_is_reached_by_classify_feed() -> None:
    """Every state /metrics and ``monitor status`` list (zeros included) is one a feed can
    be in: the table above, checked against classify_feed, reaches each and no other."""
    assert {case[-1] for case in CLASSIFY_CASES} == set(schedule.FEED_STATES)


FEEDS = {
    # url: (failures, error age, next check from now)
    "https://ok.example/rss": (0, None, timedelta(minutes=5)),
    "https://once.example/rss": (1, timedelta(minutes=5), timedelta(minutes=10)),  # 2x interval
    "https://thrice.example/rss": (3, 2 * H, timedelta(minutes=1)),  # retry due soon
    "https://dead.example/rss": (7, 30 * H, timedelta(hours=5)),
}


@pytest.fixture
def feeds_db(db):  # noqa: F811
    with session_scope(db.session_factory) as s:
        for url, (failures, age, next_in) in FEEDS.items():
            add_feed(
                s,
                url,
                failures=failures,
                error_kind="timeout" if failures else None,
                error_since=NOW - age if age else None,
                last_success_at=NOW - 40 * H,
                next_check_at=NOW + next_in,
            )
    return db


def test_feeds_table_status_and_metrics_agree(feeds_db) -> None:
    """The same feeds read the same way in ``monitor feeds``, ``status`` and ``/metrics``;
    one failure is ``failing`` even though its next check is twice the interval away."""
    config = Config(
        path="t.toml",
        monitor=MonitorSettings(database=feeds_db.url, feed_broken_after_s=BROKEN_AFTER_S),
        fetch=FetchSettings(),
        channels={},
        terms={},
        feeds=tuple(FeedConfig(url, interval_s=300) for url in FEEDS),
        rules=(),
        matcher=compile_rules((), {}),
    )
    rows = feed_views(feeds_db.session_factory, config.feeds, NOW, broken_after_s=BROKEN_AFTER_S)
    table = {v.url: v.status for v in rows}
    assert table == {
        "https://ok.example/rss": "ok",
        "https://once.example/rss": "failing",
        "https://thrice.example/rss": "backing_off",
        "https://dead.example/rss": "broken",
    }
    counts = views.feed_status_counts(feeds_db.session_factory, NOW, broken_after_s=BROKEN_AFTER_S)
    from_table = {state: list(table.values()).count(state) for state in schedule.FEED_STATES}
    assert counts == from_table
    metrics = Metrics()
    metrics.set_feed_status_counts(counts)
    gauge = {
        s.labels["status"]: s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        if family.name == "press_monitor_feeds"
        for s in family.samples
    }
    assert gauge == {state: float(n) for state, n in from_table.items()}


def test_backing_off_is_stable_between_retries(feeds_db) -> None:
    """Near a retry and right after it the counts do not flip (so ``for: 6h`` can fire)."""
    seen = {
        tuple(
            views.feed_status_counts(
                feeds_db.session_factory, NOW + d, broken_after_s=BROKEN_AFTER_S
            ).values()
        )
        for d in (timedelta(0), timedelta(minutes=2), timedelta(minutes=30))
    }
    assert len(seen) == 1


DOC_RULE = re.compile(
    r'expr: press_monitor_feeds\{status="(\w+)"\} > 0[^\n]*\n(?:\s+for: (\d+)([mh])\n)?'
)


def feed_rules_in_the_docs() -> list[tuple[str, timedelta]]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    return [
        (state, timedelta(**{"minutes" if unit == "m" else "hours": int(n)}) if n else ZERO)
        for state, n, unit in DOC_RULE.findall(text)
    ]


ZERO = timedelta(0)


def longest_run(state: str, broken_after_s: float, horizon: timedelta) -> timedelta:
    """A feed polled every 5 min fails from t0 on, retried on the real backoff schedule
    (no jitter); sampled every minute, the longest stretch it was classified ``state``."""
    t0 = NOW
    polls, at, failures = [], t0, 0
    while at <= t0 + horizon:
        failures += 1
        polls.append(at)
        at += timedelta(seconds=schedule.next_delay_s(300, failures=failures, rng=NO_JITTER))
    best = run = ZERO
    for minute in range(int(horizon.total_seconds() // 60)):
        t = t0 + timedelta(minutes=minute)
        failed = sum(1 for p in polls if p <= t)
        current = schedule.classify_feed(failed, t0, t0 - H, t, broken_after_s)
        run = run + timedelta(minutes=1) if current == state else ZERO
        best = max(best, run)
    return best


class _NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


NO_JITTER = _NoJitter()


def test_the_feed_alerts_in_operations_md_can_fire() -> None:
    """Each ``press_monitor_feeds{status=...} > 0`` rule in the docs names a real state
    that a continuously failing feed holds for longer than the rule's ``for:``."""
    rules = feed_rules_in_the_docs()
    assert rules, "docs/operations.md lost its feed alert rules"
    for state, hold in rules:
        assert state in schedule.FEED_STATES
        assert longest_run(state, BROKEN_AFTER_S, timedelta(hours=24)) > hold, state
