"""Full text for feeds that only carry summaries (``full_text = true``): fetch the article
page with the same bounds as feeds and extract its main text with trafilatura.

:func:`extract_article` is pure (HTML bytes -> title, text); :func:`fetch_article_async`
fetches through a :class:`~monitor.fetch.client.FeedClient` (timeouts, size cap, redirects,
per-host limits, and the feed's address policy: an entry cannot send us to a loopback,
private or metadata address its feed is not on); :func:`fetch_article` is a one-shot sync
wrapper for the CLI.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from monitor.errors import FetchError
from monitor.fetch.client import FeedClient, shown_url
from monitor.records import FeedConfig, FetchSettings
from monitor.text import html_to_text, printable

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


def extract_article(html: bytes, url: str) -> tuple[str, str]:
    """``(title, main text)`` of an article page; empty strings when nothing is found.
    Text is plain, paragraphs separated by newlines. No I/O."""
    import trafilatura  # heavy import: only feeds with full_text need it

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=True,
    )  # fmt: skip
    if doc is None:
        return "", ""
    title = html_to_text(getattr(doc, "title", None) or "").replace("\n", " ")
    text = html_to_text(getattr(doc, "text", None) or "")
    return title, _without_heading(text, title)


def _without_heading(text: str, title: str) -> str:
    """Drop a first line that only repeats the page title (the article's <h1>)."""
    first, _, rest = text.partition("\n")
    if first and title and (title == first or title.startswith(first + " ")):
        return rest
    return text


async def fetch_article_async(
    client: FeedClient, url: str, *, now: datetime, feed: FeedConfig | None
) -> tuple[str, str]:
    """Fetch ``url`` through ``client`` and extract ``(title, text)``; raises ``FetchError``
    (the same kinds as feeds; ``not_a_feed`` when the page is not HTML; ``private_address``
    when the page or a redirect is on an address ``feed`` may not reach). ``feed`` is the
    feed whose entry links to ``url``; None only when the operator gave ``url`` itself
    (``test-rule --url``). ``now`` is the caller's clock (it dates a Retry-After)."""
    policy = await client.feed_policy(feed) if feed is not None else None
    resp = await client.get(url, accept=HTML_ACCEPT, now=now, policy=policy)
    kind = (resp.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in _HTML_TYPES:
        raise FetchError(
            "not_a_feed", f"the article {shown_url(url)} is {printable(kind, 80)}, not an HTML page"
        )
    try:
        async with asyncio.timeout(client.settings.parse_timeout_s):
            return await asyncio.to_thread(extract_article, resp.body or b"", resp.url)
    except TimeoutError as exc:
        raise FetchError(
            "parse_error",
            f"extracting the text of {shown_url(url)} took longer than "
            f"{client.settings.parse_timeout_s:g} s: the page was abandoned",
        ) from exc
    except (ValueError, TypeError, AttributeError, LookupError, RecursionError) as exc:
        # trafilatura/lxml on a hostile page: that page's problem, like a parser crash
        raise FetchError(
            "parse_error",
            f"extracting the text of {shown_url(url)} failed ({type(exc).__name__})",
        ) from exc


def fetch_article(url: str, settings: FetchSettings) -> tuple[str, str]:
    """One-shot: fetch ``url`` and return ``(title, main text)``; raises ``FetchError``."""

    async def run() -> tuple[str, str]:
        async with FeedClient(settings) as client:
            return await fetch_article_async(client, url, now=datetime.now(UTC), feed=None)

    return asyncio.run(run())
