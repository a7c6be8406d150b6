"""Cost of the URL checks and the address guard on a poll cycle: 200 small feeds on a local
server fetched by one FeedClient (16 at a time), by literal address and by host name
(each name resolved for the policy and again, once per connection, by the pinned
backend). Prints the best of 5 cycles.

Run from the repo root:  .venv/bin/python bench/fetch_guard.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.fetch.client import FeedClient  # noqa: E402
from monitor.fetch.state import FetchState  # noqa: E402
from monitor.records import FeedConfig, FetchSettings  # noqa: E402
from tests.support import LocalServer  # noqa: E402

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
FEEDS = 200


async def cycle(urls: list[str]) -> float:
    async with FeedClient(FetchSettings(per_host=16, concurrency=16)) as client:
        started = time.perf_counter()
        now = datetime.now(UTC)
        await asyncio.gather(*(client.fetch(FeedConfig(url=u), FetchState(), now) for u in urls))
        return time.perf_counter() - started


def main() -> None:
    server = LocalServer().start()
    try:
        urls = [server.static(f"/f{i}.xml", RSS) for i in range(FEEDS)]
        for host in ("127.0.0.1", "localhost"):
            named = [u.replace("127.0.0.1", host) for u in urls]
            best = min(asyncio.run(cycle(named)) for _ in range(5))
            print(
                f"{host:>9}: {FEEDS} feeds in {best * 1000:.0f} ms ({best / FEEDS * 1000:.2f} ms/feed)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
