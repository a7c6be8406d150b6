"""Hostile feeds through a real server on 127.0.0.1 and a real poll cycle (issue 10).

Whatever a third party serves — random bytes, feeds whose every string is hostile
(lone surrogates, NUL, ESC, bidi overrides, CR/LF), lying headers, redirects to
``javascript:``, ``mailto:`` or port 99999 — the hostile feed ends as stored articles
or as a classified failure of that feed alone (never ``internal``: that would be a
bug), the other feed is stored and alerted in the same cycle, the cycle ends in
bounded time, and the secret in the hostile feed's URL appears in no output.

Property-based (hypothesis) over feed bytes, headers and redirects, plus the cases
the issue reported as fixed examples.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.config import load_config
from monitor.log import TextFormatter
from monitor.parse.pool import ParsePool
from monitor.pipeline import CycleReport, FeedOutcome, Runtime, poll_cycle
from monitor.store import db
from monitor.store.schema import ArticleRow, FeedRow
from tests.support import LocalServer, Request, Response

SECRET = "s3cr3t-Session-Value-42"
RSS = {"Content-Type": "application/rss+xml"}
CYCLE_BUDGET_S = 30.0  # fetch timeout 3 s, parse timeout 10 s: far below this


@dataclass
class Rig:
    """One server, one database, one parse pool for every example of a test."""

    server: LocalServer
    runtime: Runtime
    evil_url: str
    good_url: str
    answer: list[Callable[[Request], Response]] = field(default_factory=list)

    def serve(self, handler: Callable[[Request], Response]) -> None:
        self.answer[:] = [handler]


def _good_feed(counter: Iterator[int]) -> Callable[[Request], Response]:
    """A healthy feed with one new matching item per poll, each a story of its own (its
    own words: the same text every poll would be one story, alerted once)."""

    def handler(_req: Request) -> Response:
        n = next(counter)
        words = " ".join(hashlib.sha1(f"{n}-{i}".encode()).hexdigest()[:7] for i in range(40))
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Good</title><item><guid>good-{n}</guid>"
            f"<link>https://good.example/news/{n}</link>"
            f"<title>News {words[:23]}</title>"
            f"<description>{words} Witkoff and the coalition of the willing."
            "</description></item></channel></rss>"
        )
        return Response(200, RSS, body.encode())

    return handler


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("hostile")
    server = LocalServer().start()
    server.static("/hook", b"{}", {"Content-Type": "application/json"})
    answer: list[Callable[[Request], Response]] = [lambda _r: Response(404, {}, b"")]
    evil = server.route("/evil.xml", lambda req: answer[0](req))
    good = server.route("/good.xml", _good_feed(itertools.count()))
    evil_config_url = evil + "?session=${EVIL_SESSION}"
    config_path = tmp / "config.toml"
    config_path.write_text(
        f"""
[monitor]
database = "sqlite:///{tmp}/monitor.db"
timezone = "Europe/Kyiv"

[fetch]
timeout = "3s"
connect_timeout = "2s"
parse_timeout = "10s"

[channels]
hook = "json://127.0.0.1:{server.port}/hook"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих"]

[[feeds]]
url = "{evil_config_url}"
backlog = "3650d"

[[feeds]]
url = "{good}"
backlog = "3650d"

