"""``monitor status`` and ``monitor db backup|prune|optimize`` on a real SQLite file."""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from monitor.cli import db as cli_db
from monitor.cli import ops
from monitor.config import Config
from monitor.errors import ConfigError
from monitor.match import compile_rules
from monitor.records import FeedConfig, FetchSettings, MonitorSettings
from monitor.store.db import session_scope
from monitor.store.state import Heartbeat, record_heartbeat
from tests.opsdb import add_article, add_feed, add_match, db, db_template  # noqa: F401


@dataclass
class Ctx:
    """The slice of the CLI context the ops commands use."""

    db: object
    settings: MonitorSettings
    feeds: tuple[FeedConfig, ...] = ()

    def config(self) -> Config:
        return Config(
            path="test.toml",
            monitor=self.settings,
            fetch=FetchSettings(),
            channels={},
            terms={},
            feeds=self.feeds,
            rules=(),
            matcher=compile_rules((), {}),
        )

    def session_factory(self):
        return self.db.session_factory

    def engine(self):
        return self.db.engine


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    ops.register(sub)
    cli_db.register(sub)
    return parser.parse_args(argv)


def run(ctx: Ctx, *argv: str) -> int:
    args = parse(*argv)
    return args.handler(args, ctx)


@pytest.fixture
def ctx(db) -> Ctx:  # noqa: F811
    """Kyiv time, five feeds: new, ok, failing, backing off, broken; articles; alerts."""
    now = datetime.now(UTC)
    with session_scope(db.session_factory) as s:
        ok = add_feed(
            s,
            "https://ok.example/rss",
            last_success_at=now - timedelta(minutes=5),
            next_check_at=now + timedelta(minutes=5),
        )
        add_feed(s, "https://new.example/rss")
        add_feed(  # third failure an hour ago, next retry close: still backing off
            s,
            "https://slow.example/rss",
            error_kind="timeout",
            failures=3,
            error_since=now - timedelta(hours=1),
            next_check_at=now + timedelta(minutes=1),
        )
        add_feed(
            s,
            "https://flaky.example/rss",
            error_kind="timeout",
            failures=1,
            error_since=now - timedelta(minutes=10),
            next_check_at=now + timedelta(minutes=4),
        )
        add_feed(
            s,
            "https://down.example/rss?token=SECRETTOKEN99",
            error_kind="http_status",
            failures=6,
            error_since=now - timedelta(days=1),
            next_check_at=now + timedelta(hours=3),
        )
        add_feed(s, "https://removed.example/rss", active=0)
        add_article(s, ok, "old", now - timedelta(days=3))
        for i in range(4):
            a = add_article(s, ok, f"new{i}", now - timedelta(seconds=i))
        add_match(s, a, "r1", "pending", "telegram")
        add_match(s, a, "r2", "dead", "email")
        add_match(
            s, add_article(s, ok, "sent", now - timedelta(seconds=9)), "r1", "sent", "telegram"
        )
    listed = ("ok", "new", "slow", "flaky")  # removed.example is not in the config
    feeds = tuple(
        FeedConfig(u, interval_s=600)
        for u in (
            *(f"https://{n}.example/rss" for n in listed),
            "https://down.example/rss?token=SECRETTOKEN99",
        )
    )
    return Ctx(db, MonitorSettings(database=db.url, timezone="Europe/Kyiv"), feeds)


def test_status_shows_a_running_daemon_and_everything_else(ctx, capsys) -> None:
    """Fresh heartbeat from a live pid: exit 0 and one line per area."""
    record_heartbeat(ctx.db.session_factory, datetime.now(UTC) - timedelta(seconds=20), os.getpid())
    assert run(ctx, "status") == 0
    out = capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in out.splitlines() if not line.startswith(" "))
    assert lines["daemon"].strip().startswith(f"running, pid {os.getpid()}, last cycle")
    assert "(20 s ago)" in lines["daemon"] or "(21 s ago)" in lines["daemon"]
    assert lines["feeds"].strip() == (
        "5 active: 1 new, 1 ok, 1 failing, 1 backing off, 1 broken; "
        "1 removed from the config (not polled any more)"
    )
    assert lines["articles"].strip() == "5 today, 6 in all"  # "old" is 3 days old
    assert lines["alerts"].strip() == "1 pending, 0 sending, 1 dead (email 1), 1 sent"
    assert lines["database"].strip().startswith(f"{ctx.db.path}, ")
    assert "https://down.example/rss?token=***: http_status x6, broken since " in out
    assert "https://slow.example/rss: timeout x3, backing off since " in out
    assert "https://flaky.example/rss: timeout x1, failing since " in out
    assert "SECRETTOKEN99" not in out


def test_status_exits_3_when_the_heartbeat_is_old(ctx, capsys) -> None:
    """A heartbeat older than max(120 s, 4 ticks) means the daemon is not running."""
    record_heartbeat(ctx.db.session_factory, datetime.now(UTC) - timedelta(minutes=30), os.getpid())
    assert run(ctx, "status") == ops.EXIT_NOT_RUNNING
    assert "NOT RUNNING (heartbeat too old)" in capsys.readouterr().out


