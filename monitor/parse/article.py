"""Main text of an article page (feeds with ``full_text = true``): HTML bytes -> title and
text, with trafilatura. No I/O. The daemon runs it in a :class:`~monitor.parse.pool.ParsePool`
worker, so a page crafted to be slow or huge is killed with its worker, like a feed.
"""

from __future__ import annotations

from monitor.text import html_to_text


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
