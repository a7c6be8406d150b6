"""The exact keys, titles and bodies of operator notices (a contract: operators filter on them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.notify import notices
from monitor.notify.notices import NoticeText
from monitor.records import Alert

NOW = datetime(2026, 1, 7, 6, 12, 33, tzinfo=UTC)
SINCE = datetime(2026, 1, 6, 21, 59, 59, tzinfo=UTC)
SECRET_URL = "https://user:hunter2@example.com/feed.xml"


@pytest.mark.parametrize(
    ("tz", "shown"),
    [
        ("Europe/Kyiv", "2026-01-06 23:59 EET"),
        ("UTC", "2026-01-06 21:59 UTC"),
        ("America/New_York", "2026-01-06 16:59 EST"),
    ],
)
def test_feed_broken_notice_shows_the_start_in_the_operator_timezone(tz: str, shown: str) -> None:
    """The key carries the UTC minute the failures began; the body the local time."""
    notice = notices.feed_broken(
        source="Example",
        url="https://example.com/feed.xml",
        error_since=SINCE,
        kind="http_status",
        message="HTTP 404 Not Found",
        tz=tz,
    )
    assert notice == NoticeText(
        key="feed-broken:https://example.com/feed.xml:2026-01-06T21:59+00:00",
        title="Feed broken: Example",
        body=(
            f"Feed Example (https://example.com/feed.xml) broken since {shown}: "
            "http_status: HTTP 404 Not Found"
        ),
    )


def test_feed_notices_mask_credentials_in_key_title_and_body() -> None:
    """The outbox stores the key too: it names the feed by its masked URL, plus a digest
    that keeps two feeds differing only in a secret apart; title and body are masked."""
    broken = notices.feed_broken(
        source="user:hunter2@example.com",
        url=SECRET_URL,
        error_since=SINCE,
        kind="timeout",
        message=f"{SECRET_URL} timed out",
        tz="UTC",
    )
    recovered = notices.feed_recovered(source="Ex", url=SECRET_URL, now=NOW)
    for notice in (broken, recovered):
        assert "hunter2" not in f"{notice.key} {notice.title} {notice.body}", notice
        assert "https://user:***@example.com/feed.xml#" in notice.key
    other = notices.feed_recovered(
        source="Ex", url=SECRET_URL.replace("hunter2", "swordfish"), now=NOW
    )
    assert other.key != recovered.key


def test_feed_recovered_notice_is_keyed_by_the_minute_of_recovery() -> None:
    notice = notices.feed_recovered(source="Example", url="https://example.com/feed.xml", now=NOW)
    assert notice == NoticeText(
        key="feed-recovered:https://example.com/feed.xml:2026-01-07T06:12+00:00",
        title="Feed recovered: Example",
        body="Feed Example (https://example.com/feed.xml) works again.",
    )


def test_alerts_dead_notice_is_one_per_channel_per_day_and_names_the_first_alert() -> None:
    """The alert title is cut at 200 characters; the body says how to list and retry."""
    first = Alert(
        id=7,
        rule="witkoff",
        channel="down",
        status="dead",
        attempts=8,
        article_id=1,
        title="T" * 250,
        link=None,
        source="Example",
        published=None,
        text="",
        evidence=(),
        created_at=NOW,
    )
    notice = notices.alerts_dead(channel="down", first=first, error="HTTP 500", now=NOW)
    assert notice == NoticeText(
        key="alert-dead:down:2026-01-07",
        title="press-monitor: alerts undeliverable on channel down",
        body=(
            f"Alert 7 (rule witkoff: {'T' * 200}) could not be delivered to channel down "
            "after 8 attempt(s): HTTP 500\n"
            "List them: monitor alerts --status dead; once fixed: monitor alerts retry --dead"
        ),
    )
