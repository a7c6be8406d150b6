"""Several ``monitor run`` workers on one PostgreSQL database (issue 16), as processes.

Three daemons share 300 feeds of a local feed server and one json:// channel on it.
The feed server holds its answers until every worker has claimed its first batch, so the
work is shared, not done by whichever worker started first. Each scenario checks what a
user would: every article stored once, every feed polled once per cycle, every alert
delivered once — also when a worker is SIGKILLed mid-cycle (its leases lapse and the
others take its feeds) and when the PostgreSQL server restarts under running daemons
(they log, retry and lose nothing).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import ProgrammingError

from monitor.store.schema import AlertRow, ArticleRow, FeedRow, WorkerRow
from tests.pg import PgServer, postgres_server  # noqa: F401  (fixture)
from tests.support import ROOT, LocalServer, Request, Response, cli_env

N_FEEDS = 300
LEASE_S = 6
LATENCY_S = 0.05


def word(rng: random.Random) -> str:
    """A made-up word: no two articles share their rare words, so none joins a story."""
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4))


def matches(feed: int, entry: int) -> bool:
    return (feed + entry) % 10 == 0


def headline(feed: int, entry: int) -> str:
    rng = random.Random(feed * 1000 + entry)
    who = "Witkoff" if matches(feed, entry) else word(rng).title()
    return f"{who} {word(rng)} {word(rng)} {word(rng)} t{feed}x{entry}"


def feed_body(feed: int, entries: int) -> bytes:
    items = []
    for j in range(entries):
        rng = random.Random(-(feed * 1000 + j))
        lead = " ".join(word(rng) for _ in range(25))
        link = f"https://news{feed % 7}.example/f{feed}/e{j}"
        items.append(
            f"<item><title>{escape(headline(feed, j))}</title><link>{link}</link>"
            f"<guid>{link}</guid><description>{escape(lead)}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@dataclass
class Feeds:
    """The feed server's state: which round it serves, its gate, who asked what."""

    server: LocalServer
    round: int = 1
    gate: threading.Event = field(default_factory=threading.Event)
    hits: Counter[tuple[int, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def entries(self) -> int:
        return self.round + 1  # round 1: two entries a feed; each round one more

    def answer(self, req: Request) -> Response:
        with self.lock:
            self.hits[(self.round, req.path)] += 1
            round_ = self.round
        self.gate.wait(60)
        time.sleep(LATENCY_S)
        feed = int(req.path.removeprefix("/f").removesuffix(".xml"))
        return Response(200, {"Content-Type": "application/rss+xml"}, feed_body(feed, round_ + 1))

    def polled(self, round_: int) -> Counter[str]:
        with self.lock:
            return Counter({p: n for (r, p), n in self.hits.items() if r == round_})

    def expected_alerts(self) -> set[str]:
        return {f"t{i}x{j}" for i in range(N_FEEDS) for j in range(self.entries()) if matches(i, j)}


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def lines(self, event: str) -> list[dict[str, str]]:
        out = []
        for line in self.log.read_text("utf-8", "replace").splitlines():
            if f"event={event}" in line:
                out.append(dict(p.split("=", 1) for p in line.split() if "=" in p))
        return out


@dataclass
class Cluster:
    feeds: Feeds
    hook: list[dict[str, str]]
    config: Path
    url: str
    tmp: Path
    workers: list[Worker] = field(default_factory=list)

    def start(self, n: int) -> None:
        for k in range(len(self.workers), len(self.workers) + n):
            log = self.tmp / f"worker{k}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(self.config), "run"],
                cwd=ROOT,
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb"),
            )
            self.workers.append(Worker(proc, log))

    def db(self) -> object:
        return create_engine(self.url)

    def scalar(self, stmt: object) -> int:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(stmt) or 0)  # type: ignore[call-overload]
        finally:
            engine.dispose()

    def alive_workers(self) -> int:
        try:
            return self.scalar(
                select(func.count()).select_from(WorkerRow).where(WorkerRow.stopped_at.is_(None))
            )
        except ProgrammingError:  # no table yet: the first worker is still migrating
            return 0

    def make_due(self) -> None:
        engine = create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE feeds SET next_check_at = now() - interval '1 second'"))
        engine.dispose()

    def delivered(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        for message in list(self.hook):
            blob = json.dumps(message)
            for token in self.feeds.expected_alerts():
                if f"{token}\\" in blob or f'{token}"' in blob or f"{token} " in blob:
                    seen[token] += 1
        return seen

    def stop(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.proc.wait(30)
            except subprocess.TimeoutExpired:
                w.proc.kill()


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def cluster(postgres_server: PgServer, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    server = LocalServer().start()
    feeds = Feeds(server)
    hook: list[dict[str, str]] = []

    def accept(req: Request) -> Response:
        hook.append(json.loads(req.body))
        return Response(200, {}, b"{}")

    server.route("/hook", accept)
    lines = [
        "[monitor]",
        f'database = "{postgres_server.url}"',
        'tick = "1s"',
        f'worker_lease = "{LEASE_S}s"',
        'poll_interval = "1h"',
        'backlog = "30d"',
        "",
        "[fetch]",
        "concurrency = 8",
        "per_host = 8",
        "",
        "[channels]",
        f'hook = "json://{server.url("/hook").removeprefix("http://")}"',
        "",
        "[[rules]]",
        'name = "witkoff"',
        'query = "Witkoff"',
        'channels = ["hook"]',
    ]
    for i in range(N_FEEDS):
        lines += ["", "[[feeds]]", f'url = "{server.route(f"/f{i}.xml", feeds.answer)}"']
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    c = Cluster(feeds, hook, config, postgres_server.url, tmp_path)
    try:
        yield c
    finally:
        feeds.gate.set()
        c.stop()
        server.stop()


def first_round(c: Cluster, workers: int = 3) -> None:
    """Start the workers; open the gate once each has claimed its first batch; wait for
    every feed to be stored and every alert delivered."""
    c.start(workers)
    until(lambda: c.alive_workers() == workers, 90, f"{workers} workers to start their cycles")
    c.feeds.gate.set()
    settle(c)


def settle(c: Cluster) -> None:
    total = N_FEEDS * c.feeds.entries()
    until(lambda: c.scalar(select(func.count(ArticleRow.id))) == total, 90, f"{total} articles")
    expected = c.feeds.expected_alerts()
    until(lambda: set(c.delivered()) >= expected, 60, f"{len(expected)} alerts delivered")
    time.sleep(2 * 1.0 + 1)  # two more ticks: a duplicate poll or send would show now


def polled_by(c: Cluster) -> list[int]:
    return [len(w.lines("feed.polled")) for w in c.workers]


def assert_stored_once(c: Cluster) -> None:
    total = N_FEEDS * c.feeds.entries()
    assert c.scalar(select(func.count(ArticleRow.id))) == total
    assert c.scalar(select(func.count(func.distinct(ArticleRow.canonical_link)))) == total
    assert c.scalar(select(func.count(AlertRow.id))) == len(c.feeds.expected_alerts())
    assert c.scalar(select(func.count()).select_from(FeedRow).where(FeedRow.lease_owner.is_not(None))) == 0  # fmt: skip


def test_three_workers_share_the_feeds_and_do_each_thing_once(cluster: Cluster) -> None:
    c = cluster
    first_round(c)

    assert set(c.feeds.polled(1).values()) == {1}, "a feed was polled twice in one cycle"
    assert len(c.feeds.polled(1)) == N_FEEDS
    assert_stored_once(c)
    assert set(c.delivered().values()) == {1}, "an alert was delivered twice"
    shares = polled_by(c)
    assert sum(shares) == N_FEEDS and all(n > 0 for n in shares), shares

    c.feeds.round = 2  # every feed has one entry more
    c.make_due()
    settle(c)
    assert set(c.feeds.polled(2).values()) == {1} and len(c.feeds.polled(2)) == N_FEEDS
    assert_stored_once(c)
    assert set(c.delivered().values()) == {1}
    assert all(w.proc.poll() is None for w in c.workers), "a worker died"
    for w in c.workers:
        assert not w.lines("cycle.failed"), w.log.read_text()[-2000:]


def test_a_worker_killed_mid_cycle_leaves_its_feeds_to_the_others(cluster: Cluster) -> None:
    c = cluster
    first_round(c)

    c.feeds.gate.clear()  # round 2 answers wait: the workers claim, then one is killed
    c.feeds.round = 2
    c.make_due()
    victim = c.workers[0]
    held = lambda: c.scalar(  # noqa: E731
        select(func.count())
        .select_from(FeedRow)
        .where(FeedRow.lease_owner.like(f"%:{victim.proc.pid}:%"))
    )
    until(lambda: held() > 0, 30, "the first worker to claim feeds of round 2")
    claimed = held()
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    killed_at = time.monotonic()
    c.feeds.gate.set()

    settle(c)
    took = time.monotonic() - killed_at
    assert_stored_once(c)
    assert set(c.delivered().values()) == {1}, "an alert was delivered twice"
    polled = c.feeds.polled(2)
    assert len(polled) == N_FEEDS
    twice = [p for p, n in polled.items() if n > 1]
    # The killed worker's own requests reached the server: its feeds were asked twice
    # (once by it, once by whoever took them after the lease lapsed), the rest once.
    assert len(twice) <= claimed and max(polled.values()) == 2, (claimed, polled.most_common(3))
    assert took >= LEASE_S - 1, "its feeds were taken before its lease lapsed"
    survivors = c.workers[1:]
    assert all(w.proc.poll() is None for w in survivors)


def test_postgresql_restarted_under_running_workers_loses_nothing(
    cluster: Cluster,
    postgres_server: PgServer,  # noqa: F811
) -> None:
    c = cluster
    first_round(c, workers=2)

    c.feeds.round = 2
    c.make_due()
    until(lambda: sum(c.feeds.polled(2).values()) > 40, 30, "round 2 under way")
    postgres_server.restart()

    settle(c)
    assert_stored_once(c)
    delivered = c.delivered()
    # At most the one message in flight when the connection was cut goes out twice.
    assert sum(n - 1 for n in delivered.values()) <= 1, delivered.most_common(3)
    assert all(w.proc.poll() is None for w in c.workers), "a worker died with the database"
    failures = [line for w in c.workers for line in w.lines("cycle.failed")]
    failures += [line for w in c.workers for line in w.lines("delivery.failed")]
    assert failures, "nobody noticed the database going away"
    assert all("Traceback" not in w.log.read_text() for w in c.workers)
    _ = os  # the environment of the workers is cli_env's
