"""Main text of an article page (feeds with ``full_text = true``): HTML bytes -> title and
text, with trafilatura. No I/O. The daemon runs it in a :class:`~monitor.parse.pool.ParsePool`
worker, so a page crafted to be slow or huge is killed with its worker, like a feed.
"""

from __future__ import annotations

from monitor.records import Page
from monitor.text import clean_http_url, html_to_text


def extract_article(html: bytes, url: str) -> Page:
    """The title, main text and canonical URL of an article page; empty strings (and no
    URL) when nothing is found. Text is plain, paragraphs separated by newlines. The
    canonical URL is the page's own claim (hostile: the caller decides whether to trust
    it). No I/O."""
    import trafilatura  # heavy import: only feeds with full_text need it

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=True,
    )  # fmt: skip
    if doc is None:
        return Page("", "")
    title = html_to_text(getattr(doc, "title", None) or "").replace("\n", " ")
    text = html_to_text(getattr(doc, "text", None) or "")
    named = getattr(doc, "url", None)
    canonical = clean_http_url(named) if isinstance(named, str) and named != url else None
    return Page(title, _without_heading(text, title), canonical)


def _without_heading(text: str, title: str) -> str:
    """Drop a first line that only repeats the page title (the article's <h1>)."""
    first, _, rest = text.partition("\n")
    if first and title and (title == first or title.startswith(first + " ")):
        return rest
    return text
