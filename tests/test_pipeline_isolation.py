"""One feed never stops the cycle (issue 10): whatever one feed's poll raises, at any
stage, becomes that feed's recorded failure, and every other feed is stored and alerted
in the same cycle, through real HTTP on 127.0.0.1, a real SQLite file and real delivery."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor import pipeline
from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.fetch.client import FeedClient
from monitor.match.matcher import Matcher
from monitor.parse.pool import ParsePool
from monitor.store import db
from monitor.store.schema import ArticleRow, FeedRow
from tests.support import LocalServer
from tests.test_pipeline import SEED_FEED, SEED_LINK, make_config, received, rss

BAD_TITLE = "BAD-FEED Witkoff and the coalition of the willing"
RSS = {"Content-Type": "application/rss+xml"}
BAD_FEED = rss(("bad-1", "https://example.org/bad-1", BAD_TITLE)).replace(
    b"<title>T</title>", b"<title>BAD-FEED channel</title>"
)


def _raise_for_bad(original: Callable[..., Any], is_bad: Callable[..., bool], exc: Exception):
    """Wrap a stage so that it raises ``exc`` for the bad feed only."""
    if hasattr(original, "__await__") or _is_coroutine(original):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if is_bad(*args, **kwargs):
                raise exc
            return await original(*args, **kwargs)

        return async_wrapper

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_bad(*args, **kwargs):
            raise exc
        return original(*args, **kwargs)

    return wrapper


def _is_coroutine(fn: Callable[..., Any]) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


def _mentions_bad(*args: Any, **kwargs: Any) -> bool:
    """True when any argument (a URL, a record, a list of records) is the bad feed's."""
    seen = repr(args) + repr(kwargs)
    return "bad.xml" in seen or "BAD-FEED" in seen


