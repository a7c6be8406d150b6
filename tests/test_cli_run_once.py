"""``monitor run --once``: its summary counts what delivery did and its exit status says
whether everything due went out; ``alerts retry`` and ``alerts --status`` say clearly what
they did. Through the real CLI, a real SQLite file, the seed feed as a local file and a
json:// channel to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import db, state
from tests.support import ROOT, LocalServer, Request, Response, cli_env

pytest_plugins = ["tests.test_delivery_support"]  # the smtp_server fixture (real aiosmtpd)

SEED_FEED = ROOT / "seeds" / "seed_feed.xml"


class Hook:
    """The json:// receiver: answers 500 while ``failing``; keeps what it accepted."""

    def __init__(self, server: LocalServer) -> None:
        self.failing = True
        self.server = server
        self.accepted: list[dict[str, str]] = []
        server.route("/hook", self.answer)

    def answer(self, req: Request) -> Response:
        if self.failing:
            return Response(500, {}, b"down")
        self.accepted.append(json.loads(req.body))
        return Response(200, {}, b"{}")

    def received(self) -> list[dict[str, str]]:
        return self.accepted


@pytest.fixture
def hook(http_server: LocalServer) -> Hook:
    return Hook(http_server)


def write_config(tmp_path: Path, hook: Hook, max_attempts: int) -> Path:
    """The seed article (a local file) fires one rule whose channel is the hook."""
    (tmp_path / "seed_feed.xml").write_bytes(SEED_FEED.read_bytes())
    url = hook.server.url("/hook").removeprefix("http://")
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[monitor]
database = "sqlite:///{tmp_path}/monitor.db"
timezone = "Europe/Kyiv"
max_attempts = {max_attempts}

[channels]
hook = "json://{url}"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих"]

[[feeds]]
url = "seed_feed.xml"
language = "uk"
backlog = "3650d"

