"""Matching has a bounded cost and never stalls the event loop (issue 10): a feed's
database work and matching run on the store thread, so other feeds' fetches go on; a
huge article is matched on a bounded prefix and the cut is logged."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.match import MAX_MATCH_CHARS
from monitor.match.matcher import Matcher
from monitor.pipeline import poll_cycle
from tests.support import LocalServer
from tests.test_pipeline import SEED_FEED, InlineParser, make_runtime, rss

RSS = {"Content-Type": "application/rss+xml"}


def test_slow_matching_does_not_stall_the_event_loop(
    tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each match takes 0.3 s here (5 articles: 1.5 s of matching); a ticker on the same
    loop never waits much longer than its own 20 ms sleep, where matching on the loop
    would hold it for the whole 0.3 s per article."""
    feed = http_server.static("/feed.xml", SEED_FEED, RSS)
    rt = make_runtime(tmp_path, http_server, [feed], InlineParser())
    real = Matcher.match

    def slow(self: Matcher, doc: Any) -> Any:
        time.sleep(0.3)  # a slow match; what the test pins is the thread it runs on
        return real(self, doc)

    monkeypatch.setattr(Matcher, "match", slow)
    gaps: list[float] = []

    async def main() -> None:
        cycle = asyncio.ensure_future(poll_cycle(rt, all_feeds=True))
        last = time.monotonic()
        while not cycle.done():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
        report = cycle.result()
        assert report.outcomes[0].new == 5 and report.alerts == 1

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started >= 1.5
    assert max(gaps) < 0.25, f"the event loop was held for {max(gaps):.2f} s"


def test_a_huge_article_is_matched_on_a_bounded_prefix_and_the_cut_is_logged(
    tmp_path: Path, http_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The terms in the first part alert; the cut is logged with both lengths."""
    filler = "lorem ipsum dolor " * (MAX_MATCH_CHARS // 9)
    body = rss(
        ("big-1", "https://x.example/big", f"Witkoff and the coalition of the willing {filler}")
    )
    feed = http_server.static("/big.xml", body, RSS)
    rt = make_runtime(tmp_path, http_server, [feed], InlineParser())
    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        report = asyncio.run(poll_cycle(rt, all_feeds=True))
    assert report.outcomes[0].new == 1 and report.alerts == 1
    cut = [r for r in caplog.records if r.getMessage() == "article.match_truncated"]
    assert len(cut) == 1
    fields = cut[0].fields  # type: ignore[attr-defined]
    assert fields["text_chars"] > 2 * MAX_MATCH_CHARS >= 2 * fields["matched_chars"]
