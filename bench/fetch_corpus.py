"""Benchmark fetch -> parse -> normalise on the real-feeds corpus, and the cost of attacks.

Run from the repo root:  /work/venv/bin/python bench/fetch_corpus.py
Prints: fetch throughput through a LocalServer on 127.0.0.1, parse time in-process and
through the ParsePool, normalise time, and peak memory while fetching a gzip bomb and
refusing a billion-laughs document.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.errors import FetchError  # noqa: E402
from monitor.fetch.client import FeedClient  # noqa: E402
from monitor.fetch.state import FetchState  # noqa: E402
from monitor.normalize.entries import normalize_entries  # noqa: E402
from monitor.parse.feed import parse_feed  # noqa: E402
from monitor.parse.pool import ParsePool  # noqa: E402
from monitor.records import FeedConfig, FetchSettings  # noqa: E402
from tests.support import SHARED, LocalServer  # noqa: E402

NOW = datetime.now(UTC)
MIB = 1024 * 1024


async def fetch_all(urls: list[str]) -> list:
    async with FeedClient(FetchSettings(per_host=16, concurrency=16)) as client:
        return await asyncio.gather(
            *(client.fetch(FeedConfig(url=u), FetchState(), NOW) for u in urls)
        )


async def pool_parse(results: list) -> float:
    async with ParsePool(max_workers=2) as pool:
        await pool.parse(b"<rss version='2.0'><channel/></rss>", None, "http://x/")  # warm up
        started = time.perf_counter()
        await asyncio.gather(
            *(pool.parse(r.body, r.content_type, r.final_url) for r in results),
            return_exceptions=True,
        )
        return time.perf_counter() - started


def bench_corpus(server: LocalServer) -> None:
    root = SHARED / "corpus" / "real-feeds"
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv")
    urls = []
    for path in files:
        headers = {"Content-Encoding": "gzip"} if path.suffix == ".gz" else {}
        urls.append(server.static(f"/{path.relative_to(root)}", path.read_bytes(), headers))
    total = sum(p.stat().st_size for p in files)
    started = time.perf_counter()
    results = asyncio.run(fetch_all(urls * 5))
    fetch_s = time.perf_counter() - started
    print(f"fetch: {len(results)} fetches, {5 * total / MIB:.1f} MiB in {fetch_s:.2f} s "
          f"({len(results) / fetch_s:.0f} fetches/s)")  # fmt: skip
    results = results[: len(files)]
    started, parsed = time.perf_counter(), []
    for r in results:
        with contextlib.suppress(FetchError):
            parsed.append(parse_feed(r.body, r.content_type, r.final_url))
    parse_s = time.perf_counter() - started
    entries = sum(len(p.entries) for p in parsed)
    print(f"parse in-process: {len(files)} feeds, {entries} entries in {parse_s:.2f} s "
          f"({1000 * parse_s / len(files):.1f} ms/feed)")  # fmt: skip
    print(f"parse via ParsePool(2 workers): {asyncio.run(pool_parse(results)):.2f} s")
    started = time.perf_counter()
    articles = sum(len(normalize_entries(p, FeedConfig(url="x"), NOW)) for p in parsed)
    print(f"normalise: {articles} articles in {time.perf_counter() - started:.2f} s")


def bench_attacks(server: LocalServer) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, built in pieces
    zeros = bytes(MIB)
    bomb = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    url = server.static("/bomb", bomb, {"Content-Encoding": "gzip"})
    tracemalloc.start()
    started = time.perf_counter()
    try:
        asyncio.run(fetch_all([url]))
    except FetchError as exc:
        kind = exc.kind
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"gzip bomb (1 GiB of zeros, {len(bomb) / MIB:.1f} MiB on the wire): {kind} after "
          f"{time.perf_counter() - started:.2f} s, peak traced memory {peak / MIB:.1f} MiB")  # fmt: skip
    from tests.test_parse import BILLION_LAUGHS_MULTI_LINE, QUADRATIC

    for name, doc in (("billion laughs", BILLION_LAUGHS_MULTI_LINE), ("quadratic", QUADRATIC)):
        tracemalloc.start()
        started = time.perf_counter()
        try:
            parse_feed(doc, None, "http://x/")
        except FetchError as exc:
            kind = exc.kind
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name} ({len(doc) / 1024:.0f} KiB): {kind} in "
              f"{1000 * (time.perf_counter() - started):.1f} ms, peak {peak / MIB:.2f} MiB")  # fmt: skip


def main() -> None:
    server = LocalServer().start()
    try:
        bench_corpus(server)
        bench_attacks(server)
    finally:
        server.stop()
    print(
        f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
