"""normalize_entries: plain text, guids, canonical links, dates, duplicates, mojibake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.normalize.entries import entry_guid, normalize_entries
from monitor.records import Entry, FeedConfig, ParsedFeed
from monitor.text import html_to_text, repair_mojibake

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
FEED = FeedConfig(url="https://news.example.org/rss", language="uk")


def entry(**kw) -> Entry:
    base = {"guid": None, "link": None, "title": "", "summary_html": "", "published": None}
    return Entry(**{**base, **kw})


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain text", "plain text"),
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("Tom &amp; Jerry &quot;&#8217;&#x2014;&nbsp;x", 'Tom & Jerry "’— x'),
        ("  lots \t of\n\n\n  space  ", "lots of\nspace"),
        ("<script>alert(1)</script><style>p{}</style>kept", "kept"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<p>Віткофф&nbsp;у&nbsp;Парижі</p>", "Віткофф у Парижі"),
        ("unclosed <b>tag", "unclosed tag"),
        ("nul\x00 and\x07 bell\x1b", "nul and bell"),
        ("", ""),
    ],
)
def test_html_becomes_plain_text_with_paragraph_breaks(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("garbled", "clean"),
    [
        ("Ð¯Ð½Ð´ÐµÐºÑ\x81.Ð\x9dÐ¾Ð²Ð¾Ñ\x81Ñ‚Ð¸", "Яндекс.Новости"),
        ("Ð’ ÐœÐ¾Ñ\x81ÐºÐ²Ðµ", "В Москве"),
        ("Ð’Ñ–Ñ‚ÐºÐ¾Ñ„Ñ„", "Віткофф"),
        ("Ð’Ñ–Ñ‚ÐºÐ¾Ñ„Ñ„", "Віткофф"),
        ("Ã©tÃ© Ã\xa0 Paris", "été à Paris"),
        ("Р’С–С‚РєРѕС„С„ Сѓ РџР°СЂРёР¶С–", "Віткофф у Парижі"),  # UTF-8 read as windows-1251
        ("РџСЂРёРІРµС‚, РјРёСЂ", "Привет, мир"),
        ("Різдво і Рік", "Різдво і Рік"),  # real Ukrainian that merely looks like it stays
        ("Рівне, Сєвєродонецьк, Сіверськ", "Рівне, Сєвєродонецьк, Сіверськ"),
        ("SÃO PAULO", "SÃO PAULO"),
        ("plain English", "plain English"),
        ("Ñandú and Ðorđe", "Ñandú and Ðorđe"),  # real Latin letters stay
        ("Москва", "Москва"),
    ],
)
def test_utf8_read_as_windows_1252_is_repaired(garbled, clean):
    assert repair_mojibake(garbled) == clean


@pytest.mark.parametrize(
    ("fields", "guid"),
    [
        ({"guid": "urn:1", "link": "https://x/1"}, "urn:1"),
        ({"link": "https://x/1"}, "https://x/1"),
        ({"title": "T", "summary_html": "S"}, entry_guid(entry(title="T", summary_html="S"))),
    ],
)
def test_guid_falls_back_from_id_to_link_to_content_hash(fields, guid):
    assert entry_guid(entry(**fields)) == guid


def test_content_hash_guid_is_stable_and_distinguishes_entries():
    a = entry_guid(entry(title="T", summary_html="S"))
    assert a.startswith("sha256:") and a == entry_guid(entry(title="T", summary_html="S"))
    assert a != entry_guid(entry(title="T", summary_html="S2"))


def test_article_fields_are_normalised():
    published = datetime(2026, 2, 20, 8, 0, tzinfo=UTC)
    parsed = ParsedFeed(
        title="F",
        entries=(
            entry(
                guid="g1",
                link="https://News.Example.org/a/1?utm_source=rss&id=5#top",
                title="<b>Віткофф</b> &amp; коаліція",
                summary_html="<p>Перший.</p><p>Другий.</p>",
                published=published,
            ),
        ),
    )
    (article,) = normalize_entries(parsed, FEED, NOW)
    assert article.feed_url == FEED.url and article.guid == "g1"
    assert article.link == "https://News.Example.org/a/1?utm_source=rss&id=5#top"
    assert article.canonical_link == "https://news.example.org/a/1?id=5"
    assert article.title == "Віткофф & коаліція"
    assert article.text == "Перший.\nДругий."
    assert (article.published, article.first_seen, article.language) == (published, NOW, "uk")


def test_missing_date_stays_none_for_the_store_to_fill():
    (article,) = normalize_entries(ParsedFeed("F", (entry(guid="1"),)), FEED, NOW)
    assert article.published is None and article.first_seen == NOW


def test_duplicate_ids_in_one_fetch_give_one_article():
    parsed = ParsedFeed(
        "F",
        (
            entry(guid="same", title="first"),
            entry(guid="other", title="between"),
            entry(guid="same", title="second copy"),
        ),
    )
    articles = normalize_entries(parsed, FEED, NOW)
    assert [(a.guid, a.title) for a in articles] == [("same", "first"), ("other", "between")]


def test_title_is_one_line():
    (article,) = normalize_entries(
        ParsedFeed("F", (entry(guid="1", title="a<br>b\nc"),)), FEED, NOW
    )
    assert article.title == "a b c"


def test_overlong_guid_is_hashed_and_overlong_links_are_dropped():
    long_link = "https://example.org/a?" + "x" * 3000
    (article,) = normalize_entries(ParsedFeed("F", (entry(link=long_link),)), FEED, NOW)
    assert article.guid.startswith("sha256:") and len(article.guid) < 100
    assert article.link is None and article.canonical_link is None
    (again,) = normalize_entries(ParsedFeed("F", (entry(link=long_link),)), FEED, NOW)
    assert again.guid == article.guid


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,x", "urn:uuid:1", "/relative"]
)
def test_non_http_links_never_reach_an_article(link):
    (article,) = normalize_entries(ParsedFeed("F", (entry(guid="1", link=link),)), FEED, NOW)
    assert article.link is None and article.canonical_link is None


@pytest.mark.parametrize(
    ("published", "kept"),
    [
        (datetime(1899, 12, 31, tzinfo=UTC), False),
        (datetime(1900, 1, 1, tzinfo=UTC), True),
        (datetime(2026, 12, 9, 11, 59, tzinfo=UTC), True),  # within a week ahead
        (datetime(2026, 12, 9, 12, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
        (None, False),
    ],
)
def test_a_publication_date_that_cannot_be_true_is_unknown(published, kept) -> None:
    from monitor.normalize.entries import plausible_date

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert (plausible_date(published, now) == published and published is not None) is kept