[[rules]]
name = "witkoff-coalition"
query = 'Witkoff AND @coalition'
channels = ["hook"]
""",
        encoding="utf-8",
    )
    return path


def monitor(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    """``monitor --config CONFIG ARGV...`` in this process: exit code, stdout, stderr."""
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def failed_log_line(err: str) -> str:
    [line] = [x for x in err.splitlines() if "event=alert.failed" in x]
    return line


def test_an_alert_that_went_dead_is_counted_and_exits_4(tmp_path, hook, capsys) -> None:
    config = write_config(tmp_path, hook, max_attempts=1)

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 4, err
    lines = err.splitlines()
    assert "polled 1 feeds: 5 new articles, 1 alerts queued, 0 feeds failed" in lines
    assert "delivery: 0 alerts sent, 0 to retry, 1 dead" in lines
    assert any(
        x.startswith("  not delivered: alert 1 to hook (dead): ") and "500" in x for x in lines
    ), err
    assert "monitor alerts retry --dead" in err
    line = failed_log_line(err)
    assert "dead=1" in line and "retried=0" in line
    assert "retry_at" not in line  # a dead alert is not retried: no retry time


def test_an_alert_to_retry_is_counted_and_exits_3(tmp_path, hook, capsys) -> None:
    config = write_config(tmp_path, hook, max_attempts=3)

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 3, err
    assert "delivery: 0 alerts sent, 1 to retry, 0 dead" in err.splitlines()
    assert re.search(r"not delivered: alert 1 to hook \(to retry at 20\d\d-.+ EE[ST]\)", err), err
    assert "next 'monitor run --once'" in err
    line = failed_log_line(err)
    assert "retried=1" in line and "dead=0" in line and "retry_at=" in line


def test_everything_delivered_exits_0(tmp_path, hook, capsys) -> None:
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 0, err
    assert "delivery: 1 alerts sent, 0 to retry, 0 dead" in err.splitlines()
    assert "not delivered" not in err
    assert len(hook.received()) == 1
    code, _, err = monitor(capsys, config, "run", "--once")  # nothing due: still 0
    assert code == 0 and "delivery: 0 alerts sent, 0 to retry, 0 dead" in err


def test_run_help_documents_the_exit_status_of_once(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "exit status of --once:" in out
    for code in ("0", "3", "4"):
        assert re.search(rf"^  {code}  ", out, re.M), out


def test_retry_says_missing_sent_and_queued_apart_and_who_sends(tmp_path, hook, capsys) -> None:
    """A dead alert, retried, goes out with the next run --once; a missing ID and a sent
    alert each get their own answer."""
    config = write_config(tmp_path, hook, max_attempts=1)
    assert monitor(capsys, config, "run", "--once")[0] == 4

    code, out, err = monitor(capsys, config, "alerts", "retry", "99")
    assert (code, out) == (2, "") and err == "error: no alert 99 (see 'monitor alerts')\n"

    code, out, _ = monitor(capsys, config, "alerts", "--status", "sent")
    assert code == 0
    assert out == "no sent alerts (pending 0 · sending 0 · sent 0 · dead 1)\n"

    code, out, _ = monitor(capsys, config, "alerts", "retry", "1")
    assert code == 0
    assert out.startswith("alert 1 queued for delivery: no daemon is running on this database")
    assert "the next 'monitor run --once' sends it" in out

    hook.failing = False
    code, _, err = monitor(capsys, config, "run", "--once")
    assert code == 0 and "delivery: 1 alerts sent, 0 to retry, 0 dead" in err
    assert len(hook.received()) == 1

    code, out, err = monitor(capsys, config, "alerts", "retry", "1")
    assert (code, out) == (1, "")
    assert err == "alert 1 was already sent; sent alerts are never resent\n"

    code, out, _ = monitor(capsys, config, "alerts", "--status", "dead")
    assert (code, out) == (0, "no dead alerts (pending 0 · sending 0 · sent 1 · dead 0)\n")
    code, out, _ = monitor(capsys, config, "alerts", "retry", "--dead")
    assert (code, out) == (0, "no dead alerts to retry\n")
    assert len(hook.received()) == 1  # nothing was sent twice


def test_retry_names_the_running_daemon_that_sends_it(tmp_path, hook, capsys) -> None:
    config = write_config(tmp_path, hook, max_attempts=1)
    assert monitor(capsys, config, "run", "--once")[0] == 4
    engine = db.make_engine(f"sqlite:///{tmp_path}/monitor.db", create=False)
    try:  # what a live daemon writes every cycle: a fresh heartbeat and its (live) pid
        state.record_heartbeat(db.make_session_factory(engine), datetime.now(UTC), os.getpid())
    finally:
        engine.dispose()

    code, out, _ = monitor(capsys, config, "alerts", "retry", "--dead")

    assert code == 0
    assert out == (
        f"1 alert(s) queued for delivery: the running daemon (pid {os.getpid()}) "
        "sends it at its next tick (every 15 s)\n"
    )


def test_an_article_two_rules_match_is_one_message_naming_both(tmp_path, hook, capsys) -> None:
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[[rules]]\nname = "witkoff"\nquery = "Witkoff"\nchannels = ["hook"]\n')

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 0, err
    # the seed has two Witkoff articles, one of them about the coalition: three rows
    assert "delivery: 3 alerts sent in 2 messages, 0 to retry, 0 dead" in err.splitlines()
    titles = sorted(m["title"].split("]")[0] + "]" for m in hook.received())
    assert titles == ["[witkoff-coalition, witkoff]", "[witkoff]"]  # one message per article
    code, out, _ = monitor(capsys, config, "alerts", "--status", "sent")
    assert code == 0 and "sent 3 · dead 0" in out  # each rule's row is kept and marked sent


STATUS_KEYS = {
    "now", "daemon", "pid", "heartbeat", "feeds", "failing", "articles_today",
    "articles_total", "alerts", "dead_by_channel", "database", "database_bytes",
    "wal_bytes", "problem",
}  # fmt: skip


def test_status_after_run_once_says_what_the_one_shot_run_did(tmp_path, hook, capsys) -> None:
    """Before: "never ran (no heartbeat in the database)" right after a `run --once` that
    polled, stored and delivered. No daemon runs (exit 3), but the cycle did happen."""
    config = write_config(tmp_path, hook, max_attempts=1)
    code, out, _ = monitor(capsys, config, "status")
    assert code == 1 and out == ""  # no database yet: the one-line error, as before
    assert monitor(capsys, config, "run", "--once")[0] == 4  # the hook fails: one dead alert

    code, out, _ = monitor(capsys, config, "status")

    assert code == 3
    daemon = out.splitlines()[0]
    assert re.fullmatch(
        r"daemon:    not running; last cycle 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d EE[ST] \(\d+ s ago\) "
        r"by 'monitor run --once' \(1 feeds polled, 0 failed; 0 alerts sent, 0 to retry, 1 dead\)",
        daemon,
    ), daemon
    assert "never ran" not in out
    code, out, _ = monitor(capsys, config, "status", "--json")
    data = json.loads(out)
    # keys kept; added: the last run --once, and feeds the config no longer lists (issue 13)
    assert code == 3 and set(data) == STATUS_KEYS | {
        "last_run_once",
        "feeds_removed",
        "database_locked",
        "workers",  # issue 16
    }
    assert data["daemon"] == "never" and data["heartbeat"] is None  # no daemon ever ran
    once = data["last_run_once"]
    assert datetime.fromisoformat(once["at"]) <= datetime.now(UTC)
    assert {k: v for k, v in once.items() if k != "at"} == {
        "feeds_polled": 1, "feeds_failed": 0, "new_articles": 5, "alerts_queued": 1,
        "alerts_sent": 0, "alerts_to_retry": 0, "alerts_dead": 1,
    }  # fmt: skip

    hook.failing = False  # the next run replaces the record: nothing new, nothing due
    assert monitor(capsys, config, "run", "--once")[0] == 0
    once = json.loads(monitor(capsys, config, "status", "--json")[1])["last_run_once"]
    assert (once["new_articles"], once["alerts_dead"], once["alerts_sent"]) == (0, 0, 0)


def test_status_shows_a_run_once_after_the_daemon_stopped(tmp_path, hook, capsys) -> None:
    """A daemon that stopped an hour ago, then a `run --once`: the daemon line stays as it
    was (NOT RUNNING, its last cycle) and the one-shot cycle after it is shown below."""
    config = write_config(tmp_path, hook, max_attempts=1)
    hook.failing = False
    assert monitor(capsys, config, "run", "--once")[0] == 0
    engine = db.make_engine(f"sqlite:///{tmp_path}/monitor.db", create=False)
    try:  # the heartbeat a daemon left an hour ago, before this run
        sf = db.make_session_factory(engine)
        state.record_heartbeat(sf, datetime.now(UTC) - timedelta(hours=1), os.getpid())
    finally:
        engine.dispose()

    code, out, _ = monitor(capsys, config, "status")

    assert code == 3
    first, second = out.splitlines()[:2]
    assert first.startswith(f"daemon:    NOT RUNNING (heartbeat too old), pid {os.getpid()}, ")
    assert first.endswith("(60 min ago)")
    assert re.fullmatch(
        r"           then a cycle .+ \(\d+ s ago\) by 'monitor run --once' "
        r"\(1 feeds polled, 0 failed; 1 alerts sent, 0 to retry, 0 dead\)",
        second,
    ), second


def test_a_run_once_whose_reader_went_away_is_still_recorded(tmp_path, hook, capsys) -> None:
    """``monitor run --once 2>&1 | head -1``: the summary meets a closed pipe, which ends
    the command (exit 141); what the cycle did is recorded before, so status still says
    it (before the fix, "never ran")."""
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert proc.stderr is not None
    proc.stderr.close()  # the reader is gone before the first line
    assert proc.wait(timeout=120) == 141

    code, out, _ = monitor(capsys, config, "status", "--json")
    once = json.loads(out)["last_run_once"]
    assert code == 3 and (once["feeds_polled"], once["alerts_sent"]) == (1, 1)
    assert len(hook.received()) == 1


def test_the_seed_alert_by_email_reads_well(tmp_path, hook, smtp_server, capsys) -> None:
    """Through run --once to a real SMTP server: From has a display name, the snippet
    keeps the article's paragraphs, the subject and List-Id name the rule."""
    import email

    config = write_config(tmp_path, hook, max_attempts=1)
    text = config.read_text(encoding="utf-8").replace(
        'hook = "json://', f'mail = "{smtp_server.url()}"\nhook = "json://'
    )
    config.write_text(text.replace('channels = ["hook"]', 'channels = ["mail"]'), "utf-8")

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 0, err
    [envelope] = smtp_server.handler.envelopes
    msg = email.message_from_bytes(envelope.content)
    assert msg["From"] == "press-monitor <monitor@example.com>"
    assert (
        msg["List-Id"]
        == "press-monitor witkoff-coalition <witkoff-coalition.press-monitor.invalid>"
    )
    html = next(
        part.get_payload(decode=True).decode()
        for part in msg.walk()
        if part.get_content_type() == "text/html"
    )
    # the seed's first paragraphs, each its own <p>, the name highlighted
    assert "<mark><b>Віткофф</b></mark> після зустрічі" in html
    assert re.search(r"</p>\s*<p>Про це він написав у соцмережі Х", html), html


