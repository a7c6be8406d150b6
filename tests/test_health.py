"""Health endpoint over real HTTP on 127.0.0.1, and the Prometheus metrics."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import load_config
from monitor.config.spec import is_loopback
from monitor.daemon.health import HealthServer, Metrics, parse_address
from monitor.errors import ConfigError, MonitorError
from tests.support import ROOT, cli_env


def get(url: str) -> tuple[int, str, str]:
    """GET ``url``: (status, content type, body), HTTP errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse exposition text into {(sample name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def served() -> Iterator[tuple[HealthServer, Metrics, dict[str, Any]]]:
    """A HealthServer on 127.0.0.1:<free port> whose health answer and alert counts
    (read at scrape time, as the daemon's database source is) the test sets."""
    state: dict[str, Any] = {"healthy": True, "alerts": {}}
    metrics = Metrics(alert_source=lambda: state["alerts"])
    server = HealthServer("127.0.0.1:0", metrics.registry, lambda: state["healthy"])
    server.start()
    yield server, metrics, state
    server.stop()


def test_healthz_is_200_while_cycles_progress_and_503_when_stalled(served) -> None:
    """/healthz follows the is_healthy callback."""
    server, _, state = served
    assert get(server.url + "/healthz")[0] == 200
    state["healthy"] = False
    status, _, body = get(server.url + "/healthz")
    assert (status, body) == (503, "stalled\n")


def test_healthz_is_503_when_the_check_raises() -> None:
    """A health check that raises counts as unhealthy, and the server keeps serving."""

    def broken() -> bool:
        raise RuntimeError("database is locked")

    server = HealthServer("127.0.0.1:0", Metrics().registry, broken)
    server.start()
    try:
        assert get(server.url + "/healthz")[0] == 503
        assert get(server.url + "/healthz")[0] == 503
    finally:
        server.stop()


def test_metrics_text_parses_and_carries_what_the_daemon_observed(served) -> None:
    """Every daemon observation shows up in parseable Prometheus text."""
    server, m, state = served
    m.observe_fetch("https://news.example/rss?token=SECRETTOKEN1234", "ok", 0.2)
    m.observe_fetch("https://news.example/rss?token=SECRETTOKEN1234", "timeout", 30.0)
    m.articles_stored(7)
    m.matched("ukrenergo")
    m.matched("ukrenergo")
    m.set_feed_status_counts({"ok": 10, "failing": 1})
    state["alerts"] = {("pending", "telegram"): 3, ("dead", "email"): 1}
    m.set_cycle_lag(4.5)
    m.cycle_completed(12.0, 1_800_000_000.0)
    status, ctype, body = get(server.url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    s = samples(body)
    assert s[("press_monitor_articles_stored_total", ())] == 7
    assert s[("press_monitor_matches_total", (("rule", "ukrenergo"),))] == 2
    assert s[("press_monitor_feeds", (("status", "ok"),))] == 10
    assert s[("press_monitor_feeds", (("status", "backing_off"),))] == 0
    assert s[("press_monitor_alerts", (("channel", "telegram"), ("status", "pending")))] == 3
    assert s[("press_monitor_alerts", (("channel", "email"), ("status", "dead")))] == 1
    assert s[("press_monitor_cycle_lag_seconds", ())] == 4.5
    assert s[("press_monitor_fetch_duration_seconds_count", (("status", "timeout"),))] == 1
    assert (
        s[("press_monitor_fetch_duration_seconds_bucket", (("le", "0.25"), ("status", "ok")))] == 1
    )
    assert s[("press_monitor_last_cycle_timestamp_seconds", ())] == 1_800_000_000.0
    assert "SECRETTOKEN1234" not in body


def test_feed_gauge_drops_statuses_missing_from_a_later_update() -> None:
    """A status absent from the new counts goes back to 0 rather than keeping an old value."""
    m = Metrics()
    m.set_feed_status_counts({"failing": 4})
    m.set_feed_status_counts({"ok": 5})
    s = samples(m.render().decode())
    assert s[("press_monitor_feeds", (("status", "failing"),))] == 0
    assert s[("press_monitor_feeds", (("status", "ok"),))] == 5


def test_alert_gauge_is_refreshed_from_the_source_at_scrape_time() -> None:
    """With an alert source, every scrape asks it; a failing source keeps the last values."""
    counts = {("pending", "telegram"): 1}
    calls = []

    def source():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("database is locked")
        return dict(counts)

    m = Metrics(alert_source=source)
    key = ("press_monitor_alerts", (("channel", "telegram"), ("status", "pending")))
    assert samples(m.render().decode())[key] == 1
    counts[("pending", "telegram")] = 5
    assert samples(m.render().decode())[key] == 5
    assert samples(m.render().decode())[key] == 5  # the source raised: last values kept


def test_metrics_use_their_own_registry_not_the_global_one() -> None:
    """Two Metrics objects coexist; nothing lands in prometheus_client's global REGISTRY."""
    Metrics().articles_stored(1)
    Metrics().articles_stored(1)
    assert REGISTRY.get_sample_value("press_monitor_articles_stored_total") is None


def test_unknown_path_is_404(served) -> None:
    """Only /healthz and /metrics exist."""
    server, _, _ = served
    assert get(server.url + "/admin")[0] == 404


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("9310", ("127.0.0.1", 9310)),
        (":9310", ("127.0.0.1", 9310)),
        ("127.0.0.1:9310", ("127.0.0.1", 9310)),
        ("[::1]:9310", ("::1", 9310)),
        ("0.0.0.0:9310", ("0.0.0.0", 9310)),  # written out: allowed, logged as a warning
    ],
)
def test_address_defaults_to_loopback(address, expected) -> None:
    """A missing host means loopback, never every interface."""
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", "localhost", "127.0.0.1:http", "1:70000"])
def test_bad_address_is_a_clear_error(address) -> None:
    """An address without a usable port is refused with a MonitorError."""
    with pytest.raises(MonitorError, match="health address"):
        parse_address(address)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("metrics.example.org", False),
    ],
)
def test_is_loopback(host, expected) -> None:
    """Loopback means 127/8, ::1 and localhost."""
    assert is_loopback(host) is expected


