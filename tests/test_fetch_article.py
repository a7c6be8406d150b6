"""Full-text extraction of article pages (feeds with full_text = true)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from monitor.cli.rules import fetch_article
from monitor.errors import FetchError
from monitor.fetch.article import fetch_article_async
from monitor.fetch.client import FeedClient
from monitor.parse.article import extract_article
from monitor.parse.pool import ParsePool
from monitor.records import FeedConfig, FetchSettings
from tests.support import Response

PARAGRAPHS = [
    "Спецпосланець США Стів Віткофф прибув до Парижа на зустріч коаліції рішучих, "
    "де обговорювали гарантії безпеки для України після можливого припинення вогню.",
    "За словами джерел, учасники зустрічі погодили подальші кроки та графік консультацій "
    "між міністрами оборони країн, які готові долучитися до місії.",
    "Наступна зустріч запланована на березень; до того часу робочі групи мають підготувати "
    "детальні пропозиції щодо логістики та фінансування.",
]
PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Віткофф у Парижі | Новини</title></head>"
    "<body><nav><a href='/'>Головна</a> <a href='/news'>Новини</a></nav>"
    "<article><h1>Віткофф у Парижі</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>© Видання 2026. Усі права захищені.</footer></body></html>"
).encode()


def test_main_text_is_extracted_without_navigation_or_footer():
    title, text, _canonical = extract_article(PAGE, "https://news.example.org/a/1")
    assert "Віткофф у Парижі" in title
    assert text.split("\n") == PARAGRAPHS
    assert "Головна" not in text and "права захищені" not in text


def test_page_without_text_gives_empty_strings():
    assert extract_article(b"<html><body></body></html>", "https://x/") == ("", "", None)


def test_article_is_fetched_within_the_feed_bounds(http_server):
    url = http_server.static("/a/1", PAGE, {"Content-Type": "text/html; charset=utf-8"})
    title, text = fetch_article(url, FetchSettings())
    assert "Віткофф" in title and PARAGRAPHS[0] in text
    assert "text/html" in http_server.hits("/a/1")[0].headers["accept"]


def test_fetch_article_async_is_what_the_pipeline_awaits(http_server):
    url = http_server.static("/a/2", PAGE, {"Content-Type": "text/html"})

    async def run():
        async with FeedClient(FetchSettings()) as client, ParsePool(max_workers=1) as pool:
            feed = FeedConfig(url=http_server.url("/feed.xml"))  # a loopback feed's article
            return await fetch_article_async(
                client, url, now=datetime.now(UTC), feed=feed, extract=pool.extract
            )

    assert asyncio.run(run())[1].startswith(PARAGRAPHS[0])


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        (404, {}, b"", "http_status"),
        (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4", "not_a_feed"),
        (200, {"Content-Length": str(50 * 1024 * 1024)}, b"", "too_large"),
    ],
)
def test_article_failures_are_classified(http_server, status, headers, body, kind):
    if "Content-Length" in headers:
        url = http_server.route("/a/x", lambda _r: Response(status, headers, iter([b"x"])))
    else:
        url = http_server.static("/a/x", body, headers, status=status)
    with pytest.raises(FetchError) as info:
        fetch_article(url, FetchSettings())
    assert info.value.kind == kind


def test_an_extraction_that_overruns_is_killed_with_its_worker(http_server):
    """A page that keeps the extractor busy past parse_timeout is abandoned as parse_error
    and its worker process killed (a thread could not be stopped). The overrun is real:
    a fresh worker's first extraction (importing trafilatura) takes far over 50 ms."""
    url = http_server.static("/a/slow", PAGE, {"Content-Type": "text/html"})
    pool = ParsePool(max_workers=1, timeout_s=0.05)
    workers = []

    async def run():
        async with FeedClient(FetchSettings()) as client, pool:
            feed = FeedConfig(url=http_server.url("/feed.xml"))
            try:
                return await fetch_article_async(
                    client, url, now=datetime.now(UTC), feed=feed, extract=pool.extract
                )
            finally:
                workers.extend(pool._all)  # what is left alive after the overrun

    with pytest.raises(FetchError) as info:
        asyncio.run(run())
    assert info.value.kind == "parse_error"
    assert "took longer than 0.05 s: the page was abandoned" in info.value.message
    assert workers == []  # the overrunning worker was killed, not left running
