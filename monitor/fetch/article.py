"""Full text for feeds that only carry summaries (``full_text = true``): fetch the article
page with the same bounds as feeds, then hand it to an extractor.

:func:`fetch_article_async` fetches through a :class:`~monitor.fetch.client.FeedClient`
(timeouts, size cap, redirects, per-host limits, and the feed's address policy: an entry
cannot send us to a loopback, private or metadata address its feed is not on) and awaits
``extract(html, url)`` on the page: the pipeline and the CLI pass
:meth:`monitor.parse.pool.ParsePool.extract`, so extraction runs in a worker process with
the parser's time and memory bounds (a thread could not be stopped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from monitor.errors import FetchError
from monitor.fetch.client import FeedClient
from monitor.fetch.failures import shown_url
from monitor.records import FeedConfig, Page
from monitor.text import printable

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")

Extract = Callable[[bytes, str], Awaitable[Page]]
"""``extract(html, url) -> Page``; raises ``FetchError`` (``parse_error``)."""


async def fetch_article_async(
    client: FeedClient,
    url: str,
    *,
    now: datetime,
    feed: FeedConfig | None,
    extract: Extract,
) -> Page:
    """Fetch ``url`` through ``client`` and extract its :class:`Page`; raises ``FetchError``
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
    return await extract(resp.body or b"", resp.url)
