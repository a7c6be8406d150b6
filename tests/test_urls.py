"""Canonical links: the dedup key for the same story arriving with tracking parameters."""

import pytest

from monitor.normalize.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.ORG/news/1?utm_source=x&utm_medium=rss", "https://example.org/news/1"),
        ("HTTP://example.org:80/a?id=5&fbclid=abc#comments", "http://example.org/a?id=5"),
        ("https://example.org:443/a?gclid=1&page=2", "https://example.org/a?page=2"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/a?b=1&a=2", "https://example.org/a?b=1&a=2"),
    ],
)
def test_canonical_url_drops_tracking_and_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", [None, "", "mailto:desk@example.org", "/relative/path", "https://"])
def test_canonical_url_ignores_non_http(url: str | None) -> None:
    assert canonical_url(url) is None