def test_a_missing_local_feed_file_is_a_file_error_naming_the_path(tmp_path, hook, capsys) -> None:
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[[feeds]]\nurl = "feeds/missing.xml"\n')

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 0, err  # failed feeds are listed; every due alert went out
    missing = tmp_path / "feeds" / "missing.xml"
    assert (
        f"  feed failed: {missing}: file: cannot read the local feed file {missing}: "
        "No such file or directory"
    ) in err.splitlines(), err


def test_a_first_poll_of_old_articles_says_why_nothing_alerted(tmp_path, hook, capsys) -> None:
    """Real feeds on a first run: every entry older than the backlog is stored, not
    alerted, and the summary says so (it read '5 new articles, 0 alerts queued' alone)."""
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)
    config.write_text(config.read_text(encoding="utf-8").replace('backlog = "3650d"\n', ""))

    code, _, err = monitor(capsys, config, "run", "--once")

    assert code == 0, err
    lines = err.splitlines()
    assert "polled 1 feeds: 5 new articles, 0 alerts queued, 0 feeds failed" in lines
    assert (
        "  5 of them older than their feed's backlog (the [monitor] or [[feeds]] 'backlog', "
        "default 24h) on its first poll: stored, not alerted"
    ) in lines


def test_alerts_status_held_lists_what_the_summary_calls_held(tmp_path, hook, capsys) -> None:
    """The summary's "held for later" points at `alerts --status held`, which lists those
    (a daily digest's alerts here) and nothing sent."""
    hook.failing = False
    config = write_config(tmp_path, hook, max_attempts=1)
    with config.open("a", encoding="utf-8") as f:
        f.write(
            '\n[[rules]]\nname = "daily"\nquery = "Witkoff"\nchannels = ["hook"]\n'
            'delivery = "digest"\ndigest = "daily 08:00"\n'
        )
    code, _, err = monitor(capsys, config, "run", "--once")
    assert code == 0, err
    assert (
        "2 held for later (a digest slot, quiet hours or min_sources: 'monitor alerts --status held')"
        in err
    )

    code, out, _ = monitor(capsys, config, "alerts", "--status", "held")

    rows = [line for line in out.splitlines()[1:-1]]
    assert code == 0 and len(rows) == 2, out
    assert all(" daily " in row and " held " in row for row in rows), out
