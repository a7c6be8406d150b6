"""No planted secret reaches any output: every output path, run for real (issue 10).

One scene, built once: a config whose feed and channel URLs carry secrets (``${VAR}``
values under query keys that do not look secret, ``session=`` and ``t=``, under
``token=``, in ``user:password@``, a Telegram bot token, a literal ``apikey=``), feeds
served from 127.0.0.1 that answer 500 with the request echoed in the body or redirect
with the token, and a webhook channel that refuses alerts echoing its credentials. Then
the daemon runs as a subprocess (its log, its ``/metrics`` scraped over HTTP, the
operator notices it prints on the console channel), and every CLI command runs as its own
process (so only what that process loads is registered as a secret): ``check-config``,
``run --once``, ``feeds`` (table, ``--json``, ``--all`` with a removed feed),
``status`` (text, ``--json``), ``alerts``, ``notify test``, ``test-rule --url``. Each
output is grepped for every planted value, and so are the stored error texts, the
outbox rows and the database files' bytes. Each test also checks that its output is the
real thing (names the feeds, holds the error, the notice...), so it cannot pass empty.
"""

from __future__ import annotations

import logging
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support import ROOT, LocalServer, Request, Response, cli_env
from tests.test_pipeline import rss

FEED_TOKEN = "PlantedTok3nZQX"  # short of the 16 characters that look like a token by shape
OLD_TOKEN = "PlantedOldT0ken"  # only in a feed that is later removed from the config
FEED_PASS = "PlantedPassw0rd"
HOOK_PASS = "PlantedHookPw9"
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
LITERAL_BOT_TOKEN = "987654321:AAFakeLiteralBotTokenValue12345"
LITERAL_APIKEY = "LiteralApiKey9Q"  # written in the file, under a key named like a secret
PLANTED = (
    FEED_TOKEN,
    OLD_TOKEN,
    FEED_PASS,
    HOOK_PASS,
    BOT_TOKEN,
    BOT_TOKEN.split(":")[1],
    LITERAL_BOT_TOKEN,
    LITERAL_BOT_TOKEN.split(":")[1],
    LITERAL_APIKEY,
)
ENV = {
    "FEED_TOKEN": FEED_TOKEN,
    "OLD_TOKEN": OLD_TOKEN,
    "FEED_PASS": FEED_PASS,
    "HOOK_PASS": HOOK_PASS,
    "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
}


def echo_500(req: Request) -> Response:
    """A server error whose body quotes the request, secrets and all."""
    body = f"server error for {req.path}?{urlencode(req.query, doseq=True)} {req.headers}"
    return Response(500, {"Content-Type": "text/plain"}, body.encode())


def redirect_with_token(req: Request) -> Response:
    """A redirect that carries the token on, under two innocent-looking keys."""
    token = req.query.get("t", [""])[0]
    return Response(302, {"Location": f"/final?{urlencode({'session': token, 't': token})}"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    path: Path, server: LocalServer, db: Path, http_port: int, *, removed: bool
) -> None:
    """The scene's config; ``removed`` drops the feed that alone uses ``${OLD_TOKEN}``."""
    base = f"http://127.0.0.1:{server.port}"
    feeds = [
        f"{base}/a?session=${{FEED_TOKEN}}",
        f"{base}/r?t=${{FEED_TOKEN}}",
        f"{base}/c?token=${{FEED_TOKEN}}&lang=uk",
        f"{base}/k?apikey={LITERAL_APIKEY}",
        f"http://feeduser:${{FEED_PASS}}@127.0.0.1:{server.port}/d",
        f"{base}/good.xml?session=${{FEED_TOKEN}}",
    ]
    if not removed:
        feeds.append(f"{base}/old?t=${{OLD_TOKEN}}")
    tables = "".join(f'\n[[feeds]]\nurl = "{u}"\nbacklog = "3650d"\n' for u in feeds)
    path.write_text(
        f"""
[monitor]
database = "sqlite:///{db}"
timezone = "UTC"
tick = "1s"
operator_channel = "ops"
feed_broken_after = "0s"
http = "127.0.0.1:{http_port}"

[fetch]
timeout = "3s"
connect_timeout = "2s"

[channels]
ops = "console://"
hook = "json://hookuser:${{HOOK_PASS}}@127.0.0.1:{server.port}/hook"
tg = "tgram://${{TELEGRAM_BOT_TOKEN}}/-1001234567"
tg_literal = "tgram://{LITERAL_BOT_TOKEN}/-1009876543"
{tables}
[[rules]]
name = "planted"
query = "Witkoff"
channels = ["hook"]
""",
        encoding="utf-8",
    )


@dataclass
class Scene:
    """Everything the outputs came from, and the outputs by path name."""

    server: LocalServer
    db: Path
    feed_urls: list[str]  # as expanded: what the fetcher must request
    outputs: dict[str, str] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)