def test_status_exits_3_when_the_pid_is_gone(ctx, capsys) -> None:
    """A fresh heartbeat from a process that exited: not running."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    record_heartbeat(ctx.db.session_factory, datetime.now(UTC), int(child.stdout))
    assert run(ctx, "status") == ops.EXIT_NOT_RUNNING
    assert "daemon:    NOT RUNNING, pid" in capsys.readouterr().out


def test_status_on_a_database_the_daemon_never_used(db, capsys) -> None:  # noqa: F811
    """An empty database: exit 3, zero counts, no crash."""
    ctx = Ctx(db, MonitorSettings(database=db.url))
    assert run(ctx, "status") == ops.EXIT_NOT_RUNNING
    out = capsys.readouterr().out
    assert "never ran" in out
    assert "0 active: 0 new, 0 ok, 0 failing, 0 backing off, 0 broken" in out


def test_status_json_carries_the_same_facts(ctx, capsys) -> None:
    """--json: one object for scripts, secrets masked."""
    record_heartbeat(ctx.db.session_factory, datetime.now(UTC), os.getpid())
    assert run(ctx, "status", "--json") == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["daemon"] == "running"
    assert data["feeds"] == {"new": 1, "ok": 1, "failing": 1, "backing_off": 1, "broken": 1}
    assert data["alerts"] == {"pending": 1, "sending": 0, "sent": 1, "dead": 1}
    assert data["articles_total"] == 6
    assert "SECRETTOKEN99" not in out


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        (
            datetime(2026, 11, 27, 1, 30, tzinfo=UTC),
            "UTC",
            datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
        ),
        # 01:30 UTC is 03:30 in Kyiv (UTC+2): Kyiv's day began at 22:00 UTC the day before
        (
            datetime(2026, 11, 27, 1, 30, tzinfo=UTC),
            "Europe/Kyiv",
            datetime(2026, 11, 26, 22, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 26, 23, 30, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 26, 5, 0, tzinfo=UTC),
        ),
    ],
)
def test_today_starts_at_local_midnight(now, tz, expected) -> None:
    """'Articles today' counts from midnight in [monitor].timezone."""
    assert ops.local_midnight(now, tz) == expected


@pytest.mark.parametrize(
    ("age_s", "pid_alive", "expected"),
    [(None, True, "never"), (10, True, "running"), (10, False, "stopped"), (3600, True, "stale")],
)
def test_daemon_state(age_s, pid_alive, expected) -> None:
    """Heartbeat age and pid decide whether the daemon is up."""
    now = datetime(2026, 11, 27, tzinfo=UTC)
    pid = os.getpid() if pid_alive else 2**22 + 1  # above the default pid_max
    beat = Heartbeat(None if age_s is None else now - timedelta(seconds=age_s), pid)
    assert ops.daemon_state(beat, now, 120) == expected


def test_db_backup_writes_a_copy_and_refuses_to_overwrite(ctx, tmp_path, capsys) -> None:
    """``db backup PATH`` copies; a second run refuses with exit 2 (usage) unless --force."""
    dest = tmp_path / "backup.db"
    assert run(ctx, "db", "backup", str(dest)) == 0
    assert "backup written" in capsys.readouterr().out
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 6
    assert run(ctx, "db", "backup", str(dest)) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert run(ctx, "db", "backup", "--force", str(dest)) == 0


def test_db_backup_to_an_unusable_path_is_a_usage_error(ctx, tmp_path, capsys) -> None:
    """A folder or a missing folder as PATH: exit 2, nothing written."""
    assert run(ctx, "db", "backup", str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    assert run(ctx, "db", "backup", str(tmp_path / "nope" / "b.db")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_db_prune_uses_the_configured_retention(ctx, capsys) -> None:
    """``db prune`` applies [monitor].retention once; without it, nothing happens."""
    assert run(ctx, "db", "prune") == 0
    assert "nothing to prune" in capsys.readouterr().out
    ctx.settings = MonitorSettings(database=ctx.db.url, retention_s=86400.0, keep_matched=True)
    assert run(ctx, "db", "prune") == 0
    assert capsys.readouterr().out.strip() == "pruned 1 articles"


def test_db_optimize_reports_sizes(ctx, capsys) -> None:
    """``db optimize`` runs and prints before/after sizes."""
    assert run(ctx, "db", "optimize") == 0
    size = r"[\d.]+ [KMG]?i?B"
    assert re.fullmatch(rf"(optimized|vacuumed): {size} -> {size}\n", capsys.readouterr().out)


def test_every_db_subcommand_is_in_one_group() -> None:
    """``monitor db`` lists upgrade, backup, prune and optimize together."""
    from monitor.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["db", "upgrade"]).handler is cli_db.cmd_db_upgrade
    assert parser.parse_args(["db", "backup", "x.db"]).handler is cli_db.cmd_db_backup
    assert parser.parse_args(["db", "prune"]).handler is cli_db.cmd_db_prune
    assert parser.parse_args(["db", "optimize"]).handler is cli_db.cmd_db_optimize


def test_status_on_a_broken_database_file_is_one_error_line(tmp_path, capsys) -> None:
    """A file that is not SQLite: exit 1 and one 'database error:' line, no traceback."""
    from monitor.store.db import make_engine, make_session_factory

    bad = tmp_path / "monitor.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    engine = make_engine(f"sqlite:///{bad}")

    broken = SimpleNamespace(
        path=bad,
        url=f"sqlite:///{bad}",
        engine=engine,
        session_factory=make_session_factory(engine),
    )
    assert run(Ctx(broken, MonitorSettings(database=broken.url)), "status") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"database error: {bad}: ") and "not a SQLite database" in err
    assert len(err.strip().splitlines()) == 1
    engine.dispose()


def test_status_json_always_carries_every_key(db, capsys) -> None:  # noqa: F811
    """An empty database still lists every feed state and every alert status, as 0."""
    ctx = Ctx(db, MonitorSettings(database=db.url))
    run(ctx, "status", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["feeds"] == dict.fromkeys(("new", "ok", "failing", "backing_off", "broken"), 0)
    assert data["alerts"] == dict.fromkeys(("pending", "sending", "sent", "dead"), 0)


def test_status_with_a_bad_config_exits_2(db, capsys) -> None:  # noqa: F811
    """A config error is a usage error (exit 2), not a runtime failure."""

    class BadConfig(Ctx):
        def config(self) -> Config:
            raise ConfigError("unknown key 'tick_s'", path="config.toml", key="monitor.tick_s")

    assert run(BadConfig(db, MonitorSettings(database=db.url)), "status") == 2
    assert "config error" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["{not json", "[]", '{"at": 5}', '{"at": "2026-12-03T10:00:00"}'])
def test_status_reads_an_unreadable_run_once_record_as_none(db, capsys, value) -> None:  # noqa: F811
    """A ``once.last_run`` value this version cannot read (another version wrote it, say)
    is no crash: status says what it would without it."""
    from monitor.store.state import ONE_SHOT_KEY, set_state

    with session_scope(db.session_factory) as s:
        set_state(s, ONE_SHOT_KEY, value, datetime.now(UTC))
    assert run(Ctx(db, MonitorSettings(database=db.url)), "status", "--json") == 3
    data = json.loads(capsys.readouterr().out)
    assert data["daemon"] == "never" and data["last_run_once"] is None


def test_status_lists_the_workers_sharing_the_database_and_what_each_holds(ctx, capsys) -> None:
    """Two daemons on other hosts (one silent for 10 minutes: killed) and a run --once
    that finished: the heartbeat's pid is another host's, so 'running' comes from the
    workers, and each worker's line says what it did and holds."""
    from monitor.store import workers

    now = datetime.now(UTC)
    there = workers.WorkerIdentity("db-2:999999:aa", "db-2", 999999, "daemon")
    killed = workers.WorkerIdentity("db-3:888888:bb", "db-3", 888888, "daemon")
    once = workers.WorkerIdentity("db-1:777777:cc", "db-1", 777777, "once")
    record_heartbeat(ctx.db.session_factory, now - timedelta(seconds=5), 999999)
    with session_scope(ctx.db.session_factory) as s:
        workers.record_cycle(s, there, now - timedelta(seconds=5), feeds=40, new=3, ms=1200)
        workers.heartbeat(s, killed, now - timedelta(minutes=10))
        workers.heartbeat(s, once, now - timedelta(minutes=2))
        workers.stopped(s, once, now - timedelta(minutes=1))
        workers.take_lease(s, "delivery", there.id, now, 60)
        workers.claim_feeds(s, there.id, now, 60, 1, due_at=None)
    assert run(ctx, "status") == 0
    out = capsys.readouterr().out
    assert "daemon:    running, pid 999999" in out
    assert "workers:   1 running, 1 gone, 1 stopped" in out
    line = next(x for x in out.splitlines() if "db-2:999999 (daemon)" in x)
    assert "running, heard from 5 s ago" in line and "40 feeds, 3 new in 1.2 s" in line
    assert line.endswith("holds 1 feeds, delivery")
    assert "db-3:888888 (daemon): gone, heard from 10 min ago (killed or cut off" in out
    assert "db-1:777777 (run --once): stopped" in out

    assert run(ctx, "status", "--json") == 0
    shown = {w["worker"]: w for w in json.loads(capsys.readouterr().out)["workers"]}
    assert shown["db-2:999999"]["state"] == "running"
    assert shown["db-2:999999"]["leases"] == ["delivery"]
    assert shown["db-2:999999"]["feed_leases"] == 1
    assert shown["db-3:888888"]["state"] == "gone"