[[rules]]
name = "witkoff"
query = 'Witkoff AND @coalition'
channels = ["hook"]
""",
        encoding="utf-8",
    )
    config = load_config(config_path, {"EVIL_SESSION": SECRET})
    engine = db.make_engine(config.monitor.database)
    db.upgrade(engine)
    pool = ParsePool(max_workers=2, timeout_s=config.fetch.parse_timeout_s)
    runtime = Runtime(config, db.make_session_factory(engine), pool)
    evil_url = next(f.url for f in config.feeds if "evil" in f.url)
    try:
        yield Rig(server, runtime, evil_url, good, answer)
    finally:
        pool.close()
        server.stop()
        engine.dispose()


def run_cycle(rig: Rig, caplog: pytest.LogCaptureFixture) -> tuple[CycleReport, str]:
    """One cycle over both feeds; the report and everything logged, as formatted."""
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG):
        report = asyncio.run(
            asyncio.wait_for(poll_cycle(rig.runtime, all_feeds=True), CYCLE_BUDGET_S)
        )
    assert time.monotonic() - started < CYCLE_BUDGET_S
    formatter = TextFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    return report, logged


def is_clean(text: str) -> bool:
    """No surrogate, NUL, C0/C1 control (beyond tab/newline) or bidi override/isolate."""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cs" or (cat == "Cc" and ch not in "\t\n"):
            return False
        if "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069":
            return False
    return True


def check_invariants(rig: Rig, report: CycleReport, logged: str) -> FeedOutcome:
    """The promises of the module docstring; returns the hostile feed's outcome."""
    by_url = {o.url: o for o in report.outcomes}
    good, evil = by_url[rig.good_url], by_url[rig.evil_url]
    assert good.status == "ok" and good.new == 1 and good.alerts == 1, good
    assert evil.status in ("ok", "not_modified", "error"), evil
    if evil.status == "error":
        assert evil.error_kind != "internal", evil.error  # a bug: every input is classified
        assert evil.error and evil.error.isprintable(), evil.error
    for text in (logged, evil.error or ""):  # the report's URLs are the real ones: not output
        assert SECRET not in text
    with db.session_scope(rig.runtime.session_factory) as s:
        rows = {r.url: r for r in s.scalars(select(FeedRow))}
        evil_row = rows[rig.evil_url]
        assert SECRET not in (evil_row.error_message or "")
        assert is_clean(evil_row.title or ""), repr(evil_row.title)
        stored = s.scalars(select(ArticleRow).where(ArticleRow.feed_id == evil_row.id)).all()
        for a in stored:
            assert is_clean(a.title) and is_clean(a.text), (a.title, a.text[:200])
            assert a.link is None or (a.link.isprintable() and " " not in a.link), a.link
    return evil


# --- strategies ---------------------------------------------------------------------

SPECIALS = [
    "\x00", "\x1b[31m", "\x1b]0;pwned\x07", "\u202e", "\u2066", "\ud800", "\udfff",
    "\r\n", "\x85", "\u2063", "\ufeff", "&amp;", "&#0;", "&#xd800;", "]]>", "<script>",
    "Wit\u2063koff", "javascript:alert(1)",
]  # fmt: skip
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(SPECIALS),
        st.text(st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"]), max_size=30),
    ),
    max_size=8,
).map("".join)


def _xml(text: str, raw: bool) -> str:
    return text if raw else escape(text)


@st.composite
def rss_feed(draw: st.DrawFn) -> bytes:
    raw = draw(st.booleans())
    items = "".join(
        f"<item><guid>{_xml(draw(hostile_text), raw)}</guid>"
        f"<link>{_xml(draw(st.one_of(hostile_text, st.just('https://x.example/a'))), raw)}</link>"
        f"<title>{_xml(draw(hostile_text), raw)}</title>"
        f"<description>{_xml(draw(hostile_text), raw)}</description>"
        f"<author>{_xml(draw(hostile_text), raw)}</author></item>"
        for _ in range(draw(st.integers(0, 3)))
    )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{_xml(draw(hostile_text), raw)}</title>{items}</channel></rss>"
    )
    return doc.encode("utf-8", "surrogatepass")


@st.composite
def atom_feed(draw: st.DrawFn) -> bytes:
    entries = "".join(
        f"<entry><id>{escape(draw(hostile_text))}</id><title>{escape(draw(hostile_text))}</title>"
        f'<link href="{escape(draw(hostile_text), {chr(34): "&quot;"})}"/>'
        f"<content type='html'>{escape(draw(hostile_text))}</content></entry>"
        for _ in range(draw(st.integers(0, 3)))
    )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(draw(hostile_text))}</title>{entries}</feed>"
    )
    return doc.encode("utf-8", "surrogatepass")


@st.composite
def json_feed(draw: st.DrawFn) -> bytes:
    item = st.fixed_dictionaries(
        {"id": hostile_text, "title": hostile_text, "content_text": hostile_text},
        optional={
            "url": hostile_text,
            "content_html": hostile_text,
            "tags": st.lists(hostile_text),
        },
    )
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": draw(hostile_text),
        "items": draw(st.lists(item, max_size=3)),
    }
    return json.dumps(doc).encode()  # ensure_ascii: lone surrogates travel as \\ud800


