"""The delivery cycle end to end: real SQLite outbox, real apprise, local servers."""

from __future__ import annotations

import json
from datetime import timedelta

from monitor.config.units import parse_rate
from monitor.delivery import deliver_due
from monitor.store.views import alert_status_counts
from tests.support import Response
from tests.test_delivery_support import (
    NOW,
    add_alert,
    alert_row,
    channel,
    fast,
    make_config,
    notices,
)

pytest_plugins = ["tests.test_delivery_support"]  # fixtures: factory, telegram, smtp_server


def test_console_channel_prints_the_alert_and_marks_it_sent(factory, capsys):
    config = make_config([channel("c", "console://")])
    alert_id = add_alert(factory, title="Zelensky meets Macron")

    report = deliver_due(factory, config, NOW, **fast())

    out = capsys.readouterr().out
    assert "[r] Zelensky meets Macron" in out
    assert "https://news.example/a/1" in out
    assert "[Zelensky]" in out  # matched term marked in the snippet
    row = alert_row(factory, alert_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, NOW)
    assert report.sent == 1 and report.messages == 1


def test_json_channel_failing_with_500_keeps_alert_pending_then_delivers_once(factory, http_server):
    answers = [Response(500, {}, b"boom")]
    http_server.route("/hook", lambda req: answers.pop(0) if answers else Response(200, {}, b"ok"))
    config = make_config([channel("c", http_server.url("/hook").replace("http://", "json://"))])
    alert_id = add_alert(factory)

    first = deliver_due(factory, config, NOW, **fast())
    row = alert_row(factory, alert_id)
    assert (first.failed, row.status, row.attempts) == (1, "pending", 1)
    assert "500" in row.last_error
    assert NOW + timedelta(seconds=40) <= row.next_attempt_at <= NOW + timedelta(seconds=80)

    early = deliver_due(factory, config, NOW + timedelta(seconds=10), **fast())
    assert early.sent == 0 and len(http_server.hits("/hook")) == 1

    later = NOW + timedelta(minutes=5)
    second = deliver_due(factory, config, later, **fast())
    third = deliver_due(factory, config, later + timedelta(minutes=5), **fast())
    assert (second.sent, third.sent) == (1, 0)
    assert len(http_server.hits("/hook")) == 2
    body = json.loads(http_server.hits("/hook")[-1].body)
    assert body["title"] == "[r] Zelensky meets Macron"
    assert alert_row(factory, alert_id).status == "sent"


def test_one_channel_down_does_not_block_another(factory, http_server, capsys):
    http_server.static("/down", b"no", status=503)
    config = make_config(
        [
            channel("down", http_server.url("/down").replace("http://", "json://")),
            channel("ok", "console://"),
        ]
    )
    bad = add_alert(factory, channel="down")
    good = add_alert(factory, channel="ok", article_id=alert_row(factory, bad).article_id)

    report = deliver_due(factory, config, NOW, **fast())

    assert alert_row(factory, bad).status == "pending"
    assert alert_row(factory, good).status == "sent"
    assert (report.sent, report.failed) == (1, 1)


def test_alert_dies_after_max_attempts_and_raises_one_operator_notice(factory, http_server, capsys):
    http_server.static("/down", b"no", status=500)
    config = make_config(
        [
            channel("down", http_server.url("/down").replace("http://", "json://")),
            channel("ops", "console://"),
        ],
        rules=[RuleConfig(name="r", query="x", channels=("down",))],
        operator_channel="ops",
        max_attempts=3,
    )
    first = add_alert(factory, channel="down")
    second = add_alert(factory, channel="down", title="Second story")
    at = NOW
    for _ in range(6):  # a failing channel is tried once per cycle, so 2 x 3 cycles
        deliver_due(factory, config, at, **fast())
        at += timedelta(hours=2)  # past any backoff of the first attempts
    assert alert_row(factory, first).status == "dead"
    assert alert_row(factory, second).status == "dead"
    assert alert_row(factory, first).attempts == 3

    found = notices(factory)
    assert len(found) == 1  # one per channel and day, not one per alert
    assert found[0].channel == "ops" and "monitor alerts retry --dead" in found[0].body
    deliver_due(factory, config, at, **fast())
    assert notices(factory)[0].status == "sent"
    assert "alerts undeliverable on channel down" in capsys.readouterr().out


def test_row_left_in_sending_by_a_crash_is_sent_again(factory, capsys):
    config = make_config([channel("c", "console://")])
    alert_id = add_alert(factory)
    with factory() as s:  # a previous process claimed it and was killed
        row = s.get(AlertRow, alert_id)
        row.status, row.claimed_at, row.attempts = "sending", NOW - timedelta(minutes=10), 1
        s.commit()

    report = deliver_due(factory, config, NOW, **fast())

    assert report.sent == 1
    row = alert_row(factory, alert_id)
    assert (row.status, row.attempts) == ("sent", 2)


def test_alert_counts_by_status(factory, capsys):
    config = make_config([channel("c", "console://")])
    add_alert(factory)
    add_alert(factory, title="other")
    with factory() as s:
        assert alert_status_counts(s) == {"pending": 2, "sending": 0, "sent": 0, "dead": 0}
    deliver_due(factory, config, NOW, **fast())
    with factory() as s:
        assert alert_status_counts(s) == {"pending": 0, "sending": 0, "sent": 2, "dead": 0}


from monitor.records import RuleConfig  # noqa: E402
from monitor.store.schema import AlertRow  # noqa: E402


def test_a_slow_channel_stops_the_cycle_at_its_time_budget(factory, http_server):
    from tests.test_delivery_support import FakeClock

    clock = FakeClock()

    def slow(_req):  # each request "takes" 2 s of the cycle's clock
        clock.t += 2.0
        return Response(200, {}, b"ok")

    http_server.route("/slow", slow)
    url = http_server.url("/slow").replace("http://", "json://")
    config = make_config([channel("c", url, rate_limit=parse_rate("100/s"))])
    ids = [add_alert(factory, title=f"s{i}") for i in range(6)]

    report = deliver_due(factory, config, NOW, **clock.kw(), pace_budget_s=5)

    assert (report.sent, report.held) == (3, 3)  # sends started at 0 s, 2 s and 4 s
    assert [alert_row(factory, i).status for i in ids].count("pending") == 3
