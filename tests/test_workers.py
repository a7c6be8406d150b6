"""Work sharing between workers (monitor.store.workers), on SQLite and PostgreSQL.

What a user running several ``monitor run`` on one database relies on: two workers
never hold one feed, a killed worker's feeds come back once its lease lapses, a poll's
outcome gives the lease back, one worker delivers at a time, and ``monitor status``
says who is running and what each holds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from monitor.errors import FetchError
from monitor.records import FeedConfig
from monitor.store import db, feeds, workers
from monitor.store.schema import FeedRow
from tests.pg import postgres_url  # noqa: F401  (fixture)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
A, B = (
    workers.WorkerIdentity("a:1:x", "a", 1, "daemon"),
    workers.WorkerIdentity("b:2:y", "b", 2, "daemon"),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path) -> Iterator[db.SessionFactory]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path}/w.db")
    else:
        engine = db.make_engine(request.getfixturevalue("postgres_url"))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    f = db.make_session_factory(engine)
    with db.session_scope(f) as s:
        feeds.sync_feeds(s, [FeedConfig(f"https://n{i}.example/rss") for i in range(30)], NOW)
    yield f
    engine.dispose()


def claim(
    f: db.SessionFactory, who: workers.WorkerIdentity, now: datetime, n: int = 10
) -> list[int]:
    with db.session_scope(f, write=True) as s:
        return workers.claim_feeds(s, who.id, now, 60, n, due_at=now)


def test_two_workers_never_hold_the_same_feed_and_a_lapsed_lease_comes_back(factory) -> None:  # type: ignore[no-untyped-def]
    a = claim(factory, A, NOW)
    b = claim(factory, B, NOW)
    assert len(a) == len(b) == 10 and not set(a) & set(b)
    rest = claim(factory, B, NOW, n=30)
    assert len(rest) == 10 and not set(rest) & set(a + b)  # the last ten, once
    # A is killed: nothing of its ten is free until its lease lapses, then they are
    assert claim(factory, B, NOW + timedelta(seconds=30), n=30) == []
    later = claim(factory, B, NOW + timedelta(seconds=61), n=30)
    assert set(a) <= set(later)


def dead_pid() -> int:
    """A pid no process has: a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_predecessor_on_this_host_frees_its_feeds_at_once_others_wait(factory) -> None:  # type: ignore[no-untyped-def]
    """systemd restarts a SIGKILLed daemon, or a `run --once` follows one stopped by a
    full disk: the successor on the same host takes the feeds and the delivery lease of
    the gone process at once, not after the lease; a live process's and another host's
    leases stay until they lapse."""
    here = socket.gethostname()
    me = workers.identity("daemon")
    gone = workers.WorkerIdentity(f"{here}:{dead_pid()}:k", here, 0, "daemon")
    alive = workers.WorkerIdentity(f"{here}:{os.getppid()}:p", here, os.getppid(), "daemon")
    elsewhere = workers.WorkerIdentity(f"other-host:{dead_pid()}:o", "other-host", 0, "daemon")
    held = {w.id: claim(factory, w, NOW, n=5) for w in (gone, alive, elsewhere)}
    with db.session_scope(factory) as s:
        assert workers.take_lease(s, "delivery", gone.id, NOW, 600)
        assert workers.take_lease(s, "housekeeping", gone.id, NOW, 600)
    with db.session_scope(factory, write=True) as s:
        reaped = workers.reap_dead_here(s, me, NOW, jobs=("delivery",))
    assert reaped == [gone.id]
    later = claim(factory, me, NOW + timedelta(seconds=1), n=30)
    assert set(held[gone.id]) <= set(later)
    assert not set(later) & set(held[alive.id] + held[elsewhere.id])
    with db.session_scope(factory) as s:
        assert workers.take_lease(s, "delivery", me.id, NOW + timedelta(seconds=1), 30)
        assert workers.lease_holder(s, "housekeeping", NOW) == gone.id  # a period, not a job


def test_a_recorded_poll_gives_its_lease_back_and_another_workers_is_left_alone(factory) -> None:  # type: ignore[no-untyped-def]
    (first,) = claim(factory, A, NOW, n=1)
    with db.session_scope(factory) as s:
        feeds.record_success(
            s, first, title="t", etag=None, last_modified=None, body_hash=None, warning=None,
            next_check=NOW + timedelta(hours=1), now=NOW, owner=A.id,
        )  # fmt: skip
        row = s.get_one(FeedRow, first)
        assert (row.lease_owner, row.lease_until) == (None, None)
    (second,) = claim(factory, A, NOW, n=1)
    # A's lease lapsed and B took the feed: A's late failure must not free B's claim
    taken = claim(factory, B, NOW + timedelta(seconds=61), n=30)
    assert second in taken
    with db.session_scope(factory) as s:
        feeds.record_failure(
            s, second, FetchError("timeout", "slow"), next_check=NOW + timedelta(minutes=5),
            now=NOW, owner=A.id,
        )  # fmt: skip
        assert s.get_one(FeedRow, second).lease_owner == B.id