# stage name as the failure message says it -> (object, attribute) to wrap
STAGES: dict[str, tuple[Any, str]] = {
    "fetching": (FeedClient, "fetch"),
    "parsing": (ParsePool, "parse"),
    "normalising entries": (pipeline, "normalize_entries"),
    "storing and matching/insert": (pipeline, "insert_new_articles"),
    "storing and matching/match": (Matcher, "match"),
    "storing and matching/record": (pipeline, "record_matches"),
    "storing and matching/success": (pipeline, "record_success"),
}
ERRORS: list[Exception] = [
    RuntimeError("bug"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    KeyError("title"),
    RecursionError("maximum recursion depth exceeded"),
    ValueError("Invalid port: '99999'"),
    MemoryError(),
]


# Every stage with one kind of exception, and every kind at the store stage: each
# stage's isolation and each exception type's handling, without the full product.
CASES = [(stage, ERRORS[i % len(ERRORS)]) for i, stage in enumerate(STAGES)] + [
    ("storing and matching/insert", e) for e in ERRORS[1:]
]


@pytest.mark.parametrize(
    ("stage", "error"), CASES, ids=[f"{s}-{type(e).__name__}" for s, e in CASES]
)
def test_an_exception_at_any_stage_of_one_feed_fails_only_that_feed(
    tmp_path: Path,
    http_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stage: str,
    error: Exception,
) -> None:
    """The invariant: the good feed's seed article is stored and alerted in the same
    cycle; the bad feed is recorded as failed (kind ``internal``, the stage named), so
    it backs off instead of being fetched again every tick."""
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    good = http_server.static("/good.xml", SEED_FEED, RSS)
    bad = http_server.static("/bad.xml", BAD_FEED, RSS)
    owner, name = STAGES[stage]
    monkeypatch.setattr(owner, name, _raise_for_bad(getattr(owner, name), _mentions_bad, error))
    daemon = Daemon(load_config(make_config(tmp_path, http_server, [bad, good]), {}))
    try:
        with caplog.at_level(logging.ERROR, logger="monitor.pipeline"):
            report = daemon.run_once()
    finally:
        daemon.parse_pool.close()

    by_url = {o.url: o for o in report.outcomes}
    assert by_url[good].status == "ok" and by_url[good].new == 5 and by_url[good].alerts == 1
    assert by_url[bad].status == "error" and by_url[bad].error_kind == "internal"
    msgs = received(http_server)
    assert len(msgs) == 1 and SEED_LINK in msgs[0]["message"], msgs
    with db.session_scope(daemon.session_factory) as s:
        rows = {r.url: r for r in s.scalars(select(FeedRow))}
        bad_row, good_row = rows[bad], rows[good]
        assert bad_row.failures == 1 and bad_row.error_kind == "internal"
        assert stage.split("/")[0] in (bad_row.error_message or "")
        assert type(error).__name__ in (bad_row.error_message or "")
        assert bad_row.next_check_at is not None  # backed off: not polled again every tick
        assert good_row.failures == 0
        titles = set(s.scalars(select(ArticleRow.title)))
        assert BAD_TITLE not in titles and len(titles) == 5  # the bad feed's store rolled back
    logged = [r for r in caplog.records if r.getMessage() == "feed.internal_error"]
    assert len(logged) == 1 and logged[0].exc_info is not None  # the traceback is in the log


def test_an_internal_failure_message_is_one_printable_line(
    tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile string inside the exception (ESC, newline, a bidi override) never reaches
    the stored error text raw: `monitor feeds` prints it on the operator's terminal."""
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    bad = http_server.static("/bad.xml", SEED_FEED, RSS)
    hostile = ValueError("bad \x1b[31mred\x1b[0m\nsecond line \u202egnirts")
    monkeypatch.setattr(
        pipeline,
        "normalize_entries",
        _raise_for_bad(pipeline.normalize_entries, lambda *a: True, hostile),
    )
    daemon = Daemon(load_config(make_config(tmp_path, http_server, [bad]), {}))
    try:
        report = daemon.run_once()
    finally:
        daemon.parse_pool.close()
    message = report.outcomes[0].error or ""
    assert "\x1b" not in message and "\n" not in message and "\u202e" not in message
    assert message.isprintable() and "ValueError while normalising entries" in message


def test_impossible_dates_are_unknown_and_never_stop_delivery(
    tmp_path: Path, http_server: LocalServer
) -> None:
    """Year 9999 in an RSS pubDate (no local time exists east of UTC: it crashed every
    delivery before) and year 1 at +14:00 in a JSON Feed (it failed the whole feed):
    both articles are stored with an unknown date and alerted."""
    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    far = rss(("far-1", "https://x.example/far", "Witkoff and the coalition of the willing"))
    far = far.replace(
        b"</title><description>",
        b"</title><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate><description>",
        1,
    )
    rss_url = http_server.static("/far.xml", far, RSS)
    items = [
        {"id": "old", "title": "x", "content_text": "x", "date_published": "0001-01-01T00:00:00+14:00"},
        {"id": "ok", "url": "https://x.example/ok", "title": "Witkoff meets the coalition of the willing",
         "content_text": "Witkoff and the coalition of the willing"},
    ]  # fmt: skip
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items})
    json_url = http_server.static(
        "/j.json", body.encode(), {"Content-Type": "application/feed+json"}
    )
    daemon = Daemon(load_config(make_config(tmp_path, http_server, [rss_url, json_url]), {}))
    try:
        report = daemon.run_once()
    finally:
        daemon.parse_pool.close()
    assert report.failed == 0 and report.new == 3, report
    msgs = received(http_server)
    assert len(msgs) == 2, msgs
    with db.session_scope(daemon.session_factory) as s:
        assert set(s.scalars(select(ArticleRow.published_at))) == {None}


def test_an_alert_that_cannot_be_rendered_dies_alone(
    tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A formatter crash on one alert (claimed, then rendered) marks that alert dead
    with the reason; the other alert of the cycle is delivered, and nothing raises."""
    from monitor import delivery
    from monitor.store.schema import AlertRow

    http_server.static("/hook", b"{}", {"Content-Type": "application/json"})
    good = http_server.static("/good.xml", SEED_FEED, RSS)
    bad = http_server.static("/bad.xml", BAD_FEED, RSS)
    real = delivery.render_alert

    def render(alerts: Any, *args: Any) -> Any:  # the alerts of one article
        if any("BAD-FEED" in a.title for a in alerts):
            raise OverflowError("date value out of range")
        return real(alerts, *args)

    monkeypatch.setattr(delivery, "render_alert", render)
    daemon = Daemon(load_config(make_config(tmp_path, http_server, [bad, good]), {}))
    try:
        daemon.run_once()
    finally:
        daemon.parse_pool.close()
    msgs = received(http_server)
    assert len(msgs) == 1 and SEED_LINK in msgs[0]["message"]
    with db.session_scope(daemon.session_factory) as s:
        statuses = {row.status for row in s.scalars(select(AlertRow))}
        dead = s.scalars(select(AlertRow).where(AlertRow.status == "dead")).one()
        assert statuses == {"sent", "dead"}
        assert "could not be rendered (OverflowError)" in (dead.last_error or "")
