"""The outbox's row transitions on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

from monitor.delivery import deliver_due
from monitor.store import outbox, views
from monitor.store.db import session_scope
from monitor.store.schema import AlertRow
from tests.test_delivery_support import (
    NOW,
    add_alert,
    alert_row,
    channel,
    fast,
    make_config,
    notices,
)

pytest_plugins = ["tests.test_delivery_support"]


def test_operator_notice_is_deduplicated_by_key(factory):
    with session_scope(factory) as s:
        assert outbox.enqueue_operator_notice(s, "feed-broken:x:1", "t", "b", "ops", NOW) is True
        assert outbox.enqueue_operator_notice(s, "feed-broken:x:1", "t2", "b2", "ops", NOW) is False
    [row] = notices(factory)
    assert (row.title, row.status, row.next_attempt_at) == ("t", "pending", NOW)


def test_notice_left_in_sending_is_requeued_like_an_alert(factory):
    with session_scope(factory) as s:
        outbox.enqueue_operator_notice(s, "k", "t", "b", "ops", NOW)
    with session_scope(factory) as s:
        [claimed] = outbox.claim_notices(s, NOW)
        assert claimed.attempts == 1 and outbox.claim_notices(s, NOW) == []
    later = NOW + timedelta(seconds=1)
    with session_scope(factory) as s:
        assert outbox.requeue_stale(s, NOW, 0.0, max_attempts=8) == 0  # claimed this instant
        assert outbox.requeue_stale(s, later, 0.0, max_attempts=8) == 1  # a daemon restart
    [row] = notices(factory)
    assert (row.status, row.next_attempt_at) == ("pending", later)


def test_a_row_is_claimed_only_once(factory):
    alert_id = add_alert(factory)
    with session_scope(factory) as s:
        assert outbox.claim(s, [alert_id], NOW) == [alert_id]
    with session_scope(factory) as s:
        assert outbox.claim(s, [alert_id], NOW) == []  # another deliverer got it first
    row = alert_row(factory, alert_id)
    assert (row.status, row.attempts, row.claimed_at) == ("sending", 1, NOW)


def test_stale_sending_row_with_attempts_used_up_becomes_dead(factory):
    fresh, stale, spent = (add_alert(factory, title=t) for t in ("a", "b", "c"))
    with session_scope(factory) as s:
        for alert_id, claimed, attempts in (
            (fresh, NOW, 1),
            (stale, NOW - timedelta(hours=1), 1),
            (spent, NOW - timedelta(hours=1), 8),
        ):
            row = s.get(AlertRow, alert_id)
            row.status, row.claimed_at, row.attempts = "sending", claimed, attempts
    with session_scope(factory) as s:
        assert outbox.requeue_stale(s, NOW, 300, max_attempts=8) == 2
    assert [alert_row(factory, i).status for i in (fresh, stale, spent)] == [
        "sending",
        "pending",
        "dead",
    ]


def test_failure_backs_off_and_the_last_attempt_is_dead(factory):
    alert_id = add_alert(factory)
    retry_at = NOW + timedelta(minutes=1)
    for expected in ("pending", "pending", "dead"):
        with session_scope(factory) as s:
            outbox.claim(s, [alert_id], NOW)
        with session_scope(factory) as s:
            outbox.mark_failed(s, [alert_id], "boom", retry_at, max_attempts=3)
        row = alert_row(factory, alert_id)
        assert row.status == expected and row.last_error == "boom"
    assert alert_row(factory, alert_id).next_attempt_at is None


def test_alerts_for_a_channel_removed_from_the_config_die_with_one_notice(factory, capsys):
    config = make_config([channel("ops", "console://")], operator_channel="ops")
    first = add_alert(factory, channel="gone")
    second = add_alert(factory, channel="gone", title="another")

    report = deliver_due(factory, config, NOW, **fast())

    assert report.dead == 2
    assert alert_row(factory, first).last_error == "channel 'gone' is not in the config"
    assert alert_row(factory, second).status == "dead"
    assert len(notices(factory)) == 1


def test_recent_alerts_are_newest_first_and_filter_by_status(factory):
    a = add_alert(factory, title="old", created_at=NOW - timedelta(hours=1))
    b = add_alert(factory, title="new")
    with session_scope(factory) as s:
        s.get(AlertRow, a).status = "dead"
    with factory() as s:
        assert [x.id for x in views.recent_alerts(s)] == [b, a]
        assert [x.title for x in views.recent_alerts(s, "dead")] == ["old"]
        assert [x.id for x in views.recent_alerts(s, limit=1)] == [b]
