"""Structured logging: both formats, and no secret in any line, tracebacks included."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from monitor import secrets
from monitor.log import event, setup_logging, stderr_is_journal
from monitor.secrets import register_secret

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PASSWORD = "hunter2-very-secret"
log = logging.getLogger("monitor.test")


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch):
    """setup_logging changes process-wide state: put it back after each test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    monkeypatch.setattr(secrets, "_registered", [])
    yield
    root.handlers[:], level, sys.excepthook, threading.excepthook = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def emit_everything() -> None:
    """Every way a secret could reach the log."""
    register_secret(PASSWORD)
    event(
        log,
        "feed.polled",
        feed_url="https://feeds.example/rss?token=QUERYSECRET123",
        status="ok",
        duration_ms=12,
    )
    event(log, "alert.sent", channel_url=f"tgram://{TOKEN}/-100123", rule="energy")
    event(log, "smtp.login", password=PASSWORD, user="alerts")
    event(log, "config.loaded", bot_token="not-registered-but-named")
    logging.getLogger("httpx").warning(
        "HTTP Request: POST https://api.telegram.org/bot%s/sendMessage", TOKEN
    )
    try:
        raise ConnectionError(
            f"cannot reach https://api.telegram.org/bot{TOKEN}/sendMessage as {PASSWORD}"
        )
    except ConnectionError:
        log.exception("alert.failed", extra={"fields": {"channel": "telegram"}})


LEAKS = (TOKEN, "AAHdqTcvCH1vGWJx", "QUERYSECRET123", PASSWORD, "not-registered-but-named")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_either_format_even_in_tracebacks(fmt, capsys) -> None:
    """Tokens in URLs, registered passwords, secret-named fields: all masked, traceback too."""
    setup_logging(fmt, "debug")
    emit_everything()
    err = capsys.readouterr().err
    for leak in LEAKS:
        assert leak not in err, leak
    assert "Traceback (most recent call last)" in err
    assert "ConnectionError" in err
    assert err.count("***") >= 6


def test_json_lines_parse_and_keep_types(capsys) -> None:
    """One JSON object per line; numbers stay numbers; the exception is a field."""
    setup_logging("json", "info")
    emit_everything()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    polled = next(x for x in lines if x.get("event") == "feed.polled")
    assert polled["duration_ms"] == 12 and polled["status"] == "ok" and polled["level"] == "info"
    assert polled["feed_url"] == "https://feeds.example/rss?token=***"
    assert polled["ts"].endswith("Z")
    failed = next(x for x in lines if x.get("event") == "alert.failed")
    assert failed["level"] == "error" and "ConnectionError" in failed["exception"]
    httpx_line = next(x for x in lines if x.get("logger") == "httpx")
    assert httpx_line["msg"].startswith("HTTP Request: POST https://api.telegram.org/***/")


def test_text_lines_are_key_value(capsys, monkeypatch) -> None:
    """level= event= then the fields, values with spaces quoted; no ts= under journald."""
    monkeypatch.setattr("monitor.log.stderr_is_journal", lambda: True)
    setup_logging("text", "info")
    event(log, "cycle.done", feeds=3, note="two words", duration_ms=5)
    assert (
        capsys.readouterr().err.strip()
        == '<6>level=info event=cycle.done feeds=3 note="two words" duration_ms=5'
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_journal_lines_carry_their_priority_so_journalctl_p_warning_shows_them(
    capsys, monkeypatch, fmt
) -> None:
    """Under journald every line (a traceback's too) starts with its sd-daemon priority:
    <3> error, <4> warning, <6> info; journald turns it into PRIORITY=."""
    monkeypatch.setattr("monitor.log.stderr_is_journal", lambda: True)
    setup_logging(fmt, "info")
    event(log, "feed.failed", logging.WARNING, feed_url="http://x/")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        event(log, "feed.internal_error", logging.ERROR, exc_info=exc)
    event(log, "cycle.finished")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("<4>") and "feed.failed" in lines[0]
    error_lines = [x for x in lines if x.startswith("<3>")]
    assert any("feed.internal_error" in x for x in error_lines)
    if fmt == "text":  # the traceback's own lines are errors too, not info
        assert any("ValueError: boom" in x for x in error_lines)
    assert lines[-1].startswith("<6>") and "cycle.finished" in lines[-1]


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("password", True),
        ("bot_token", True),
        ("smtp_secret", True),
        ("api_key", True),
        ("tokens", False),
        ("token_count", False),
        ("passed", False),
    ],
)
def test_secret_named_fields_are_masked_whole(key, masked, capsys) -> None:
    """A field named like a secret never shows its value; look-alike names do."""
    setup_logging("text", "info")
    event(log, "x", **{key: "v4lue-1234"})
    err = capsys.readouterr().err
    assert ("v4lue-1234" not in err) is masked


def test_text_lines_carry_a_timestamp_outside_the_journal(capsys) -> None:
    """On a terminal, each line starts with ts=...Z."""
    setup_logging("text", "info")
    event(log, "cycle.done")
    assert capsys.readouterr().err.startswith("ts=20")


def test_level_filters_events(capsys) -> None:
    """--log-level warning drops info events."""
    setup_logging("text", "warning")
    event(log, "quiet")
    event(log, "loud", logging.WARNING)
    err = capsys.readouterr().err
    assert "event=loud" in err and "event=quiet" not in err


def test_unknown_format_is_refused() -> None:
    """A typo in --log-format is an error, not silent text."""
    with pytest.raises(ValueError, match="log format"):
        setup_logging("yaml")


def test_warnings_go_through_the_masking_formatter(capsys) -> None:
    """Python warnings (which may quote URLs) are logged, masked."""
    setup_logging("text", "info")
    warnings.warn(
        f"insecure request to https://x.example/?token={TOKEN}", UserWarning, stacklevel=1
    )
    err = capsys.readouterr().err
    assert "insecure request" in err and TOKEN not in err


def test_crash_in_a_thread_is_logged_masked(capsys) -> None:
    """An uncaught exception in a worker thread is one masked process.crashed event."""
    setup_logging("json", "info")
    register_secret(PASSWORD)

    def boom() -> None:
        raise RuntimeError(f"login as {PASSWORD} failed")

    t = threading.Thread(target=boom, name="delivery")
    t.start()
    t.join()
    line = json.loads(capsys.readouterr().err.strip())
    assert line["event"] == "process.crashed" and line["thread"] == "delivery"
    assert PASSWORD not in json.dumps(line) and "RuntimeError" in line["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_uncaught_exception_of_the_process_is_masked(fmt) -> None:
    """A real process dying of an exception that quotes a token logs it masked."""
    code = (
        "from monitor.log import setup_logging\nfrom monitor.secrets import register_secret\n"
        f"setup_logging({fmt!r}, 'info')\n"
        f"register_secret({PASSWORD!r})\n"
        f"raise RuntimeError('apprise failed: tgram://{TOKEN}/1 with {PASSWORD}')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    assert proc.returncode == 1
    assert "process.crashed" in proc.stderr and "RuntimeError" in proc.stderr
    assert TOKEN not in proc.stderr and PASSWORD not in proc.stderr


def test_journal_is_detected_by_device_and_inode() -> None:
    """$JOURNAL_STREAM must name stderr itself, not just be set."""
    st = os.fstat(sys.stderr.fileno())
    assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert not stderr_is_journal({"JOURNAL_STREAM": "1:2"})
    assert not stderr_is_journal({})
