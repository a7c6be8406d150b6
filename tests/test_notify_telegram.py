"""Telegram through a local stand-in of the Bot API (apprise's notify_url points at it)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from monitor.config.units import parse_rate
from monitor.delivery import deliver_due
from monitor.notify.format import TELEGRAM_LIMIT, telegram_length
from monitor.records import RuleConfig
from tests.test_delivery_support import (
    BOT_TOKEN,
    NOW,
    FakeClock,
    add_alert,
    alert_row,
    channel,
    fast,
    make_config,
    notices,
)

pytest_plugins = ["tests.test_delivery_support"]  # fixtures: factory, telegram, smtp_server

HOSTILE_TITLE = '<script>alert("x")</script> Tom & Jerry\'s {{ 7*7 }} <b>bold</b>'


def test_payload_has_chat_id_html_mode_and_every_value_escaped(factory, telegram):
    config = make_config(
        [channel("c", telegram.url("4242"))], rules=[RuleConfig("Зеленський", "x", ("c",))]
    )
    alert_id = add_alert(
        factory,
        rule="Зеленський",
        title=HOSTILE_TITLE,
        source="Feed <i>&</i>",
        text="Президент Зеленський заявив <img src=x> про переговори.",
        evidence=[{"term": "зеленський", "surface": "Зеленський", "field": "text"}],
        link="https://news.example/a?x=1&y=<2>",
    )

    report = deliver_due(factory, config, NOW, **fast())

    assert report.sent == 1
    [payload] = telegram.payloads()
    assert set(payload) == {
        "chat_id",
        "text",
        "parse_mode",
        "disable_web_page_preview",
        "disable_notification",
    }
    assert payload["chat_id"] == 4242 and payload["parse_mode"] == "HTML"
    assert payload["disable_web_page_preview"] is True and payload["disable_notification"] is False
    text = payload["text"]
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tom &amp; Jerry&#39;s" in text
    assert HOSTILE_TITLE in html.unescape(text)
    assert "49" not in text  # template code in a title is shown, never run
    assert "<b>Зеленський</b>" in text  # the matched term highlighted in the snippet
    assert "<code>Зеленський</code>" in text  # matched terms listed
    assert 'href="https://news.example/a?x=1&amp;y=&lt;2&gt;"' in text
    assert "Feed &lt;i&gt;&amp;&lt;/i&gt;" in text
    assert "2026-03-02 13:55 EET" in text  # published time in the config time zone
    tags = set(re.findall(r"</?([a-z]+)", text))
    assert tags <= {"b", "code", "a"}
    row = alert_row(factory, alert_id)
    assert row.status == "sent" and row.message_id == "4242:101"


def test_long_cyrillic_article_is_cut_under_4096_keeping_the_link(factory, telegram):
    config = make_config([channel("c", telegram.url())])
    link = "https://news.example/" + "path/" * 300  # 1.5 kB link: must survive whole
    add_alert(
        factory,
        title="Новина " * 700,
        text="Зеленський " * 2000,
        link=link,
        evidence=[{"term": "зеленський", "surface": "Зеленський", "field": "text"}],
    )

    deliver_due(factory, config, NOW, **fast())

    [payload] = telegram.payloads()
    assert telegram_length(payload["text"]) <= TELEGRAM_LIMIT
    assert f'href="{link}"' in payload["text"]
    assert "Новина" in payload["text"]


def test_429_honours_retry_after_and_pauses_the_channel(factory, telegram):
    config = make_config([channel("c", telegram.url(), rate_limit=parse_rate("100/s"))])
    telegram.answers.append(
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
        )
    )
    first = add_alert(factory)
    second = add_alert(factory, title="Second")

    report = deliver_due(factory, config, NOW, **fast())

    assert len(telegram.payloads()) == 1  # the second alert was not tried against a 429
    row = alert_row(factory, first)
    assert (row.status, row.next_attempt_at) == ("pending", NOW + timedelta(seconds=7))
    assert "429" in row.last_error and BOT_TOKEN not in row.last_error
    assert report.failed == 1 and report.held == 1

    deliver_due(factory, config, NOW + timedelta(seconds=3), **fast(), pace_budget_s=2)
    assert len(telegram.payloads()) == 1  # still blocked by retry_after (4 s > 2 s budget)
    deliver_due(factory, config, NOW + timedelta(seconds=8), **fast())
    assert alert_row(factory, first).status == "sent"
    assert alert_row(factory, second).status == "sent"
    assert len(telegram.payloads()) == 3


def test_message_too_long_is_resent_as_title_and_link(factory, telegram):
    config = make_config([channel("c", telegram.url())])
    telegram.answers.append(
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
    )
    alert_id = add_alert(factory)

    deliver_due(factory, config, NOW, **fast())

    first, second = telegram.payloads()
    assert len(second["text"]) < len(first["text"])
    assert 'href="https://news.example/a/1"' in second["text"]
    assert alert_row(factory, alert_id).status == "sent"


def test_forbidden_chat_is_permanent_dead_at_once_with_masked_error(factory, telegram):
    config = make_config(
        [channel("c", telegram.url()), channel("ops", "console://")],
        rules=[RuleConfig("r", "x", ("c",))],
        operator_channel="ops",
    )
    telegram.answers.append(
        (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )
    )
    alert_id = add_alert(factory)

    report = deliver_due(factory, config, NOW, **fast())

    row = alert_row(factory, alert_id)
    assert (report.dead, row.status, row.attempts) == (1, "dead", 1)
    assert "403 Forbidden: bot was blocked" in row.last_error
    assert len(notices(factory)) == 1


def test_unreachable_api_is_a_retry_and_the_error_hides_the_token(factory, telegram, monkeypatch):
    from apprise.plugins.telegram import NotifyTelegram

    monkeypatch.setattr(NotifyTelegram, "notify_url", "http://127.0.0.1:9/bot")  # nothing listens
    config = make_config([channel("c", telegram.url())])
    alert_id = add_alert(factory)

    deliver_due(factory, config, NOW, **fast())

    row = alert_row(factory, alert_id)
    assert row.status == "pending" and "network error" in row.last_error
    assert BOT_TOKEN not in row.last_error and BOT_TOKEN.split(":")[1] not in row.last_error


def test_group_chat_is_paced_at_20_per_minute(factory, telegram):
    config = make_config([channel("c", telegram.url("-100200300"))])
    for i in range(3):
        add_alert(factory, title=f"Story {i}")
    clock = FakeClock()

    report = deliver_due(factory, config, NOW, **clock.kw())

    assert report.sent == 3
    assert [round(s, 3) for s in clock.slept] == [3.0, 3.0]
    assert {p["chat_id"] for p in telegram.payloads()} == {-100200300}


def test_pacing_stops_at_the_budget_and_leaves_the_rest_queued(factory, telegram):
    config = make_config([channel("c", telegram.url("-100200300"))])
    ids = [add_alert(factory, title=f"Story {i}") for i in range(4)]
    report = deliver_due(factory, config, NOW, **fast(), pace_budget_s=5)

    assert (report.sent, report.held) == (2, 2)
    assert [alert_row(factory, i).status for i in ids] == ["sent", "sent", "pending", "pending"]


def test_url_options_reach_the_payload_silent_preview_and_topic(factory, telegram):
    config = make_config([channel("c", telegram.url("-100123:77", silent="yes", preview="yes"))])
    add_alert(factory)

    deliver_due(factory, config, NOW, **fast())

    [payload] = telegram.payloads()
    assert payload["chat_id"] == -100123 and payload["message_thread_id"] == 77
    assert payload["disable_notification"] is True
    assert payload["disable_web_page_preview"] is False


def test_group_upgraded_to_supergroup_says_the_new_chat_id(factory, telegram):
    config = make_config([channel("c", telegram.url("-4242"))])
    telegram.answers.append(
        (
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1001234567890},
            },
        )
    )
    alert_id = add_alert(factory)

    deliver_due(factory, config, NOW, **fast())

    row = alert_row(factory, alert_id)
    assert row.status == "dead"
    assert "the chat id is now -1001234567890: update the channel URL" in row.last_error


def test_several_chats_a_retry_goes_only_to_the_chats_that_missed_it(factory, telegram):
    config = make_config([channel("c", telegram.url("4242/4343"), rate_limit=parse_rate("100/s"))])
    telegram.answers.extend(
        [
            (200, {"ok": True, "result": {"message_id": 7}}),
            (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
        ]
    )
    alert_id = add_alert(factory)

    deliver_due(factory, config, NOW, **fast())
    row = alert_row(factory, alert_id)
    assert (row.status, row.message_id) == ("pending", "4242:7")

    deliver_due(factory, config, NOW + timedelta(minutes=5), **fast())

    assert [p["chat_id"] for p in telegram.payloads()] == [4242, 4343, 4343]
    row = alert_row(factory, alert_id)
    assert (row.status, row.message_id) == ("sent", "4242:7,4343:101")
