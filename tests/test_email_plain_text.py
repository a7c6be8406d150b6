"""The plain-text part of alert and digest emails (derived by apprise from the HTML part),
received by a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
from datetime import UTC, datetime

from monitor.config.units import parse_quiet_hours
from monitor.delivery import deliver_due
from tests.test_delivery_support import NOW, add_alert, alert_row, channel, fast, make_config

pytest_plugins = ["tests.test_delivery_support"]  # fixtures: factory, smtp_server


def _plain_text(smtp_server) -> str:  # type: ignore[no-untyped-def]
    [envelope] = smtp_server.handler.envelopes
    msg = email.message_from_bytes(envelope.content)
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    return part.get_payload(decode=True).decode(part.get_content_charset())


def test_alert_email_plain_text_lines_start_at_the_margin(factory, smtp_server):
    config = make_config([channel("mail", smtp_server.url())])
    alert_id = add_alert(
        factory,
        channel="mail",
        text="Сьогодні Україна та Європейський Союз підписали угоду.",
        evidence=[{"term": "україна", "surface": "Україна", "field": "text"}],
    )

    assert deliver_due(factory, config, NOW, **fast()).sent == 1, alert_row(
        factory, alert_id
    ).last_error

    lines = _plain_text(smtp_server).splitlines()
    for label in ("Rule:", "Source:", "Published:", "Matched:"):
        assert any(line.startswith(label) for line in lines), (label, lines)
    assert [line for line in lines if line.startswith(" ")] == []


def test_digest_email_plain_text_lines_start_at_the_margin(factory, smtp_server):
    night = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv: quiet hours
    config = make_config(
        [channel("mail", smtp_server.url(), quiet_hours=parse_quiet_hours("22:00-07:00"))]
    )
    for i in range(2):
        add_alert(factory, channel="mail", title=f"Night story {i}", created_at=night)
    deliver_due(factory, config, night, **fast())

    assert deliver_due(factory, config, datetime(2026, 3, 3, 5, 1, tzinfo=UTC), **fast()).sent == 2

    lines = _plain_text(smtp_server).splitlines()
    assert sum("Night story" in line for line in lines) == 2
    assert [line for line in lines if line.startswith(" ")] == []
