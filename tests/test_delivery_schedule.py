"""Quiet hours, digests, min_sources and burst folding, end to end on a real outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config.units import parse_quiet_hours
from monitor.delivery import deliver_due
from monitor.notify.format import TELEGRAM_LIMIT, telegram_length
from monitor.records import HOURLY, RuleConfig
from tests.test_delivery_support import (
    NOW,
    add_alert,
    add_sighting,
    alert_row,
    channel,
    fast,
    make_config,
)

pytest_plugins = ["tests.test_delivery_support"]

NIGHT = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv
MORNING = datetime(2026, 3, 3, 5, 5, tzinfo=UTC)  # 07:05 in Kyiv


def test_quiet_hours_hold_alerts_and_release_them_as_one_digest(factory, capsys):
    config = make_config(
        [channel("c", "console://", quiet_hours=parse_quiet_hours("22:00-07:00"))],
        rules=[RuleConfig("r", "x", ("c",)), RuleConfig("urgent", "x", ("c",), priority="high")],
    )
    a = add_alert(factory, title="Night story one", created_at=NIGHT)
    b = add_alert(factory, title="Night story two", created_at=NIGHT + timedelta(minutes=20))
    urgent = add_alert(factory, rule="urgent", title="Urgent", created_at=NIGHT, priority="high")

    night = deliver_due(factory, config, NIGHT + timedelta(minutes=30), **fast())

    out = capsys.readouterr().out
    assert "Urgent" in out and "Night story" not in out  # high priority ignores quiet hours
    assert (night.sent, night.held) == (1, 2)
    assert alert_row(factory, a).next_attempt_at == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert alert_row(factory, urgent).status == "sent"

    morning = deliver_due(factory, config, MORNING, **fast())

    out = capsys.readouterr().out
    assert (morning.sent, morning.messages) == (2, 1)
    assert out.count("Digest: 2 new articles") == 1
    assert "Night story one" in out and "Night story two" in out
    rows = [alert_row(factory, i) for i in (a, b)]
    assert {r.status for r in rows} == {"sent"}
    assert rows[0].digest_id == rows[1].digest_id == a


def test_digest_rules_send_one_message_per_slot_grouped_by_rule(factory, capsys):
    config = make_config(
        [channel("c", "console://")],
        rules=[
            RuleConfig("energy", "x", ("c",), delivery="digest", digest=HOURLY),
            RuleConfig("defence", "x", ("c",), delivery="digest", digest=HOURLY),
        ],
    )
    t = datetime(2026, 3, 2, 12, 10, tzinfo=UTC)
    e1 = add_alert(factory, rule="energy", title="Gas prices", created_at=t, delivery="digest")
    add_alert(factory, rule="defence", title="Air defence", created_at=t, delivery="digest")
    add_alert(
        factory,
        rule="energy",
        title="Power grid",
        created_at=t + timedelta(minutes=9),
        delivery="digest",
    )

    early = deliver_due(factory, config, t + timedelta(minutes=20), **fast())
    assert early.sent == 0 and capsys.readouterr().out == ""
    assert alert_row(factory, e1).next_attempt_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)

    on_time = deliver_due(factory, config, datetime(2026, 3, 2, 13, 0, 5, tzinfo=UTC), **fast())

    out = capsys.readouterr().out
    assert (on_time.sent, on_time.messages) == (3, 1)
    assert "energy (2):" in out and "defence (1):" in out
    assert out.index("Gas prices") < out.index("Power grid")


def test_min_sources_holds_until_enough_feeds_carried_the_story(factory, capsys):
    config = make_config(
        [channel("c", "console://")], rules=[RuleConfig("r", "x", ("c",), min_sources=2)]
    )
    alert_id = add_alert(factory)

    first = deliver_due(factory, config, NOW, **fast())
    assert (first.sent, first.held) == (0, 1)
    add_sighting(factory, alert_row(factory, alert_id).article_id, "https://other.example/rss")
    deliver_due(factory, config, NOW + timedelta(seconds=30), **fast())
    assert alert_row(factory, alert_id).status == "pending"  # rechecked once a minute

    second = deliver_due(factory, config, NOW + timedelta(seconds=61), **fast())
    assert second.sent == 1 and "Zelensky meets Macron" in capsys.readouterr().out


def test_burst_on_telegram_is_folded_into_summaries_that_fit(factory, telegram):
    config = make_config([channel("c", telegram.url())])
    ids = [
        add_alert(
            factory, title=f"Story number {i} " + "слово " * 30, link=f"https://news.example/{i}"
        )
        for i in range(60)
    ]

    report = deliver_due(factory, config, NOW, **fast())

    payloads = telegram.payloads()
    assert report.sent == 60 and len(payloads) == report.messages
    assert 3 <= len(payloads) <= 8  # 3 summaries of 20, split again only if too long
    assert all(telegram_length(p["text"]) <= TELEGRAM_LIMIT for p in payloads)
    text = "".join(p["text"] for p in payloads)
    assert all(f'href="https://news.example/{i}"' in text for i in range(60))
    digest_ids = {alert_row(factory, i).digest_id for i in ids}
    assert None not in digest_ids and len(digest_ids) == len(payloads)


def test_hundreds_of_alerts_on_a_slow_group_chat_queue_over_cycles(factory, telegram):
    config = make_config([channel("c", telegram.url("-100999"))], tick_s=15)
    ids = [
        add_alert(factory, title=f"Story {i}", link=f"https://news.example/{i}") for i in range(300)
    ]

    at, cycles = NOW, 0
    while any(alert_row(factory, i).status != "sent" for i in (ids[0], ids[-1])) and cycles < 10:
        deliver_due(factory, config, at, **fast())
        at, cycles = at + timedelta(seconds=15), cycles + 1

    statuses = {alert_row(factory, i).status for i in ids}
    assert statuses == {"sent"}
    payloads = telegram.payloads()
    assert len(payloads) == 15  # 300 alerts in summaries of 20
    assert cycles >= 5  # paced at one message per 3 s, 7.5 s of pacing per cycle
