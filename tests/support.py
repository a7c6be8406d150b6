"""Shared test support: the ../shared data folder and a real HTTP server on 127.0.0.1.

Tests talk to real servers on loopback only; nothing here reaches another address.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"optional test data is absent ({path}): these tests check the matcher and the "
            "parsers against real feeds and articles kept beside the developers' checkout; "
            "the install is fine without them"
        )
    return path


@dataclass
class Request:
    """A request the local server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    """What a route answers. ``body`` may be an iterable of chunks (for slow drips)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


Handler = Callable[[Request], Response]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts, size caps under test) are expected here."""

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1:<free port> with programmable routes.

    ``server.route("/feed.xml", handler)`` or ``server.static("/a", body, headers)``;
    ``server.url("/a")``; every request is recorded in ``server.requests``.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # one write per response part: no 40 ms delayed-ACK stall
            )

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                outer.requests.append(req)
                handler = outer.routes.get(parts.path)
                resp = handler(req) if handler else Response(404, {}, b"not found")
                self.send_response(resp.status)
                headers = dict(resp.headers)
                if isinstance(resp.body, bytes):
                    headers.setdefault("Content-Length", str(len(resp.body)))
                    chunks: Iterable[bytes] = [resp.body]
                else:
                    headers.setdefault("Connection", "close")
                    chunks = resp.body
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command == "HEAD":
                    return
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if "Content-Length" not in headers:
                    self.close_connection = True

            do_GET = do_POST = do_HEAD = do_PUT = _handle

        self.httpd = _QuietServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=lambda: self.httpd.serve_forever(poll_interval=0.05), daemon=True
        )

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def static(
        self, path: str, body: bytes, headers: dict[str, str] | None = None, status: int = 200
    ) -> str:
        return self.route(path, lambda _req: Response(status, dict(headers or {}), body))

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def http_server() -> Iterable[LocalServer]:
    """A fresh :class:`LocalServer` per test."""
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def module_server() -> Iterable[LocalServer]:
    """One :class:`LocalServer` for a whole test module (stopping one costs 0.5 s)."""
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(module_server: LocalServer) -> LocalServer:
    """The module's server, its routes and recorded requests reset for each test."""
    module_server.routes.clear()
    module_server.requests.clear()
    return module_server


def accept_json(server: LocalServer, path: str = "/hook") -> list[dict[str, str]]:
    """A json:// channel's receiver at ``path`` of ``server``: every message it accepts."""
    received: list[dict[str, str]] = []

    def answer(req: Request) -> Response:
        received.append(json.loads(req.body))
        return Response(200, {}, b"{}")

    server.route(path, answer)
    return received


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running ``python -m monitor`` from this checkout in a subprocess."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_monitor(
    config: Path, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m monitor --config CONFIG ARGS...`` from this checkout, output captured;
    ``env`` adds variables (the config's ``${VARS}``)."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(**(env or {})),
        timeout=timeout,
    )