def cli(scene: Scene, name: str, config: Path, *args: str, env: dict[str, str] = ENV) -> None:
    """Run ``monitor --config CONFIG ARGS`` in its own process; keep stdout + stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(**env),
        timeout=60,
    )
    scene.outputs[name] = done.stdout + done.stderr
    scene.codes[name] = done.returncode


def run_daemon(scene: Scene, config: Path, http_port: int, tmp: Path) -> None:
    """``monitor run`` until every feed has a fetch in ``/metrics`` and the operator
    notices are delivered; keeps its log, its console output and the scrape."""
    out, err = tmp / "daemon.out", tmp / "daemon.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env=cli_env(**ENV),
        )
    metrics = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{http_port}/metrics", timeout=5
                ) as r:
                    metrics = r.read().decode()
            except OSError:
                continue
            fetched = sum(
                1
                for line in metrics.splitlines()
                if line.startswith("press_monitor_fetches_total{")
            )
            if fetched >= len(scene.feed_urls) and "Feed broken" in out.read_text():
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    scene.outputs["/metrics"] = metrics
    scene.outputs["daemon log"] = err.read_text()
    scene.outputs["daemon console (operator notices)"] = out.read_text()


def database_rows(db: Path) -> dict[str, list[str]]:
    """Every text value of every table, by ``table.column`` (feeds.url excluded: it is the
    feed's key and holds the expanded URL by design)."""
    found: dict[str, list[str]] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                if (table, column) == ("feeds", "url"):
                    continue
                values = conn.execute(f'SELECT "{column}" FROM "{table}"').fetchall()
                found[f"{table}.{column}"] = [v for (v,) in values if isinstance(v, str)]
    return found


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("secrets")
    server = LocalServer().start()
    for path in ("/a", "/final", "/c", "/k", "/d", "/old", "/hook"):
        server.route(path, echo_500)
    server.route("/r", redirect_with_token)
    server.static(
        "/good.xml",
        rss(("g1", "https://news.example/witkoff-1", "Witkoff arrives in Kyiv")),
        {"Content-Type": "application/rss+xml"},
    )
    db, http_port = tmp / "monitor.db", free_port()
    config, later = tmp / "config.toml", tmp / "config-removed.toml"
    write_config(config, server, db, http_port, removed=False)
    write_config(later, server, db, http_port, removed=True)
    base = f"http://127.0.0.1:{server.port}"
    feed_urls = [
        f"{base}/a?session={FEED_TOKEN}",
        f"{base}/r?t={FEED_TOKEN}",
        f"{base}/c?token={FEED_TOKEN}&lang=uk",
        f"{base}/k?apikey={LITERAL_APIKEY}",
        f"http://feeduser:{FEED_PASS}@127.0.0.1:{server.port}/d",
        f"{base}/good.xml?session={FEED_TOKEN}",
        f"{base}/old?t={OLD_TOKEN}",
    ]
    s = Scene(server=server, db=db, feed_urls=feed_urls)
    try:
        cli(s, "check-config", config, "check-config")
        run_daemon(s, config, http_port, tmp)
        cli(s, "run --once", config, "run", "--once")
        cli(s, "feeds", config, "feeds", "--wide")  # whole URLs: the masking is visible
        cli(s, "feeds --json", config, "feeds", "--json")
        cli(s, "status", config, "status")
        cli(s, "status --json", config, "status", "--json")
        cli(s, "alerts", config, "alerts")
        cli(s, "notify test", config, "notify", "test", "hook")
        cli(s, "test-rule --url", config, "test-rule", "--url", feed_urls[1])
        # the feed using ${OLD_TOKEN} is gone from the config, and so is the variable
        cli(s, "feeds --all (removed feed)", later, "feeds", "--all", "--json",
            env={k: v for k, v in ENV.items() if k != "OLD_TOKEN"})  # fmt: skip
        yield s
    finally:
        server.stop()


def leaks(text: str) -> list[str]:
    return [p for p in PLANTED if p in text]


EXPECTED = {  # what each output must show, so that a clean output is a real one
    "check-config": "OK",
    "daemon log": "feed.failed",
    "daemon console (operator notices)": "Feed broken",
    "/metrics": "press_monitor_fetches_total{",
    "run --once": "feeds failed",
    "feeds": "http_status",
    "feeds --json": "answered HTTP 500",
    "status": "http_status",
    "status --json": "http_status",
    "alerts": "planted",
    "notify test": "failed: hook",
    "test-rule --url": "cannot fetch URL",
    "feeds --all (removed feed)": "/old?t=",
}


@pytest.mark.parametrize("path", list(EXPECTED))
def test_no_planted_secret_in_output(scene: Scene, path: str) -> None:
    """Logs, CLI tables and JSON, /metrics, notices: every planted value is masked."""
    text = scene.outputs[path]
    assert EXPECTED[path] in text, f"{path} did not show what it should:\n{text[-3000:]}"
    assert not leaks(text), f"{path} leaks {leaks(text)}:\n{text[-3000:]}"


def test_every_feed_and_its_error_is_named_masked(scene: Scene) -> None:
    """The outputs still say which feed: the masked URL keeps host, path and plain keys."""
    table = scene.outputs["feeds"]
    for path in ("/a?session=***", "/r?t=***", "/c?token=***&lang=uk", "/k?apikey=***"):
        assert path in table, table
    assert "feeduser:***@127.0.0.1" in table
    assert "/final?session=***&t=***" in scene.outputs["feeds --json"]  # the redirect target


def test_metrics_labels_are_masked_one_series_per_feed(scene: Scene) -> None:
    """One ``feed`` label per feed (masked, distinct), so series neither leak nor flap."""
    labels = {
        line.split('feed="', 1)[1].split('"', 1)[0]
        for line in scene.outputs["/metrics"].splitlines()
        if line.startswith("press_monitor_fetches_total{")
    }
    assert len(labels) == len(scene.feed_urls), labels
    assert all("127.0.0.1" in label for label in labels)


def test_fetcher_still_uses_the_real_urls(scene: Scene) -> None:
    """Masking is for display only: the server saw the real tokens and credentials."""
    hits = scene.server.requests
    assert any(r.path == "/a" and r.query.get("session") == [FEED_TOKEN] for r in hits)
    assert any(r.path == "/final" and r.query.get("t") == [FEED_TOKEN] for r in hits)
    assert any(r.path == "/d" and "authorization" in r.headers for r in hits)


def test_stored_texts_hold_no_secret(scene: Scene) -> None:
    """Error texts (feeds), outbox rows (operator notices, alert errors): masked on write,
    so a later ``monitor feeds`` on this database is clean whoever wrote it."""
    rows = database_rows(scene.db)
    assert any("answered HTTP 500" in v for v in rows["feeds.error_message"])
    assert any("broken since" in v for v in rows["operator_notices.body"]), rows
    assert any(v for v in rows["alerts.last_error"]), rows["alerts.last_error"]
    for column, values in rows.items():
        for value in values:
            assert not leaks(value), f"{column} holds {leaks(value)}: {value[:300]}"


def test_database_files_hold_secrets_only_in_the_feed_urls(scene: Scene) -> None:
    """The bytes of the database files (WAL too, free pages too): a planted value occurs
    only inside an expanded feed URL, the feeds table's key (the file is private: 0600)."""
    for path in scene.db.parent.glob(f"{scene.db.name}*"):
        data = path.read_bytes()
        for url in scene.feed_urls:
            data = data.replace(url.encode(), b"")
        assert not leaks(data.decode("latin-1")), f"{path.name}: {leaks(data.decode('latin-1'))}"


def test_a_literal_feed_password_with_a_quote_is_masked_in_the_log(tmp_path, capsys) -> None:
    """A URL inside free text ends at a quote, so the URL masking alone missed the
    password "SECRET'QUOTE7"; the config registers a feed URL's password as a secret."""
    from monitor.config import load_config
    from monitor.log import event, setup_logging

    path = tmp_path / "c.toml"
    path.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n'
        '[[feeds]]\nurl = "http://alice:SECRET\'QUOTE7@127.0.0.1:9/secret"\n'
    )
    config = load_config(path, {})
    setup_logging("text", "info")
    event(logging.getLogger("t"), "feed.failed", logging.WARNING, feed_url=config.feeds[0].url)
    assert "QUOTE7" not in capsys.readouterr().err
