"""Email through apprise to a real aiosmtpd server on 127.0.0.1 (plain SMTP + AUTH)."""

from __future__ import annotations

import email
from email.header import decode_header, make_header
from email.message import Message as MimeMessage

from monitor.config.units import parse_quiet_hours
from monitor.delivery import deliver_due
from monitor.records import RuleConfig
from tests.test_delivery_support import (
    NOW,
    add_alert,
    alert_row,
    channel,
    fast,
    make_config,
)

pytest_plugins = ["tests.test_delivery_support"]  # fixtures: factory, telegram, smtp_server


def _parts(msg: MimeMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode(part.get_content_charset())
        for part in msg.walk()
        if not part.is_multipart()
    }


def _received(smtp_server) -> MimeMessage:  # type: ignore[no-untyped-def]
    [envelope] = smtp_server.handler.envelopes
    return email.message_from_bytes(envelope.content)


def test_email_has_subject_both_parts_link_and_highlighted_terms(factory, smtp_server):
    config = make_config(
        [channel("mail", smtp_server.url())],
        rules=[RuleConfig("Україна & ЄС", "x", ("mail",))],
    )
    alert_id = add_alert(
        factory,
        channel="mail",
        rule="Україна & ЄС",
        title="Україна та ЄС <підписали> угоду",
        text="Сьогодні Україна та Європейський Союз підписали угоду про безпеку.",
        evidence=[{"term": "україна", "surface": "Україна", "field": "text"}],
    )

    report = deliver_due(factory, config, NOW, **fast())

    assert report.sent == 1, alert_row(factory, alert_id).last_error
    msg = _received(smtp_server)
    assert (
        str(make_header(decode_header(msg["Subject"])))
        == "[Україна & ЄС] Україна та ЄС <підписали> угоду"
    )
    assert msg["List-Id"] == "press-monitor ukraina-ies <ukraina-ies.press-monitor.invalid>"
    assert msg["To"] == "desk@example.org"
    parts = _parts(msg)
    assert set(parts) == {"text/plain", "text/html"}
    html_part, text_part = parts["text/html"], parts["text/plain"]
    assert "<mark><b>Україна</b></mark>" in html_part
    assert "&lt;підписали&gt;" in html_part  # escaped in HTML
    assert 'href="https://news.example/a/1"' in html_part
    assert "https://news.example/a/1" in text_part
    assert "Example News" in text_part and "2026-03-02 13:55 EET" in text_part
    assert "Україна" in text_part
    assert alert_row(factory, alert_id).status == "sent"


def test_wrong_smtp_password_fails_with_the_password_masked(factory, smtp_server):
    wrong = "Wr0ng-Password-123"
    config = make_config([channel("mail", smtp_server.url(password=wrong))])
    alert_id = add_alert(factory, channel="mail")

    report = deliver_due(factory, config, NOW, **fast())

    row = alert_row(factory, alert_id)
    assert (report.failed, row.status) == (1, "pending")
    assert "535" in row.last_error, row.last_error  # the server answer, not just "failed"
    assert wrong not in row.last_error, row.last_error
    assert smtp_server.handler.envelopes == []


def test_apprise_debug_lines_stay_out_of_our_log(factory, smtp_server, caplog):
    import logging

    caplog.set_level(logging.INFO)
    config = make_config([channel("mail", smtp_server.url(password="Wr0ng-Password-123"))])
    add_alert(factory, channel="mail")

    deliver_due(factory, config, NOW, **fast())

    assert not [r for r in caplog.records if r.name.startswith("apprise")]
    assert [r.getMessage() for r in caplog.records if r.name == "monitor.delivery"] == [
        "alert.failed",
        "delivery.cycle",
    ]
    assert logging.getLogger("apprise").propagate is True


