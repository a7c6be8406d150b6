"""Canonical links: one article however it was linked (AMP, mobile, slashes, ports), and
distinct sites never merged."""

import pytest

from monitor.normalize.urls import canonical_url

SAME_ARTICLE = [
    # AMP variants
    ("https://example.com/news/2025/09/story/amp", "https://example.com/news/2025/09/story"),
    ("https://example.com/news/2025/09/story/amp/", "https://example.com/news/2025/09/story"),
    ("https://example.com/amp/news/2025/09/story", "https://example.com/news/2025/09/story"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://example.com/news/story?amp", "https://example.com/news/story"),
    ("https://example.com/news/story?outputType=amp", "https://example.com/news/story"),
    ("https://example.com/news/world-123.amp", "https://example.com/news/world-123"),
    ("https://example.com/news/world-123.amp.html", "https://example.com/news/world-123.html"),
    ("https://amp.example.com/news/story", "https://example.com/news/story"),
    (
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story/amp/",
        "https://example.com/news/story",
    ),
    # mobile and www editions
    ("https://m.example.com/news/story", "https://example.com/news/story"),
    ("https://mobile.example.com/news/story", "https://example.com/news/story"),
    ("https://www.example.com/news/story", "https://example.com/news/story"),
    ("https://m.bbc.co.uk/news/world-1", "https://bbc.co.uk/news/world-1"),
    ("https://www.pravda.com.ua/rus/news/1/", "https://pravda.com.ua/rus/news/1"),
    # trailing slash, default port, case, tracking
    ("https://EXAMPLE.com:443/news/story/", "https://example.com/news/story"),
    ("http://example.com:80/news/story/?utm_source=rss", "http://example.com/news/story"),
]


@pytest.mark.parametrize(("variant", "canonical"), SAME_ARTICLE)
def test_variants_of_one_article_share_its_canonical_link(variant: str, canonical: str) -> None:
    assert canonical_url(variant) == canonical
    assert canonical_url(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # the prefix is the registrable domain itself, or what remains is a registry
        ("https://amp.dev/documentation/", "https://amp.dev/documentation"),
        ("https://m.ua/news/1", "https://m.ua/news/1"),
        ("https://m.co.uk/news/1", "https://m.co.uk/news/1"),
        ("https://m.com.ua/news/1", "https://m.com.ua/news/1"),
        ("https://www.co.uk/a", "https://www.co.uk/a"),
        # "amp" in the middle of a path is a section, not the AMP edition
        (
            "https://shop.example.com/guitars/amp/fender",
            "https://shop.example.com/guitars/amp/fender",
        ),
        # other parameters and ports are part of the article
        ("https://example.com/a?outputType=xml", "https://example.com/a?outputType=xml"),
        ("https://example.com:8443/a/", "https://example.com:8443/a"),
        ("https://[2001:db8::1]:8443/a", "https://[2001:db8::1]:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/amp", "https://example.com/"),
    ],
)
def test_distinct_sites_and_paths_stay_apart(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_sites_under_a_registry_label_are_not_merged() -> None:
    """``m.example.co.uk`` is example.co.uk's mobile edition; ``m.co.uk`` is a site of its own."""
    assert canonical_url("https://m.example.co.uk/a") == "https://example.co.uk/a"
    assert canonical_url("https://m.co.uk/a") != canonical_url("https://co.uk/a")


def test_different_articles_keep_different_links() -> None:
    links = {
        canonical_url(u)
        for u in (
            "https://example.com/news/1",
            "https://example.com/news/2",
            "https://example.com/news/1?page=2",
            "https://other.example.com/news/1",
            "https://example.org/news/1",
        )
    }
    assert len(links) == 5
