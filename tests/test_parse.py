"""parse_feed and ParsePool: formats, charsets, bozo handling, not-a-feed, entity attacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import tracemalloc

import pytest

from monitor.errors import FetchError
from monitor.parse.feed import parse_feed
from monitor.parse.pool import ParsePool
from monitor.parse.xmlguard import defuse_entities
from monitor.text import html_to_text
from tests.support import LocalServer

MIB = 1024 * 1024
UK_TITLE = "Віткофф зустрівся з лідерами коаліції рішучих у Парижі"


def rss(items: str = "", head: str = "", channel_extra: str = "") -> bytes:
    return (
        f'{head}<rss version="2.0"><channel><title>Feed</title>{channel_extra}{items}</channel></rss>'
    ).encode()


ITEM = "<item><guid>g1</guid><title>One</title><link>http://example.org/1</link></item>"


def parse_error(body: bytes, content_type: str | None = None) -> FetchError:
    with pytest.raises(FetchError) as info:
        parse_feed(body, content_type, "http://example.org/feed")
    return info.value


def test_rss_entry_fields_are_parsed():
    body = rss(
        "<item><guid>g1</guid><title>One &amp; two</title><link>/a/1</link>"
        "<description>&lt;p&gt;Hi&lt;/p&gt;</description>"
        "<pubDate>Fri, 20 Feb 2026 10:00:00 +0200</pubDate></item>",
        channel_extra="<ttl>90</ttl>",
    )
    parsed = parse_feed(body, "application/rss+xml", "http://example.org/feed")
    (entry,) = parsed.entries
    assert (parsed.title, parsed.ttl_s, parsed.warning) == ("Feed", 5400.0, None)
    assert (entry.guid, entry.title, entry.link) == ("g1", "One & two", "http://example.org/a/1")
    assert entry.summary_html == "<p>Hi</p>"
    assert entry.published.isoformat() == "2026-02-20T08:00:00+00:00"


def test_atom_content_is_preferred_over_a_shorter_summary():
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>urn:1</id>'
        b"<title>T</title><summary>short</summary>"
        b'<content type="html">&lt;p&gt;the whole article text&lt;/p&gt;</content>'
        b"<updated>2026-02-20T10:00:00Z</updated></entry></feed>"
    )
    (entry,) = parse_feed(body, "application/atom+xml", "http://example.org/a").entries
    assert entry.summary_html == "<p>the whole article text</p>"
    assert entry.published.isoformat() == "2026-02-20T10:00:00+00:00"


def test_entry_without_date_has_no_published():
    (entry,) = parse_feed(rss(ITEM), None, "http://example.org/feed").entries
    assert entry.published is None


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/rss+xml",
        "text/xml",
        "text/html",
        "application/rss+xml; charset=windows-1251",
    ],
)
def test_windows_1251_decodes_with_or_without_a_declared_charset(content_type):
    body = rss(f"<item><title>{UK_TITLE}</title></item>").decode().encode("cp1251")
    parsed = parse_feed(body, content_type, "http://example.org/feed")
    assert parsed.entries[0].title == UK_TITLE


def test_windows_1251_declared_in_the_xml_prolog_decodes():
    body = (
        rss(
            f"<item><title>{UK_TITLE}</title></item>",
            head='<?xml version="1.0" encoding="windows-1251"?>',
        )
        .decode()
        .encode("cp1251")
    )
    assert parse_feed(body, "application/xml", "http://x/").entries[0].title == UK_TITLE


def test_bozo_feed_with_entries_is_a_warning_not_a_failure():
    body = rss(ITEM + "<item><title>Broken & unescaped</title></item>")
    parsed = parse_feed(body, "application/rss+xml", "http://x/")
    assert len(parsed.entries) == 2 and "not well-formed" in parsed.warning


def test_wrong_content_type_still_parses_the_feed():
    parsed = parse_feed(rss(ITEM), "text/plain", "http://x/")
    assert parsed.entries[0].title == "One" and parsed.warning


def test_zero_entries_plus_a_bozo_error_is_a_parse_error():
    exc = parse_error(b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</ti')
    assert exc.kind == "parse_error" and "http://example.org/feed" in exc.message


def test_valid_empty_channel_is_not_an_error():
    parsed = parse_feed(rss(), "application/rss+xml", "http://x/")
    assert parsed.entries == () and parsed.warning is None


def test_html_page_is_not_a_feed_and_names_the_feed_to_use():
    page = (
        b"<!DOCTYPE html><html><head><title>News</title>"
        b'<link rel="alternate" type="application/rss+xml" href="/rss/all.xml">'
        b'<link rel="alternate" type="application/atom+xml" href="https://cdn.example.org/atom">'
        b"</head><body><p>hello</p></body></html>"
    )
    exc = parse_error(page, "text/html; charset=utf-8")
    assert exc.kind == "not_a_feed"
    assert "http://example.org/rss/all.xml" in exc.message and "use that URL" in exc.message


def test_html_page_without_feed_links_says_so():
    exc = parse_error(b"<html><body><h1>Welcome</h1></body></html>", "text/html")
    assert exc.kind == "not_a_feed" and "links to no feed" in exc.message


@pytest.mark.parametrize("body", [b"", b"   \n", b"just some text", b'{"hello": 1}'])
def test_empty_or_non_feed_bodies_are_not_a_feed(body):
    content_type = "application/json" if body.startswith(b"{") else None
    assert parse_error(body, content_type).kind == "not_a_feed"


def test_json_feed_is_parsed():
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JF",
        "items": [
            {"id": 7, "url": "https://example.org/7", "title": "Seven",
             "content_html": "<p>x</p>", "date_published": "2026-02-20T10:00:00+02:00"},
            {"id": "8", "content_text": "plain <not a tag> & text"},
        ],
    }  # fmt: skip
    parsed = parse_feed(json.dumps(doc).encode(), "application/feed+json", "https://example.org/")
    assert parsed.title == "JF"
    first, second = parsed.entries
    assert (first.guid, first.link, first.summary_html) == (
        "7",
        "https://example.org/7",
        "<p>x</p>",
    )
    assert first.published.isoformat() == "2026-02-20T08:00:00+00:00"
    assert (second.guid, second.published) == ("8", None)
    assert html_to_text(second.summary_html) == "plain <not a tag> & text"


# -- entity attacks ------------------------------------------------------------------------

LOL = "lol"
BILLION_LAUGHS_ONE_LINE = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>'
).encode()
BILLION_LAUGHS_MULTI_LINE = BILLION_LAUGHS_ONE_LINE.replace(b"<!ENTITY", b"\n  <!ENTITY").replace(
    b"]>", b"\n]>\n"
)
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 50_000 + '">\n]>\n'
    '<rss version="2.0"><channel><title>q</title><item><title>'
    + "&a;" * 20_000
    + "</title></item></channel></rss>"
).encode()
PARAMETER_BUILT = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY % d "<!ENTITY x \'xxxxxxxx\'>">\n%d;\n]>\n'
    b'<rss version="2.0"><channel><title>&x;</title></channel></rss>'
)


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS_ONE_LINE, BILLION_LAUGHS_MULTI_LINE, QUADRATIC, PARAMETER_BUILT],
    ids=[
        "billion-laughs-one-line",
        "billion-laughs-multi-line",
        "quadratic-blowup",
        "parameter-built",
    ],
)
def test_amplifying_entities_are_refused_with_bounded_memory(body):
    tracemalloc.start()
    try:
        exc = parse_error(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exc.kind == "parse_error" and "refused" in exc.message
    assert peak < 4 * len(body) + MIB


def test_billion_laughs_in_utf16_is_refused():
    body = BILLION_LAUGHS_MULTI_LINE.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>')
    assert parse_error(body.encode("utf-16")).kind == "parse_error"


def test_too_many_entity_declarations_are_refused():
    decls = "".join(f'<!ENTITY e{i} "v">' for i in range(100))
    exc = parse_error(f"<!DOCTYPE rss [{decls}]>".encode() + rss(ITEM))
    assert "100 entities" in exc.message


def test_entity_values_with_predefined_entities_are_not_refused():
    body = b'<!DOCTYPE rss [<!ENTITY org "AT&amp;T">]>\n' + rss(ITEM)
    assert defuse_entities(body) == body
    assert parse_feed(body, None, "http://x/").entries[0].title == "One"


def test_short_legitimate_entities_still_parse():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY org "ACME Sons">\n'
        b'  <!ENTITY sign "&#169;">\n]>\n'
        + rss("<item><guid>1</guid><title>&org; news &sign;</title></item>")
    )
    assert defuse_entities(body) == body
    assert parse_feed(body, None, "http://x/").entries[0].title == "ACME Sons news ©"


def test_external_entities_are_never_read_or_fetched(tmp_path, http_server: LocalServer):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    remote = http_server.static("/dtd", b"REMOTE-MARKER")
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY file SYSTEM "file://{secret}">\n'
        f'<!ENTITY web SYSTEM "{remote}">\n<!ENTITY % pe SYSTEM "{remote}">\n%pe;\n]>\n'
        '<rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
        "<title>a&file;b&web;c</title></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, "application/rss+xml", "http://x/")
    title = parsed.entries[0].title
    assert "MARKER" not in title and title.startswith("a") and title.endswith("c")
    assert http_server.requests == []


# -- the pool -----------------------------------------------------------------------------


def big_feed(items: int) -> bytes:
    return rss(
        "".join(
            f"<item><guid>{i}</guid><title>t{i}</title><description>&lt;p&gt;x&lt;/p&gt;</description></item>"
            for i in range(items)
        )
    )


def test_pool_parses_in_workers_and_reports_errors():
    async def run():
        async with ParsePool(max_workers=2, timeout_s=20) as pool:
            parsed = await asyncio.gather(
                *(pool.parse(rss(ITEM), None, "http://x/") for _ in range(5))
            )
            with pytest.raises(FetchError) as info:
                await pool.parse(b"<html><body>hi</body></html>", "text/html", "http://x/")
            return parsed, info.value

    parsed, error = asyncio.run(run())
    assert all(p.entries[0].title == "One" for p in parsed)
    assert error.kind == "not_a_feed"


def test_pool_abandons_a_parse_past_its_deadline_and_recovers():
    """The overrunning worker is killed at the deadline, and the next parse gets a new one."""

    async def run():
        async with ParsePool(max_workers=1, timeout_s=0.5) as pool:
            for _ in range(5):  # warm the worker up (its start can pass 0.5 s on a busy machine)
                try:
                    await pool.parse(rss(ITEM), None, "http://x/")
                    break
                except FetchError:
                    continue
            (stuck,) = pool._all
            started = time.monotonic()
            with pytest.raises(FetchError) as info:
                await pool.parse(big_feed(60_000), None, "http://x/slow")  # ~9 s of parsing
            elapsed = time.monotonic() - started
            after = await pool.parse(rss(ITEM), None, "http://x/")
            return info.value, elapsed, stuck, after, set(pool._all)

    error, elapsed, stuck, after, workers = asyncio.run(run())
    assert error.kind == "parse_error" and "longer than 0.5 s" in error.message
    assert stuck.process.poll() is not None and stuck not in workers  # killed, not awaited
    # Well under the ~9 s the parse would take if the pool waited for it to finish.
    assert elapsed < 4
    assert after.entries[0].title == "One"


def test_pool_worker_out_of_memory_is_a_parse_error_and_the_pool_recovers():
    huge = rss(
        "<item><title>t</title><description>"
        + "&lt;p&gt;hello&lt;/p&gt; " * 400_000
        + "</description></item>"
    )

    async def run():
        async with ParsePool(max_workers=1, timeout_s=30, memory_limit=100 * MIB) as pool:
            started = time.monotonic()
            with pytest.raises(FetchError) as info:
                await pool.parse(huge, None, "http://x/huge")
            elapsed = time.monotonic() - started
            return info.value, elapsed, await pool.parse(rss(ITEM), None, "http://x/")

    error, elapsed, after = asyncio.run(run())
    assert error.kind == "parse_error" and "memory" in error.message
    assert elapsed < 10  # the worker dies at its memory limit, well before the 30 s deadline
    assert after.entries[0].title == "One"


def test_pool_serves_successive_event_loops_with_the_same_worker():
    pool = ParsePool(max_workers=1, timeout_s=20)
    try:
        first = asyncio.run(pool.parse(rss(ITEM), None, "http://x/"))
        pids = {w.process.pid for w in pool._all}
        second = asyncio.run(pool.parse(rss(ITEM), None, "http://x/"))  # the daemon's next cycle
        assert first == second and {w.process.pid for w in pool._all} == pids
    finally:
        pool.close()
    assert pool._all == set()


def test_pool_replaces_a_worker_after_max_parses():
    async def run(pool):
        pids = []
        for _ in range(3):
            await pool.parse(rss(ITEM), None, "http://x/")
            pids.append(next(iter(pool._all)).process.pid if pool._all else None)
        return pids

    pool = ParsePool(max_workers=1, max_parses=2)
    try:
        pids = asyncio.run(run(pool))
    finally:
        pool.close()
    first, after_second, third = pids
    assert after_second is None  # retired after its second parse
    assert first is not None and third is not None and first != third


def test_closing_the_pool_mid_parse_leaves_no_worker_behind():
    async def run(pool):
        task = asyncio.create_task(pool.parse(big_feed(3000), None, "http://x/"))
        while not pool._all:
            await asyncio.sleep(0.01)
        (worker,) = pool._all
        pool.close()
        with contextlib.suppress(FetchError):
            await task
        return worker

    pool = ParsePool(max_workers=1)
    worker = asyncio.run(run(pool))
    assert worker.process.poll() is not None and pool._idle == [] and pool._all == set()


def test_error_messages_mask_secrets_in_the_feed_url():
    with pytest.raises(FetchError) as info:
        parse_feed(
            b"<html><body>x</body></html>", "text/html", "https://x.example/f?token=s3cretVALUE"
        )
    assert "s3cretVALUE" not in info.value.message and "x.example" in info.value.message


def test_a_json_feed_of_more_than_1000_items_is_read_to_its_first_1000_with_a_warning():
    import json as _json

    from monitor.parse.feed import parse_feed

    items = [{"id": f"i{n}", "title": f"t{n}", "content_text": "x"} for n in range(1500)]
    body = _json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    )
    parsed = parse_feed(body.encode(), "application/feed+json", "https://x.example/feed.json")
    assert len(parsed.entries) == 1000 and parsed.entries[-1].guid == "i999"
    assert parsed.warning == "the feed lists 1500 entries: only the first 1000 are read"