def test_quiet_hours_digest_arrives_as_one_email_listing_each_alert(factory, smtp_server):
    from datetime import UTC, datetime

    night = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv
    config = make_config(
        [channel("mail", smtp_server.url(), quiet_hours=parse_quiet_hours("22:00-07:00"))]
    )
    for i in range(3):
        add_alert(
            factory,
            channel="mail",
            title=f"Night <story> {i}",
            created_at=night,
            link=f"https://news.example/n/{i}",
        )

    assert deliver_due(factory, config, night, **fast()).held == 3
    assert smtp_server.handler.envelopes == []
    morning = deliver_due(factory, config, datetime(2026, 3, 3, 5, 1, tzinfo=UTC), **fast())

    assert (morning.sent, morning.messages) == (3, 1)
    msg = _received(smtp_server)
    # the rule's name leads the subject and the List-Id, as for its single alerts
    assert str(make_header(decode_header(msg["Subject"]))) == "[r] Digest: 3 new articles"
    assert msg["List-Id"] == "press-monitor r <r.press-monitor.invalid>"
    html_part = _parts(msg)["text/html"]
    assert html_part.count("<li>") == 3 and "Night &lt;story&gt; 2" in html_part
    assert html_part.count("<b>Zelensky</b> met Macron") == 3  # each item has its snippet
    assert all(f'href="https://news.example/n/{i}"' in html_part for i in range(3))


def test_from_carries_a_display_name_unless_the_url_names_the_sender(factory, smtp_server):
    config = make_config([channel("mail", smtp_server.url())])
    add_alert(factory, channel="mail")
    deliver_due(factory, config, NOW, **fast())
    assert _received(smtp_server)["From"] == "press-monitor <monitor@example.com>"

    smtp_server.handler.envelopes.clear()
    own = smtp_server.url().replace(
        "from=monitor@example.com", "from=Desk%20Bot%20<bot@example.com>"
    )
    add_alert(factory, channel="mail", title="second")
    deliver_due(factory, make_config([channel("mail", own)]), NOW, **fast())
    assert _received(smtp_server)["From"] == "Desk Bot <bot@example.com>"


def test_snippet_keeps_the_articles_paragraphs(factory, smtp_server):
    config = make_config([channel("mail", smtp_server.url())])
    add_alert(
        factory,
        channel="mail",
        text="Kyiv, Monday.\nPresident Zelensky met Macron.\nThe talks lasted two hours.",
    )

    deliver_due(factory, config, NOW, **fast())

    parts = _parts(_received(smtp_server))
    html_part, text_part = parts["text/html"], parts["text/plain"]
    assert "<p>Kyiv, Monday.</p>" in html_part
    assert "<p>President <mark><b>Zelensky</b></mark> met Macron.</p>" in html_part
    assert "<p>The talks lasted two hours.</p>" in html_part
    lines = [line.strip() for line in text_part.splitlines()]
    assert "Kyiv, Monday." in lines and "The talks lasted two hours." in lines


def test_an_article_two_rules_matched_is_one_email_naming_both(factory, smtp_server):
    config = make_config(
        [channel("mail", smtp_server.url())],
        rules=[RuleConfig("Zelensky", "x", ("mail",)), RuleConfig("Macron", "y", ("mail",))],
    )
    first = add_alert(factory, channel="mail", rule="Zelensky")
    article = alert_row(factory, first).article_id
    second = add_alert(
        factory,
        channel="mail",
        rule="Macron",
        article_id=article,
        evidence=[{"term": "macron", "surface": "Macron", "field": "text", "score": 100}],
    )

    report = deliver_due(factory, config, NOW, **fast())

    assert (report.sent, report.messages) == (2, 1)
    msg = _received(smtp_server)  # exactly one envelope
    assert (
        str(make_header(decode_header(msg["Subject"])))
        == "[Zelensky, Macron] Zelensky meets Macron"
    )
    html_part = _parts(msg)["text/html"]
    assert "Rules: <b>Zelensky, Macron</b>" in html_part
    # one List-Id (the first rule's); a filter on the other rule finds it by this header
    assert msg["List-Id"] == "press-monitor zelensky <zelensky.press-monitor.invalid>"
    assert msg["X-Press-Monitor-Rules"] == "zelensky macron"
    assert "<mark><b>Zelensky</b></mark> met <mark><b>Macron</b></mark>" in html_part
    assert {alert_row(factory, i).status for i in (first, second)} == {"sent"}
