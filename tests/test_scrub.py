"""Input scrubbing at the boundary: no feed-supplied string reaches the database, a
terminal, Telegram or an email with a lone surrogate, NUL, C0/C1 control or bidi
override in it, and no link with a newline, NUL, bidi mark or space inside survives
(issue 10). Hostile RSS, Atom and JSON Feed documents go through the real parse and
normalise path, and one set through ``monitor run --once`` and ``monitor feeds``."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.normalize.entries import normalize_entries
from monitor.parse.feed import parse_feed
from monitor.records import Article, FeedConfig, ParsedFeed
from monitor.text import clean_http_url, html_to_text, printable, scrub, scrub_line
from tests.support import LocalServer, Response, cli_env

NOW = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
# Everything that must never survive in a stored string (tab and newline may, in text).
HOSTILE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ESC = "\x1b"


def assert_clean(article: Article) -> None:
    """Every string of ``article`` is scrubbed, encodes as UTF-8, and its link is clean."""
    for name in ("guid", "title", "text", "link", "canonical_link"):
        value = getattr(article, name)
        if value is not None:
            assert not HOSTILE.search(value), (name, value)
            value.encode("utf-8")  # a lone surrogate would raise here (and in the store)
    assert "\n" not in article.title and "\t" not in article.title
    if article.link is not None:
        assert clean_http_url(article.link) == article.link


# -- the functions, as tables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain Віткофф text", "plain Віткофф text"),
        ("lone \ud800 surrogate \udfff", "lone  surrogate "),
        ("nul\x00bell\x07esc\x1b[2Jdel\x7f", "nulbellesc[2Jdel"),
        ("c1 \x85 next \x9b csi", "c1  next  csi"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("crlf\r\nand cr\ralone", "crlf\nand cr\nalone"),
        ("bidi \u202eevil\u202c \u2066isolate\u2069 \u202aembed", "bidi evil isolate embed"),
        (
            "marks \u200f\u200e and joiners \u200d stay",
            "marks \u200f\u200e and joiners \u200d stay",
        ),
        ("", ""),
    ],
)
def test_scrub_removes_exactly_the_hostile_characters(raw, clean):
    assert scrub(raw) == clean
    scrub(raw).encode("utf-8")


def test_scrub_line_is_one_line_with_single_spaces():
    assert (
        scrub_line("  Breaking:\n\tВіткофф\x1b[31m  у\u2028Парижі \r\n")
        == "Breaking: Віткофф[31m у Парижі"
    )


def test_html_to_text_scrubs_what_the_markup_carries():
    assert html_to_text("<p>a\x1b[0m&#x202e;b</p><p>\ud800c\x85</p>") == "a[0mb\nc"


def test_printable_escapes_instead_of_dropping():
    assert printable("a\x1b[2J\u202eb\ud800") == "a\\x1b[2J\\u202eb\\ud800"
    assert printable("x" * 300, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://news.example.org/a/1?x=1#top", "https://news.example.org/a/1?x=1#top"),
        ("  https://news.example.org/a/1  ", "https://news.example.org/a/1"),
        ("https://news.example.org/a\n/1", None),
        ("https://news.example.org/a\r\nSet-Cookie: x", None),
        ("https://news.example.org/a\x00b", None),
        ("https://news.example.org/a b", None),
        ("https://news.example.org/\u202egnp.exe", None),
        ("https://exa\u200bmple.org/", None),  # zero-width space disguising a host
        ("https://news.example.org:99999/", None),
        ("javascript:alert(1)", None),
        ("https:///no-host", None),
        (None, None),
    ],
)
def test_only_clean_http_links_are_kept(link, kept):
    assert clean_http_url(link) == kept


# -- hostile feeds through parse + normalise ----------------------------------------------

RSS_HOSTILE = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    "<title>Evil\x1b[2J\x1b]0;pwned\x07 News &#x202e;</title>"
    "<item><guid>g-1\x1b[31m</guid><title>Віткофф \x1b[31mу\x85 Парижі &#x2066;x&#x2069;</title>"
    "<link>https://news.example.org/a/1&#10;Set-Cookie: x</link>"
    "<description>&lt;p&gt;NUL&amp;#0;here \x0b\x1b[0m&lt;/p&gt; &#xd800; &#1114112; ok</description></item>"
    "<item><guid isPermaLink='true'>https://news.example.org/a/2</guid><title>Two</title>"
    "<link>https://news.example.org/a/2&#x202e;gnp.exe</link><description>two</description></item>"
    "<item><guid>g-3</guid><title>Three</title><link>https://news.example.org/a/3</link>"
    "<description>three</description></item>"
    "</channel></rss>"
).encode()

# Well-formed (no raw ESC): expat parses it strictly and decodes &#13;&#10; in the href.
ATOM_HOSTILE = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Atom &#x2066;Isolated&#x2069; \u202eBold</title>"
    "<entry><id>urn:1\u202e</id><title type='html'>&lt;b&gt;A&#x202d;&lt;/b&gt;</title>"
    "<link href='https://news.example.org/atom/1&#13;&#10;Location: x'/>"
    "<content type='html'>&lt;p&gt;body\u2067&lt;/p&gt;</content></entry>"
    "</feed>"
).encode()

JSON_HOSTILE = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON \ud800 feed \x1b[2J",
        "items": [
            {
                "id": "\ud800j-1\x00",
                "url": "https://news.example.org/j/1\nSet-Cookie: x",
                "title": "Title \udfff with \x1b[31mESC\u202e",
                "content_text": "Text\x00 with NUL and \ud83d lone high surrogate",
            },
            {"id": "\ud800", "title": "\x00", "content_html": "<p>\x1b</p>"},
        ],
    }
).encode()  # json.dumps writes the surrogates as \ud800 escapes: valid JSON text


def parsed_articles(body: bytes, content_type: str) -> tuple[ParsedFeed, list[Article]]:
    parsed = parse_feed(body, content_type, "https://news.example.org/feed")
    return parsed, normalize_entries(parsed, FeedConfig(url="https://news.example.org/feed"), NOW)


def test_hostile_rss_is_stored_clean():
    parsed, articles = parsed_articles(RSS_HOSTILE, "application/rss+xml")
    assert parsed.title == "Evil[2J]0;pwned News"
    assert len(articles) == 3
    for article in articles:
        assert_clean(article)
    first, second, third = articles
    # feedparser reads a C1 control in a loosely parsed feed as windows-1252 (\x85: "…")
    assert first.guid == "g-1[31m" and first.title == "Віткофф [31mу… Парижі x"
    assert first.link is None and first.canonical_link is None  # the CRLF link is dropped
    assert "here" in first.text and "ok" in first.text
    assert second.link == "https://news.example.org/a/2"  # the bidi link: its permalink guid
    assert third.link == "https://news.example.org/a/3"


def test_hostile_atom_is_stored_clean():
    parsed, (article,) = parsed_articles(ATOM_HOSTILE, "application/atom+xml")
    assert parsed.title == "Atom Isolated Bold" and parsed.warning is None
    assert_clean(article)
    assert (article.guid, article.title, article.text) == ("urn:1", "A", "body")
    assert article.link is None


def test_hostile_json_feed_is_stored_clean():
    """A lone surrogate in a JSON Feed title made the store raise UnicodeEncodeError and
    took the whole poll cycle down (issue 10, finding 1)."""
    parsed, articles = parsed_articles(JSON_HOSTILE, "application/feed+json")
    assert parsed.title == "JSON  feed [2J"  # scrubbed, spacing as the feed has it
    assert len(articles) == 2
    for article in articles:
        assert_clean(article)
    assert articles[0].guid == "j-1" and articles[0].title == "Title with [31mESC"
    assert articles[0].link is None  # a newline in the URL
    assert articles[1].guid.startswith("sha256:")  # an id of nothing but a surrogate


@pytest.mark.parametrize("ref", ["&#xd800;", "&#55296;", "&#xDFFF;", "&#1114112;", "&#x110000;",
                                 "&#0;", "&#x" + "0" * 40 + "41;", "&#" + "9" * 5000 + ";"])  # fmt: skip
def test_character_references_no_text_may_hold_do_not_crash_the_parser(ref):
    """feedparser's fallback parser raised UnicodeEncodeError / ValueError on these."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>T {ref}</title><item><guid>1</guid><title>a {ref} b</title></item>"
        "</channel></rss>"
    ).encode()
    _parsed, (article,) = parsed_articles(body, "application/rss+xml")
    assert_clean(article)
    assert article.title.startswith("a ") and article.title.endswith(" b")


