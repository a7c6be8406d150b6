"""``monitor status`` and ``monitor feeds`` show the feeds of the config they are given,
not those of the last poll cycle, and write nothing (issue 13). Through the real CLI, a
real SQLite file and the seed feed as local files."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from monitor.cli import main
from tests.support import ROOT

SEED_FEED = ROOT / "seeds" / "seed_feed.xml"


def feed_table(name: str) -> str:
    return f'\n[[feeds]]\nurl = "{name}"\nbacklog = "3650d"\n'


def write_config(tmp_path: Path, *feeds: str) -> Path:
    """A config in its own folder, its feeds local copies of the seed feed."""
    for name in feeds:
        (tmp_path / name).write_bytes(SEED_FEED.read_bytes())
    path = tmp_path / "config.toml"
    head = f'[monitor]\ndatabase = "sqlite:///{tmp_path}/monitor.db"\n'
    path.write_text(head + "".join(feed_table(n) for n in feeds), encoding="utf-8")
    return path


def monitor(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str]:
    """``monitor --config CONFIG ARGV...`` in this process: exit code and stdout."""
    code = main(["--config", str(config), *argv])
    return code, capsys.readouterr().out


def stored_feeds(tmp_path: Path) -> list[tuple[str, int, str | None]]:
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        return conn.execute("SELECT url, active, next_check_at FROM feeds ORDER BY url").fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def polled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A config whose one feed ``a.xml`` one ``run --once`` has polled."""
    config = write_config(tmp_path, "a.xml")
    assert monitor(capsys, config, "run", "--once")[0] == 0
    return config


def test_status_counts_feeds_added_to_the_config_as_new_before_a_run(
    polled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("b.xml", "c.xml"):
        (tmp_path / name).write_bytes(SEED_FEED.read_bytes())
    polled.write_text(polled.read_text() + feed_table("b.xml") + feed_table("c.xml"))

    _, out = monitor(capsys, polled, "status")
    assert "feeds:     3 active: 2 new, 1 ok, 0 failing, 0 backing off, 0 broken\n" in out
    _, out = monitor(capsys, polled, "status", "--json")
    status = json.loads(out)
    assert status["feeds"] == {"new": 2, "ok": 1, "failing": 0, "backing_off": 0, "broken": 0}
    assert status["feeds_removed"] == 0


def test_status_and_feeds_show_a_feed_removed_from_the_config_as_removed_and_write_nothing(
    polled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "b.xml").write_bytes(SEED_FEED.read_bytes())
    polled.write_text(polled.read_text().replace('"a.xml"', '"b.xml"'))
    before, db_bytes = stored_feeds(tmp_path), digest(tmp_path / "monitor.db")

    _, out = monitor(capsys, polled, "status")
    assert (
        "feeds:     1 active: 1 new, 0 ok, 0 failing, 0 backing off, 0 broken; "
        "1 removed from the config (not polled any more)\n"
    ) in out
    assert json.loads(monitor(capsys, polled, "status", "--json")[1])["feeds_removed"] == 1

    _, out = monitor(capsys, polled, "feeds", "--all", "--json")
    views = {Path(v["url"]).name: v for v in json.loads(out)}
    assert (views["a.xml"]["status"], views["a.xml"]["next_check"]) == ("removed", None)
    assert views["a.xml"]["articles"] == 5  # its articles stay
    assert (views["b.xml"]["status"], views["b.xml"]["next_check"]) == ("new", None)
    _, out = monitor(capsys, polled, "feeds", "--json")  # without --all: what is followed
    assert [Path(v["url"]).name for v in json.loads(out)] == ["b.xml"]

    assert stored_feeds(tmp_path) == before  # the next poll cycle marks it, not `status`
    assert digest(tmp_path / "monitor.db") == db_bytes


def test_a_failing_feed_removed_from_the_config_is_not_listed_as_failing(
    polled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.xml").write_bytes(b"<html>not a feed</html>")
    os.utime(tmp_path / "a.xml", (time.time() + 60, time.time() + 60))  # not "not modified"
    with sqlite3.connect(tmp_path / "monitor.db") as conn:  # due now: the next run polls it
        conn.execute("UPDATE feeds SET next_check_at = '2000-01-01 00:00:00.000000'")
    monitor(capsys, polled, "run", "--once")
    assert "! " in monitor(capsys, polled, "status")[1]  # failing, while listed

    polled.write_text(polled.read_text().replace(feed_table("a.xml"), ""))
    _, out = monitor(capsys, polled, "status")
    assert "! " not in out and "a.xml" not in out, out
    assert json.loads(monitor(capsys, polled, "status", "--json")[1])["failing"] == []


def test_a_feed_listed_again_shows_its_stored_state_not_removed(
    polled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = polled.read_text()
    (tmp_path / "b.xml").write_bytes(SEED_FEED.read_bytes())
    polled.write_text(text.replace('"a.xml"', '"b.xml"'))
    monitor(capsys, polled, "run", "--once")  # marks a.xml inactive
    assert dict((Path(u).name, a) for u, a, _ in stored_feeds(tmp_path))["a.xml"] == 0
    polled.write_text(text)  # a.xml back, b.xml gone

    _, out = monitor(capsys, polled, "feeds", "--all", "--json")
    views = {Path(v["url"]).name: v["status"] for v in json.loads(out)}
    assert views == {"a.xml": "ok", "b.xml": "removed"}