def test_port_in_use_is_a_monitor_error(served) -> None:
    """A second server on a taken port fails with a message naming the address."""
    server, m, _ = served
    other = HealthServer(f"127.0.0.1:{server.port}", m.registry, lambda: True)
    with pytest.raises(MonitorError, match=f"127.0.0.1:{server.port}"):
        other.start()


def test_serves_on_ipv6_loopback() -> None:
    """``[::1]:PORT`` binds an IPv6 socket."""
    import socket

    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    server = HealthServer("[::1]:0", Metrics().registry, lambda: True)
    server.start()
    try:
        assert server.url.startswith("http://[::1]:")
        assert get(server.url + "/healthz")[0] == 200
    finally:
        server.stop()


# -- [monitor] http_public: a non-loopback listen address must be asked for (issue 10)


def _config(tmp_path: Path, monitor_lines: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n{monitor_lines}\n')
    return path


@pytest.mark.parametrize(
    "address", ["0.0.0.0:9310", "[::]:9310", "192.168.1.20:9310", "metrics.lan:9310"]
)
def test_non_loopback_http_without_http_public_is_a_config_error(tmp_path, address) -> None:
    """/healthz and /metrics have no authentication: another machine may reach them only
    when the config says so; the error names the key, its line and what to do."""
    path = _config(tmp_path, f'http = "{address}"')
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    message = str(err.value)
    assert "config.toml:3: monitor.http: " in message
    assert "http_public = true" in message and "127.0.0.1:PORT" in message
    assert "\n" not in message


@pytest.mark.parametrize("address", ["127.0.0.1:9310", "localhost:9310", "[::1]:9310"])
def test_loopback_http_needs_nothing(tmp_path, address) -> None:
    assert load_config(_config(tmp_path, f'http = "{address}"'), {}).monitor.http == address


def test_http_public_true_allows_every_interface(tmp_path) -> None:
    config = load_config(_config(tmp_path, 'http = "0.0.0.0:9310"\nhttp_public = true'), {})
    assert (config.monitor.http, config.monitor.http_public) == ("0.0.0.0:9310", True)


def test_check_config_refuses_a_public_http_with_exit_2(tmp_path) -> None:
    """The CLI: one line on stderr, exit 2, no traceback."""
    path = _config(tmp_path, 'http = "0.0.0.0:9310"')
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "http_public = true" in done.stderr
