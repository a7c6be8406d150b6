"""Health endpoint and Prometheus metrics.

:class:`Metrics` owns its own ``CollectorRegistry`` (never the global one) and offers
one small method per thing the daemon observes. :class:`HealthServer` serves
``/healthz`` (200 while poll cycles make progress, else 503) and ``/metrics``
(Prometheus text format) from a daemon thread. It binds to loopback unless a
non-loopback host is written out explicitly in the address (the config allows that only
with ``[monitor] http_public = true``). The ``feed`` label of a fetch is the feed URL as
:func:`~monitor.secrets.mask_url` shows it: masked, and the same on every fetch.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.config.spec import is_loopback
from monitor.errors import MonitorError
from monitor.log import event
from monitor.records import AlertStatus
from monitor.schedule import FEED_STATES, FeedStatus
from monitor.secrets import mask_text, mask_url
from monitor.store.workers import WorkerInfo

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
FETCH_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

AlertCounts = Mapping[tuple[AlertStatus, str], int]  # by (status, channel)


class Metrics:
    """Every press-monitor metric, in a private registry (``metrics.registry``).

    ``alert_source``, when given, is called at scrape time to refresh the alert
    gauge from the database (e.g. ``lambda: stats.alert_counts(session_factory)``);
    a failing source keeps the last values and logs ``metrics.refresh_failed``.
    """

    def __init__(self, alert_source: Callable[[], AlertCounts] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.feeds = Gauge("press_monitor_feeds", "Active feeds by status.", ["status"], registry=r)
        self.fetch_duration = Histogram(
            "press_monitor_fetch_duration_seconds",
            "Feed fetch duration by outcome.",
            ["status"],
            buckets=FETCH_BUCKETS_S,
            registry=r,
        )
        self.fetches = Counter(
            "press_monitor_fetches",
            "Feed fetches by feed and outcome.",
            ["feed", "status"],
            registry=r,
        )
        self.articles = Counter("press_monitor_articles_stored", "New articles stored.", registry=r)
        self.matches = Counter("press_monitor_matches", "Rule matches.", ["rule"], registry=r)
        self.cycle_lag = Gauge(
            "press_monitor_cycle_lag_seconds",
            "How late the last poll cycle started compared with its schedule.",
            registry=r,
        )
        self.cycles = Counter("press_monitor_cycles", "Poll cycles completed.", registry=r)
        self.cycle_duration = Gauge(
            "press_monitor_cycle_duration_seconds", "Duration of the last poll cycle.", registry=r
        )
        self.last_cycle = Gauge(
            "press_monitor_last_cycle_timestamp_seconds",
            "Unix time the last poll cycle finished.",
            registry=r,
        )
        self.workers = Gauge(
            "press_monitor_workers",
            "Workers sharing the database, by state (running: heard from within a lease).",
            ["state"],
            registry=r,
        )
        self.worker_last_cycle = Gauge(
            "press_monitor_worker_last_cycle_timestamp_seconds",
            "Unix time each running worker last finished a poll cycle.",
            ["worker", "host"],
            registry=r,
        )
        self.worker_leases = Gauge(
            "press_monitor_worker_feed_leases",
            "Feeds each running worker holds right now (polling them).",
            ["worker", "host"],
            registry=r,
        )
        self._alerts = _AlertCollector(alert_source)
        r.register(self._alerts)
        for status in FEED_STATES:  # one vocabulary with `monitor feeds` and `monitor status`
            self.feeds.labels(status).set(0)

    def observe_fetch(self, feed_url: str, status: str, duration_s: float) -> None:
        """One fetch finished with ``status`` ("ok", "not_modified" or an error kind)."""
        self.fetch_duration.labels(status).observe(duration_s)
        self.fetches.labels(mask_url(feed_url), status).inc()

    def articles_stored(self, n: int) -> None:
        """``n`` new articles were stored."""
        if n:
            self.articles.inc(n)

    def matched(self, rule: str, n: int = 1) -> None:
        """Rule ``rule`` matched ``n`` articles."""
        self.matches.labels(rule).inc(n)

    def set_feed_status_counts(self, counts: Mapping[FeedStatus, int]) -> None:
        """Replace the feed gauge: ``{"ok": 10, "failing": 1, "backing_off": 2, ...}``
        (states from :func:`monitor.schedule.classify_feed`; missing ones read 0)."""
        for status in set(FEED_STATES) | set(counts):
            self.feeds.labels(status).set(counts.get(status, 0))

    def set_cycle_lag(self, seconds: float) -> None:
        """How late the last cycle started (0 when on time)."""
        self.cycle_lag.set(max(0.0, seconds))

    def cycle_completed(self, duration_s: float, finished_at_unix: float) -> None:
        """A poll cycle ended after ``duration_s``, at Unix time ``finished_at_unix``."""
        self.cycles.inc()
        self.cycle_duration.set(duration_s)
        self.last_cycle.set(finished_at_unix)

    def set_workers(self, workers: Sequence[WorkerInfo], now: datetime, lease_s: float) -> None:
        """Replace the worker gauges (a worker gone since the last cycle drops out)."""
        running = [w for w in workers if w.alive(now, lease_s)]
        self.workers.labels("running").set(len(running))
        self.workers.labels("gone").set(
            sum(1 for w in workers if w.stopped_at is None and not w.alive(now, lease_s))
        )
        self.worker_last_cycle.clear()
        self.worker_leases.clear()
        for w in running:
            worker = f"{w.host}:{w.pid}"
            if w.last_cycle_at is not None:
                self.worker_last_cycle.labels(worker, w.host).set(w.last_cycle_at.timestamp())
            self.worker_leases.labels(worker, w.host).set(w.feed_leases)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _AlertCollector(Collector):
    """``press_monitor_alerts{status,channel}``, refreshed from a source at scrape time."""

    def __init__(self, source: Callable[[], AlertCounts] | None) -> None:
        self._source = source
        self._counts: dict[tuple[AlertStatus, str], int] = {}
        self._lock = threading.Lock()

    def set(self, counts: AlertCounts) -> None:
        with self._lock:
            self._counts = dict(counts)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if self._source is not None:
            try:
                self.set(self._source())
            except Exception as exc:  # a locked or broken DB must not break /metrics
                event(log, "metrics.refresh_failed", logging.WARNING, error=repr(exc))
        family = self._family()
        with self._lock:
            for (status, channel), n in sorted(self._counts.items()):
                family.add_metric([status, channel], n)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "press_monitor_alerts",
            "Outbox alerts by status and channel.",
            labels=["status", "channel"],
        )


def parse_address(address: str | None) -> tuple[str, int]:
    """``"9310"`` / ``":9310"`` -> loopback; ``"host:port"``, ``"[::1]:9310"`` as written.

    An empty host means loopback here, not "every interface" as in socketserver:
    a public bind must be written out (``"0.0.0.0:9310"``).
    """
    text = (address or "").strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]")
    try:
        port_n = int(port)
    except ValueError:
        raise MonitorError(f"health address {address!r}: expected HOST:PORT") from None
    if not 0 <= port_n <= 65535:
        raise MonitorError(f"health address {address!r}: port out of range")
    return host or DEFAULT_HOST, port_n


class HealthServer:
    """``/healthz`` and ``/metrics`` over HTTP from a daemon thread.

    ``registry`` is a ``CollectorRegistry`` (``Metrics.registry``); ``is_healthy``
    answers /healthz (e.g. ``lambda: gate.is_progressing(time.monotonic())``);
    an exception there counts as unhealthy. ``port`` is the bound port after
    :meth:`start` (useful with port 0).
    """

    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        is_healthy: Callable[[], bool],
        *,
        problem: Callable[[], str | None] | None = None,
    ) -> None:
        self.host, self.port = parse_address(address)
        self._registry = registry
        self._is_healthy = is_healthy
        self._problem = problem
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; raises MonitorError when the address cannot be bound."""
        handler = _handler_class(self._registry, self._is_healthy, self._problem)
        server_class = _V6Server if ":" in self.host else ThreadingHTTPServer
        try:
            self._httpd = server_class((self.host, self.port), handler)
        except OSError as exc:
            raise MonitorError(
                f"health endpoint: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from exc
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        if not is_loopback(self.host):
            event(log, "health.public_bind", logging.WARNING, host=self.host, port=self.port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.2,), name="health-http", daemon=True
        )
        self._thread.start()
        event(log, "health.listening", host=self.host, port=self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        """Base URL of the endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler_class(
    registry: CollectorRegistry,
    is_healthy: Callable[[], bool],
    problem: Callable[[], str | None] | None = None,
) -> type:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "press-monitor"

        def log_message(self, *args: object) -> None:  # scrapes every 15 s: keep the journal quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok = _safe_call(is_healthy)
                body = b"ok\n" if ok else _unhealthy_body(problem)
                self._send(200 if ok else 503, body, "text/plain; charset=utf-8")
            elif path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found\n", "text/plain")

        do_HEAD = do_GET

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return _Handler


def _unhealthy_body(problem: Callable[[], str | None] | None) -> bytes:
    """``stalled`` and, when known, why (masked: it may quote an error)."""
    why = None
    if problem is not None:
        try:
            why = problem()
        except Exception:
            why = None
    return (f"stalled: {mask_text(why)}\n" if why else "stalled\n").encode()


def _safe_call(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception as exc:
        event(log, "health.check_failed", logging.WARNING, error=repr(exc))
        return False