# -- through the daemon and the CLI ----------------------------------------------------


@pytest.fixture
def server():
    server = LocalServer().start()
    yield server
    server.stop()


def test_run_once_stores_hostile_feeds_clean_and_monitor_feeds_shows_no_escape(
    tmp_path: Path, server: LocalServer
):
    """Real 127.0.0.1 feeds, ``monitor run --once`` in a subprocess: the hostile RSS and
    JSON Feed are stored, the feeds that redirect to ``javascript:`` and to the metadata
    address fail alone, and neither ``monitor feeds`` nor the run's output carries an ESC."""
    rss = server.static("/rss.xml", RSS_HOSTILE, {"Content-Type": "application/rss+xml"})
    jsf = server.static("/feed.json", JSON_HOSTILE, {"Content-Type": "application/feed+json"})
    js = server.route("/js", lambda _r: Response(302, {"Location": "javascript:x\x1b[2J"}))
    meta = server.route(
        "/meta", lambda _r: Response(302, {"Location": "http://169.254.169.254/latest/"})
    )
    feeds = "".join(f'\n[[feeds]]\nurl = "{u}"\nbacklog = "3650d"\n' for u in (rss, jsf, js, meta))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/monitor.db"\n'
        '[fetch]\ntimeout = "5s"\nconnect_timeout = "2s"\n'
        '[channels]\nconsole = "console://"\n'
        f'{feeds}\n[[rules]]\nname = "witkoff"\nquery = "Віткофф"\nchannels = ["console"]\n',
        encoding="utf-8",
    )

    def monitor(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(cfg), *argv],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env=cli_env(),
        )  # fmt: skip

    run = monitor("run", "--once")
    assert run.returncode == 0, run.stderr
    assert ESC not in run.stdout + run.stderr
    assert "Віткофф" in run.stdout  # the hostile article was stored, matched and alerted
    with sqlite3.connect(tmp_path / "monitor.db") as con:
        titles = [t for (t,) in con.execute("SELECT title FROM articles ORDER BY id")]
        feeds_rows = dict(con.execute("SELECT url, error_kind FROM feeds"))
    assert len(titles) == 5 and not any(HOSTILE.search(t) for t in titles)
    assert feeds_rows == {rss: None, jsf: None, js: "http_status", meta: "private_address"}
    fitted = monitor("feeds")  # the default: cut to 80 columns
    assert fitted.returncode == 0, fitted.stderr
    assert ESC not in fitted.stdout and not HOSTILE.search(fitted.stdout)
    table = monitor("feeds", "--wide")  # every column whole
    assert table.returncode == 0, table.stderr
    assert ESC not in table.stdout and not HOSTILE.search(table.stdout)
    assert "Evil[2J]0;pwned News" in table.stdout and "JSON feed [2J" in table.stdout
    assert "private_address: " in table.stdout and "169.254.169.254, a link-local" in table.stdout
    (listed,) = [f for f in json.loads(monitor("feeds", "--json").stdout) if f["url"] == meta]
    assert "allow_private = true" in listed["error"]
