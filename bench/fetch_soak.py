"""Soak: many poll cycles (each its own asyncio.run, like the daemon) of fetch + ParsePool
against healthy and hostile routes; prints open file descriptors and memory per cycle.

Run from the repo root:  /work/venv/bin/python bench/fetch_soak.py [CYCLES]
"""

from __future__ import annotations

import asyncio
import gzip
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.errors import FetchError  # noqa: E402
from monitor.fetch.client import FeedClient  # noqa: E402
from monitor.fetch.state import FetchState  # noqa: E402
from monitor.parse.pool import ParsePool  # noqa: E402
from monitor.records import FeedConfig, FetchSettings  # noqa: E402
from tests.support import SHARED, LocalServer  # noqa: E402


def routes(server: LocalServer) -> list[str]:
    feed = (SHARED / "corpus/real-feeds/en/time_world_2026.xml").read_bytes()  # 1 MB
    return [
        server.static("/ok", feed, {"Content-Type": "application/rss+xml"}),
        server.static("/500", b"", status=500),
        server.static("/bomb", gzip.compress(b"\0" * (50 << 20)), {"Content-Encoding": "gzip"}),
        server.static("/html", b"<html><body>x</body></html>", {"Content-Type": "text/html"}),
        server.static("/laughs", b'<!DOCTYPE r [<!ENTITY a "x"><!ENTITY b "&a;&a;">]><rss/>'),
    ]


async def cycle(urls: list[str], pool: ParsePool) -> list[str]:
    async def one(client: FeedClient, url: str) -> str:
        try:
            result = await client.fetch(FeedConfig(url=url), FetchState(), datetime.now(UTC))
            parsed = await pool.parse(result.body or b"", result.content_type, url)
            return f"{len(parsed.entries)} entries"
        except FetchError as exc:
            return exc.kind

    async with FeedClient(FetchSettings(timeout_s=5)) as client:
        return await asyncio.gather(*(one(client, u) for u in urls))


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    server = LocalServer().start()
    server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
    pool = ParsePool(max_workers=2, timeout_s=10)
    urls = routes(server)
    started = time.perf_counter()
    try:
        for i in range(cycles):
            outcomes = asyncio.run(cycle(urls, pool))
            if i in (0, cycles - 1):
                fds = len(os.listdir("/proc/self/fd"))
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
                workers = sum(w.rss_bytes() for w in pool._all) >> 20
                print(f"cycle {i + 1}: {outcomes} open fds={fds} max RSS={rss} MiB "
                      f"parse workers={len(pool._all)} ({workers} MiB)")  # fmt: skip
    finally:
        pool.close()
        server.stop()
    print(f"{cycles} cycles in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