def test_one_worker_holds_a_named_lease_until_it_lapses_or_is_given_back(factory) -> None:  # type: ignore[no-untyped-def]
    with db.session_scope(factory) as s:
        assert workers.take_lease(s, "delivery", A.id, NOW, 30)
        assert not workers.take_lease(s, "delivery", B.id, NOW + timedelta(seconds=10), 30)
        assert workers.lease_holder(s, "delivery", NOW) == A.id
        assert workers.take_lease(s, "delivery", A.id, NOW + timedelta(seconds=10), 30)  # kept
        assert workers.take_lease(s, "delivery", B.id, NOW + timedelta(seconds=41), 30)  # lapsed
        workers.release_lease(s, "delivery", B.id, NOW + timedelta(seconds=42))
        assert workers.take_lease(s, "delivery", A.id, NOW + timedelta(seconds=43), 30)


def test_workers_are_listed_with_what_they_hold_and_a_stopped_one_gives_all_back(factory) -> None:  # type: ignore[no-untyped-def]
    with db.session_scope(factory) as s:
        workers.heartbeat(s, A, NOW)
        workers.heartbeat(s, B, NOW)
        workers.take_lease(s, "delivery", B.id, NOW, 30)
    claim(factory, A, NOW, n=4)
    with db.session_scope(factory) as s:
        shown = {w.id: w for w in workers.workers(s, NOW, since=NOW - timedelta(hours=1))}
        assert (shown[A.id].feed_leases, shown[A.id].leases) == (4, ())
        assert (shown[B.id].feed_leases, shown[B.id].leases) == (0, ("delivery",))
        workers.stopped(s, A, NOW)
        workers.stopped(s, B, NOW)
    with db.session_scope(factory) as s:
        assert workers.others_alive(s, A, NOW, 60) == 0
        assert s.scalar(select(FeedRow.id).where(FeedRow.lease_owner.is_not(None))) is None
        assert workers.take_lease(s, "delivery", A.id, NOW + timedelta(seconds=1), 30)


def test_concurrent_claims_on_postgresql_skip_locked_rows_instead_of_waiting(
    postgres_url: str,  # noqa: F811
) -> None:
    """Worker A's claim has not committed yet; worker B's claim at the same moment takes
    other feeds at once (SKIP LOCKED) rather than waiting for A or taking A's."""
    engine = db.make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    f = db.make_session_factory(engine)
    with db.session_scope(f) as s:
        feeds.sync_feeds(s, [FeedConfig(f"https://n{i}.example/rss") for i in range(30)], NOW)
    got: dict[str, list[int]] = {}
    a_claimed, b_done = threading.Event(), threading.Event()

    def worker_a() -> None:
        with db.session_scope(f) as s:
            got["a"] = workers.claim_feeds(s, A.id, NOW, 60, 10, due_at=NOW)
            a_claimed.set()
            b_done.wait(10)  # holds its row locks until B is done

    t = threading.Thread(target=worker_a)
    t.start()
    a_claimed.wait(10)
    with db.session_scope(f) as s:
        got["b"] = workers.claim_feeds(s, B.id, NOW, 60, 10, due_at=NOW)
    b_done.set()
    t.join(10)
    assert len(got["a"]) == len(got["b"]) == 10 and not set(got["a"]) & set(got["b"])
    engine.dispose()


def test_metrics_show_each_running_worker_its_last_cycle_and_its_leases() -> None:
    from monitor.daemon.health import Metrics

    def info(id_: str, seen: datetime, stopped: datetime | None = None) -> workers.WorkerInfo:
        host, pid, _ = id_.split(":")
        return workers.WorkerInfo(
            id_, host, int(pid), "daemon", NOW, seen, stopped, seen, 12, 3, 900, 5, ()
        )

    m = Metrics()
    m.set_workers(
        [info("a:1:x", NOW), info("b:2:y", NOW - timedelta(minutes=5)), info("c:3:z", NOW, NOW)],
        NOW,
        120,
    )
    text_ = m.render().decode()
    assert 'press_monitor_workers{state="running"} 1.0' in text_
    assert 'press_monitor_workers{state="gone"} 1.0' in text_
    assert 'press_monitor_worker_feed_leases{host="a",worker="a:1"} 5.0' in text_
    (stamp,) = [
        line for line in text_.splitlines()
        if line.startswith('press_monitor_worker_last_cycle_timestamp_seconds{host="a"')
    ]  # fmt: skip
    assert float(stamp.split()[-1]) == NOW.timestamp()
    assert 'worker="b:2"' not in text_  # gone: no longer a running worker's series
