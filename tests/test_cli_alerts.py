"""``monitor alerts``, ``alerts retry`` and ``notify test`` against a real database and servers."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.cli.alerts import register
from monitor.store.db import session_scope
from monitor.store.schema import AlertRow
from tests.test_delivery_support import BOT_TOKEN, add_alert, alert_row, channel, make_config

pytest_plugins = ["tests.test_delivery_support"]


class Ctx:
    """What the CLI gives handlers: the config and a migrated session factory."""

    def __init__(self, config, factory) -> None:  # type: ignore[no-untyped-def]
        self._config, self._factory = config, factory

    def config(self):  # type: ignore[no-untyped-def]
        return self._config

    def session_factory(self):  # type: ignore[no-untyped-def]
        return self._factory


def run(ctx: Ctx, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="monitor")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args, ctx)


def set_row(factory, alert_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        row = s.get(AlertRow, alert_id)
        for k, v in values.items():
            setattr(row, k, v)


@pytest.fixture
def ctx(factory, telegram):  # type: ignore[no-untyped-def]
    config = make_config([channel("tg", telegram.url()), channel("con", "console://")])
    return Ctx(config, factory)


def test_alerts_lists_newest_first_with_masked_errors(ctx, factory, capsys):
    a = add_alert(factory, channel="tg", title="First story")
    b = add_alert(factory, channel="tg", title="Second story")
    set_row(
        factory,
        a,
        status="dead",
        attempts=8,
        last_error=f"could not post to tgram://{BOT_TOKEN}/4242: 401",
    )

    assert run(ctx, "alerts", "--wide") == 0

    out = capsys.readouterr().out
    assert out.index("Second story") < out.index("First story")
    assert BOT_TOKEN not in out and "***" in out
    assert run(ctx, "alerts", "--json") == 0
    assert BOT_TOKEN not in capsys.readouterr().out
    assert "dead" in out and "pending 1 · sending 0 · sent 0 · dead 1" in out
    assert run(ctx, "alerts", "--status", "dead") == 0
    only_dead = capsys.readouterr().out
    assert "First story" in only_dead and "Second story" not in only_dead
    assert [line.split()[0] for line in only_dead.splitlines()[1:-1]] == [str(a)]
    assert b != a


def test_retry_makes_a_dead_alert_pending_but_never_resends_a_sent_one(ctx, factory, capsys):
    dead = add_alert(factory, channel="tg")
    sent = add_alert(factory, channel="tg", title="Sent already")
    set_row(factory, dead, status="dead", attempts=8)
    set_row(factory, sent, status="sent", attempts=1)

    assert run(ctx, "alerts", "retry", str(dead)) == 0
    row = alert_row(factory, dead)
    assert (row.status, row.attempts) == ("pending", 0)
    assert run(ctx, "alerts", "retry", str(sent)) == 1
    assert alert_row(factory, sent).status == "sent"
    assert "never resent" in capsys.readouterr().err


def test_retry_dead_requeues_every_dead_alert(ctx, factory, capsys):
    ids = [add_alert(factory, channel="tg", title=f"s{i}") for i in range(3)]
    for i in ids[:2]:
        set_row(factory, i, status="dead", attempts=8)

    assert run(ctx, "alerts", "retry", "--dead") == 0

    assert "2 alert(s) queued" in capsys.readouterr().out
    assert {alert_row(factory, i).status for i in ids} == {"pending"}


def test_notify_test_sends_a_formatted_message(ctx, telegram, capsys):
    assert run(ctx, "notify", "test", "tg") == 0

    out = capsys.readouterr().out
    assert out.startswith("ok: test message sent to tg (tgram://***/4242), message id 4242:")
    [payload] = telegram.payloads()
    assert "press-monitor test message" in payload["text"] and payload["parse_mode"] == "HTML"


def test_notify_test_console_prints(ctx, capsys):
    assert run(ctx, "notify", "test", "con") == 0
    assert "[test] press-monitor test message for channel con" in capsys.readouterr().out


def test_notify_test_reports_what_failed_without_the_token(ctx, telegram, capsys):
    telegram.answers.append((401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))

    assert run(ctx, "notify", "test", "tg") == 1

    err = capsys.readouterr().err
    assert "failed: tg (tgram://***/4242): telegram: 401 Unauthorized" in err
    assert "permanent" in err and BOT_TOKEN.split(":")[1] not in err


def test_notify_test_smtp_login_failure_masks_the_password(factory, smtp_server, capsys):
    wrong = "Wr0ng-Password-123"
    ctx = Ctx(make_config([channel("mail", smtp_server.url(password=wrong))]), factory)

    assert run(ctx, "notify", "test", "mail") == 1

    err = capsys.readouterr().err
    assert "535" in err and wrong not in err


def test_notify_test_unknown_channel_names_the_defined_ones(ctx, capsys):
    """A channel the config does not define is a usage error: exit 2."""
    assert run(ctx, "notify", "test", "nope") == 2
    assert "unknown channel 'nope'; defined: tg, con" in capsys.readouterr().err


def test_alerts_show_when_a_waiting_alert_is_tried_next_and_mark_it_held(ctx, factory, capsys):
    """Quiet hours / digest / min_sources hold an alert: its first try lies ahead."""
    now = datetime.now(UTC)
    later = now + timedelta(hours=3)
    held = add_alert(factory, channel="tg", title="Held story")
    due = add_alert(factory, channel="tg", title="Due story")
    retrying = add_alert(factory, channel="tg", title="Retrying story")
    set_row(factory, held, next_attempt_at=later, attempts=0)
    set_row(factory, due, next_attempt_at=now - timedelta(minutes=1), attempts=0)
    set_row(factory, retrying, next_attempt_at=later, attempts=2, last_error="timeout")

    assert run(ctx, "alerts", "--wide") == 0

    out = capsys.readouterr().out.splitlines()
    assert "NEXT TRY" in out[0]
    tz = ZoneInfo(ctx.config().monitor.timezone)
    shown_later = f"{later.astimezone(tz):%Y-%m-%d %H:%M} {later.astimezone(tz).tzname()}"
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert " held " in rows[str(held)] and shown_later in rows[str(held)]
    assert " pending " in rows[str(due)]
    assert " pending " in rows[str(retrying)] and shown_later in rows[str(retrying)]
    assert "pending 3" in out[-1]  # the summary counts outbox states, held ones are pending


def test_notify_test_with_a_broken_override_template_sends_the_default_one(
    factory, telegram, tmp_path, capsys, caplog
):
    """A channel template with a syntax error does not stop the test message: it goes out
    with the default template, and the log says which template failed."""
    from dataclasses import replace

    broken = tmp_path / "broken.html"
    broken.write_text("{% block body %}{{ unclosed {% endblock %}")
    tg = replace(channel("tg", telegram.url()), template=str(broken))
    ctx = Ctx(make_config([tg]), factory)

    with caplog.at_level("WARNING"):
        assert run(ctx, "notify", "test", "tg") == 0

    [payload] = telegram.payloads()
    assert "press-monitor test message" in payload["text"]
    [failed] = [r for r in caplog.records if r.getMessage() == "template.failed"]
    assert failed.fields["template"] == str(broken)