bodies = st.one_of(rss_feed(), atom_feed(), json_feed(), st.binary(max_size=3000))
latin1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=60)
CONTENT_TYPES = [
    "application/rss+xml", "application/atom+xml", "application/feed+json",
    "application/json", "text/html", "text/xml; charset=windows-1251",
    "application/xml; charset=x-no-such-charset", "", "image/png",
]  # fmt: skip


@st.composite
def feed_response(draw: st.DrawFn) -> Callable[[Request], Response]:
    body = draw(bodies)
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    encoding = draw(st.sampled_from([None, "gzip", "gzip-lie", "deflate", "br", "x-evil"]))
    if encoding == "gzip":
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    elif encoding is not None:
        headers["Content-Encoding"] = encoding.removesuffix("-lie")
    for name in ("ETag", "Last-Modified", "Retry-After", "Cache-Control", "Expires"):
        if draw(st.booleans()):
            headers[name] = draw(latin1)
    status = draw(st.sampled_from([200, 200, 200, 203, 404, 429, 500, 503]))
    return lambda _req: Response(status, headers, body)


LOCATIONS = [
    "javascript:x", "mailto:editor@example.org", "http://127.0.0.1:99999/", "data:,hello",
    "file:///etc/passwd", "http://[::1", "http:///nohost", "//", "?", "#", "",
    "http://127.0.0.1:1/", "ftp://127.0.0.1/feed", "http://xn--/", "http://a b/",
    "http://127.0.0.1:0/", "/evil.xml", "http://127.0.0.1:" + "9" * 300 + "/",
    "http://" + "1." * 200 + "1/", "http://127.0.0.1:1@127.0.0.1:99999/",
]  # fmt: skip
# Every host above is an address literal or invalid, and random text is kept to a path:
# the tests never ask a DNS resolver (nor reach anything) off this machine.


@st.composite
def redirect_response(draw: st.DrawFn) -> Callable[[Request], Response]:
    location = draw(
        st.one_of(st.sampled_from(LOCATIONS), latin1.map(lambda t: "/" + t.lstrip("/")))
    )
    status = draw(st.sampled_from([301, 302, 303, 307, 308]))
    return lambda _req: Response(status, {"Location": location}, b"")


# --- tests ---------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answer=st.one_of(feed_response(), redirect_response()))
def test_any_hostile_answer_fails_only_that_feed_and_never_poisons_it(
    rig: Rig, caplog: pytest.LogCaptureFixture, answer: Callable[[Request], Response]
) -> None:
    """...and once the server behaves again, the very next cycle stores the feed's new
    article: nothing a hostile answer left behind (a validator sent back, a stored
    state) keeps the feed failing."""
    rig.serve(answer)
    report, logged = run_cycle(rig, caplog)
    check_invariants(rig, report, logged)
    rig.serve(_healthy_json_feed())
    report, logged = run_cycle(rig, caplog)
    recovered = check_invariants(rig, report, logged)
    assert recovered.status == "ok" and recovered.new == 1, recovered


_recoveries = itertools.count()


def _healthy_json_feed() -> Callable[[Request], Response]:
    """A valid JSON Feed with one item never seen before (an unconditional 200)."""
    n = next(_recoveries)
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "recovered",
            "items": [{"id": f"recovered-{n}", "title": f"item {n}", "content_text": "x"}],
        }
    ).encode()
    return lambda _req: Response(200, {"Content-Type": "application/feed+json"}, body)


def _json_title(title: str) -> Callable[[Request], Response]:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "items": [{"id": "x1", "title": title, "content_text": "Witkoff text"}],
        }
    ).encode()
    return lambda _req: Response(200, {"Content-Type": "application/feed+json"}, body)


def _with_headers(headers: dict[str, str]) -> Callable[[Request], Response]:
    answer = _json_title("Witkoff")
    return lambda req: Response(200, {**answer(req).headers, **headers}, answer(req).body)


