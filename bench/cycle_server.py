"""The feed server of ``bench/cycle.py``: one process, asyncio, HTTP/1.1 on loopback.

    python bench/cycle_server.py --feeds N --hosts H --rules R --epoch T [--port P]

Serves ``/feeds/<i>.xml`` (``bench/cycle_feeds.py``'s documents) on every address
127.0.0.2 ... 127.0.0.(H+1) (Linux routes all of 127.0.0.0/8 to loopback, so each address
is a host of its own to a client's per-host limit; no /etc/hosts entry is needed), feed
``i`` on 127.0.0.(2 + i % H) only, and a control API on 127.0.0.1:

- ``GET /_control/latency?ms=100``: wait this long before every response from now on;
- ``GET /_control/stats`` (JSON counts of 200/304/404 and gzip responses since the last
  ``/_control/reset``); ``GET /_control/prewarm?n=N`` renders feeds 0..N-1 into the cache now.

Responses carry ``ETag`` (a hash of the body) and ``Last-Modified`` (the epoch) and answer
``If-None-Match`` / ``If-Modified-Since`` with 304; a body is gzipped when the request
accepts gzip. Connections stay open (HTTP/1.1 keep-alive) unless the client asks
``Connection: close`` or speaks HTTP/1.0; Nagle is off on every accepted socket
(``TCP_NODELAY``), or small responses on a kept-alive connection wait ~40 ms for the
client's delayed ACK. Prints ``ready <port>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import socket
import sys
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cycle_feeds  # noqa: E402


class Feeds:
    """Rendered bodies (gzip always kept; raw kept while under the cache budget)."""

    def __init__(self, n_feeds: int, n_rules: int, epoch: float, cache_bytes: int) -> None:
        self.n_feeds, self.n_rules, self.epoch = n_feeds, n_rules, epoch
        self.cache_bytes = cache_bytes
        self.cached = 0
        self.items: dict[int, tuple[bytes | None, bytes, str]] = {}
        self.last_modified = format_datetime(datetime.fromtimestamp(int(epoch), UTC), usegmt=True)

    def get(self, i: int) -> tuple[bytes | None, bytes, str]:
        item = self.items.get(i)
        if item is None:
            raw = cycle_feeds.feed_body(i, self.epoch, self.n_rules, self.n_feeds)
            gz = gzip.compress(raw, 6, mtime=0)
            keep_raw = self.cached + len(raw) + len(gz) <= self.cache_bytes
            item = (raw if keep_raw else None, gz, cycle_feeds.etag_of(raw))
            self.cached += len(gz) + (len(raw) if keep_raw else 0)
            self.items[i] = item
        return item

    def raw(self, i: int) -> bytes:
        raw, gz, _ = self.get(i)
        return raw if raw is not None else gzip.decompress(gz)


class State:
    def __init__(self, feeds: Feeds, hosts: int, latency_s: float) -> None:
        self.feeds, self.hosts, self.latency_s = feeds, hosts, latency_s
        self.stats: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1


def _not_modified(headers: dict[str, str], etag: str, last_modified: str) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
    ims = headers.get("if-modified-since")
    if ims:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return False
    return False


class HTTP(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = b""
        self.busy = False
        self.closing = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state.count("connections")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > 1 << 20:
            self.transport.close()  # type: ignore[union-attr]
            return
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True

    def _next(self) -> None:
        if self.busy or self.closing:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self._respond(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", True)
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        response = self._handle(method, target, headers)
        delay = self.state.latency_s if not target.startswith("/_control/") else 0.0
        self.busy = True
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._respond, response, close)
        else:
            self._respond(response, close)

    def _respond(self, response: bytes, close: bool) -> None:
        self.busy = False
        if self.closing or self.transport is None:
            return
        self.transport.write(response)
        if close:
            self.closing = True
            self.transport.close()
            return
        self._next()

    def _handle(self, method: str, target: str, headers: dict[str, str]) -> bytes:
        url = urlsplit(target)
        if url.path.startswith("/_control/"):
            return self._control(url.path, parse_qs(url.query))
        st = self.state
        try:
            i = int(url.path.removeprefix("/feeds/").removesuffix(".xml"))
        except ValueError:
            i = -1
        host = headers.get("host", "").split(":")[0]
        if not (0 <= i < st.feeds.n_feeds) or host != cycle_feeds.host_of(i, st.hosts):
            st.count("404")
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        raw, gz, etag = st.feeds.get(i)
        lm = st.feeds.last_modified
        common = f"ETag: {etag}\r\nLast-Modified: {lm}\r\nCache-Control: max-age=60\r\n"
        if _not_modified(headers, etag, lm):
            st.count("304")
            return f"HTTP/1.1 304 Not Modified\r\n{common}\r\n".encode()
        want_gzip = "gzip" in headers.get("accept-encoding", "").lower()
        body = gz if want_gzip else (raw if raw is not None else gzip.decompress(gz))
        st.count("200")
        if want_gzip:
            st.count("gzip")
        encoding = "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" if want_gzip else ""
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
            f"{common}{encoding}Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + (body if method != "HEAD" else b"")

    def _control(self, path: str, query: dict[str, list[str]]) -> bytes:
        st = self.state
        if path == "/_control/latency":
            st.latency_s = float(query.get("ms", ["0"])[0]) / 1000
        elif path == "/_control/reset":
            st.stats = {}
        elif path == "/_control/prewarm":
            for i in range(min(int(query.get("n", ["0"])[0]), st.feeds.n_feeds)):
                st.feeds.get(i)
        elif path != "/_control/stats":
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        body = json.dumps(
            {"latency_ms": st.latency_s * 1000, "stats": st.stats, "cached": st.feeds.cached}
        ).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


def _listen(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(args: argparse.Namespace) -> None:
    feeds = Feeds(args.feeds, args.rules, args.epoch, args.cache_mb << 20)
    state = State(feeds, args.hosts, args.latency_ms / 1000)
    control = _listen("127.0.0.1", args.port)
    port = control.getsockname()[1]
    socks = [control] + [_listen(f"127.0.0.{2 + h}", port) for h in range(args.hosts)]
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(lambda: HTTP(state), sock=s) for s in socks]
    print(f"ready {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for server in servers:
            server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, required=True)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--epoch", type=float, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--cache-mb", type=int, default=400)
    args = ap.parse_args()
    if not 1 <= args.hosts <= 250:
        ap.error("--hosts must be 1-250 (127.0.0.2 ... 127.0.0.251)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