def _gzip_bomb() -> Callable[[Request], Response]:
    """200 MiB of zeros in ~200 KB of gzip: over max_bytes (10 MiB) once inflated."""
    body = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    return lambda _req: Response(200, headers, body)


def _tree_rss_mib() -> float:
    """Summed resident memory of this process and its children (the parse workers)."""
    pids, total = [os.getpid()], 0.0
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), "0"
        )
        total += int(kb) / 1024
    return total


def test_a_decompression_bomb_is_refused_within_bounded_memory(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """The body is counted after decompression and cut at max_bytes: the process tree
    grows by far less than the 200 MiB the bomb inflates to."""
    rig.serve(_gzip_bomb())
    before, peak, done = _tree_rss_mib(), [0.0], threading.Event()

    def sample() -> None:  # the peak, sampled: ru_maxrss would be the test run's high-water mark
        while not done.wait(0.01):
            peak[0] = max(peak[0], _tree_rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        report, logged = run_cycle(rig, caplog)
    finally:
        done.set()
        sampler.join()
    grown = max(peak[0], _tree_rss_mib()) - before
    evil = check_invariants(rig, report, logged)
    assert evil.status == "error" and evil.error_kind == "too_large", evil
    assert grown < 100, f"the process tree grew by {grown:.0f} MiB"


def _redirect(location: str) -> Callable[[Request], Response]:
    return lambda _req: Response(302, {"Location": location}, b"")


@pytest.mark.parametrize(
    ("name", "answer", "expect"),
    [
        ("lone surrogate in a JSON Feed title", _json_title("Witkoff \ud800 news"), "ok"),
        ("ESC and bidi in a JSON Feed title", _json_title("\x1b[2J\u202eWitkoff"), "ok"),
        ("redirect to javascript:", _redirect("javascript:x"), "error"),
        ("redirect to mailto:", _redirect("mailto:a@example.org"), "error"),
        ("redirect to port 99999", _redirect("http://127.0.0.1:99999/"), "error"),
        ("redirect with an invalid IDN host", _redirect("http://xn--/"), "error"),
        ("an ETag that cannot be sent back", _with_headers({"ETag": "\xe9t\xe9"}), "ok"),
        ("an ETag over 1024 characters", _with_headers({"ETag": "x" * 2000}), "ok"),
        ("a Retry-After of a superscript two", _with_headers({"Retry-After": "\xb2"}), "ok"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_reported_hostile_feeds_fail_only_themselves(
    rig: Rig,
    caplog: pytest.LogCaptureFixture,
    name: str,
    answer: Callable[[Request], Response],
    expect: str,
) -> None:
    """The issue's reproductions: each aborted the whole cycle before (the last one, an
    ETag of non-ASCII bytes, was stored and sent back, failing every later poll)."""
    rig.serve(answer)
    report, logged = run_cycle(rig, caplog)
    evil = check_invariants(rig, report, logged)
    assert evil.status in ((expect,) if expect == "error" else ("ok", "not_modified")), evil
    rig.serve(_healthy_json_feed())
    report, logged = run_cycle(rig, caplog)
    assert check_invariants(rig, report, logged).status == "ok"


def test_a_feed_of_5000_entries_is_read_to_its_first_1000_with_a_warning(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed lists tens of entries; 50,000 would hold the store for a minute and queue as
    many alerts. The first 1,000 are stored, the feed keeps a warning saying so, and a
    1 MB title is stored as one line of 2,000 characters."""
    items = "".join(
        f"<item><guid>flood-{i}</guid><title>{'T' * 1_000_000 if i == 0 else f'item {i}'}"
        f"</title></item>"
        for i in range(5_000)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )
    rig.serve(lambda _req: Response(200, RSS, body.encode()))
    report, logged = run_cycle(rig, caplog)
    evil = check_invariants(rig, report, logged)
    assert evil.status == "ok" and evil.new == 1000, evil
    with db.session_scope(rig.runtime.session_factory) as s:
        row = s.scalars(select(FeedRow).where(FeedRow.url == rig.evil_url)).one()
        assert "lists 5000 entries: only the first 1000 are read" in (row.warning or "")
        longest = max(len(t) for t in s.scalars(select(ArticleRow.title)))
        assert longest == 2000
