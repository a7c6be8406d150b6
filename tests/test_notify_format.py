"""Formatting: snippets, per-kind templates, overrides in a sandbox, Telegram length."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.delivery import deliver_due
from monitor.notify.format import (
    render_alert,
    render_digest,
    render_digest_parts,
    telegram_length,
)
from monitor.notify.snippet import Segment, make_snippet, matched_terms
from monitor.records import Alert, Evidence
from tests.test_delivery_support import NOW, add_alert, alert_row, channel, fast, make_config

pytest_plugins = ["tests.test_delivery_support"]

EV = (Evidence("зеленський", "Зеленського", "text"), Evidence("макрон", "Макрон", "text"))


def alert(**kw: object) -> Alert:
    values = dict(
        id=1,
        rule="r",
        channel="c",
        status="pending",
        attempts=0,
        article_id=kw.get("id", 1),  # one article per alert unless the test says otherwise
        title="Зустріч у Парижі",
        link="https://news.example/a/1",
        source="Укрінформ",
        published=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        text="Вступ. " * 80 + "Макрон прийняв Зеленського в Парижі. " + "Кінець. " * 80,
        evidence=EV,
        created_at=datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
    )
    values.update(kw)
    return Alert(**values)  # type: ignore[arg-type]


def test_snippet_centres_on_the_first_term_and_marks_every_term():
    segs = make_snippet(alert().text, EV, max_chars=120)
    hits = [s.text for s in segs if s.hit]
    assert hits == ["Макрон", "Зеленського"]
    assert segs[0] == Segment("…") and segs[-1] == Segment("…")
    assert sum(len(s.text) for s in segs) <= 122


def test_snippet_matches_case_insensitively_and_without_terms_takes_the_start():
    segs = make_snippet("the MACRON visit", [Evidence("macron", "Macron", "text")], 100)
    assert [s for s in segs if s.hit] == [Segment("MACRON", hit=True)]
    assert make_snippet("short text", [], 100) == (Segment("short text"),)


def test_matched_terms_are_distinct_surface_forms_in_order():
    ev = [
        Evidence("a", "Київ", "text"),
        Evidence("a", "київ", "title"),
        Evidence("b", "Львів", "text"),
    ]
    assert matched_terms(ev) == ("Київ", "Львів")


@pytest.mark.parametrize(
    ("body", "length"),
    [("<b>Київ</b> &amp; Львів", 12), ("a&lt;b", 3), ("😀", 2), ('<a href="https://x">t</a>', 1)],
)
def test_telegram_length_counts_visible_utf16_units(body, length):
    assert telegram_length(body) == length


def test_generic_message_lists_rule_title_source_time_terms_and_link():
    msg = render_alert(alert(), channel("c", "console://"), "Europe/Kyiv")
    assert msg.title == "[r] Зустріч у Парижі" and msg.body_format == "text"
    assert "Укрінформ · 2026-03-02 11:30 EET" in msg.body
    assert "Matched: Зеленського, Макрон" in msg.body or "Matched: Макрон, Зеленського" in msg.body
    assert "[Макрон] прийняв [Зеленського]" in msg.body
    assert msg.body.rstrip().endswith("https://news.example/a/1")


def test_email_subject_is_one_line_and_list_id_names_the_rule():
    msg = render_alert(
        alert(title="Line one\nline two", rule="Energy Desk"),
        channel("m", "mailto://u:p@example.com"),
        "UTC",
    )
    assert msg.title == "[Energy Desk] Line one line two"
    assert msg.headers["List-Id"] == "press-monitor energy-desk <energy-desk.press-monitor.invalid>"


def test_digest_groups_by_rule():
    alerts = [
        alert(id=1, rule="b", title="B1"),
        alert(id=2, rule="a", title="A1"),
        alert(id=3, rule="b", title="B2"),
    ]
    msg = render_digest(alerts, channel("c", "console://"), "UTC", "Digest: 3 matches")
    assert msg.title == "Digest: 3 matches"
    assert msg.body.index("b (2):") < msg.body.index("a (1):")
    assert "- B1" in msg.body and "- B2" in msg.body and "- A1" in msg.body


def test_override_template_replaces_blocks_and_values_cannot_run_template_code(tmp_path):
    path = tmp_path / "mine.html"
    path.write_text(
        "{% block body %}NEWS: {{ title }} ({{ source }}){% endblock %}", encoding="utf-8"
    )
    hostile = alert(title="{{ 7*7 }} {% raw %}<i>x</i>")
    msg = render_alert(hostile, channel("t", "tgram://1:A/2", template=str(path)), "UTC")
    assert msg.body == "NEWS: {{ 7*7 }} {% raw %}&lt;i&gt;x&lt;/i&gt; (Укрінформ)"
    assert msg.title.startswith("[r] {{ 7*7 }}")  # subject block from the default template


def test_template_escaping_the_sandbox_falls_back_to_the_default(factory, tmp_path, capsys, caplog):
    path = tmp_path / "evil.txt"
    path.write_text("{% block body %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}")
    config = make_config([channel("c", "console://", template=str(path))])
    alert_id = add_alert(factory)

    deliver_due(factory, config, NOW, **fast())

    out = capsys.readouterr().out
    assert "subclasses" not in out and "<class" not in out
    assert "https://news.example/a/1" in out  # the default template was used
    assert alert_row(factory, alert_id).status == "sent"
    assert any(r.getMessage() == "template.failed" for r in caplog.records)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (None, "FileNotFoundError"),  # the file went away after the config was loaded
        ("{% block body %}{{ title }{% endblock %}", "TemplateSyntaxError"),
        (
            "{% block body %}{{ ''.__class__.__mro__ }}{% endblock %}"
            "{% block digest_body %}{{ ''.__class__.__mro__ }}{% endblock %}",
            "SecurityError",
        ),
    ],
)
def test_a_broken_override_renders_with_the_default_and_logs_template_failed(
    tmp_path, caplog, source, error
):
    """Rendering itself falls back: one WARNING template.failed naming channel, template
    and error, then the default template of the kind."""
    import logging

    path = tmp_path / "broken.txt"
    if source is not None:
        path.write_text(source)
    ch = channel("c", "console://", template=str(path))
    caplog.set_level(logging.INFO)

    alert_msg = render_alert(alert(), ch, "UTC")
    [part] = render_digest_parts([alert(id=1), alert(id=2)], ch, "UTC", "Digest: 2 matches")

    default = channel("c", "console://")
    assert alert_msg == render_alert(alert(), default, "UTC")
    assert part[1] == render_digest([alert(id=1), alert(id=2)], default, "UTC", "Digest: 2 matches")
    failed = [r for r in caplog.records if r.getMessage() == "template.failed"]
    assert len(failed) == 2  # one per rendering, not one per digest part tried
    assert {r.levelno for r in failed} == {logging.WARNING}
    fields = failed[0].fields  # type: ignore[attr-defined]
    assert (fields["channel"], fields["template"]) == ("c", str(path))
    assert fields["error"].startswith(f"{error}: ")


def test_an_edited_override_template_is_used_without_restart(tmp_path):
    import os

    path = tmp_path / "mine.txt"
    path.write_text("{% block body %}v1 {{ title }}{% endblock %}")
    ch = channel("c", "console://", template=str(path))
    assert render_alert(alert(), ch, "UTC").body.startswith("v1 ")
    path.write_text("{% block body %}v2 {{ title }}{% endblock %}")
    os.utime(path, ns=(1, 2_000_000_000))  # a different mtime even on coarse clocks
    assert render_alert(alert(), ch, "UTC").body.startswith("v2 ")


def test_register_console_is_idempotent_and_makes_console_urls_work(capsys):
    import apprise

    from monitor.notify.console import register_console

    register_console()
    register_console()
    sender = apprise.Apprise()
    assert sender.add("console://")
    assert sender.notify(body="hello from a test", title="T")
    assert capsys.readouterr().out == "T\nhello from a test\n\n"


def test_a_digest_too_long_for_telegram_is_split_into_numbered_parts():
    from monitor.notify.format import render_digest_parts

    many = [alert(id=i, title=f"Заголовок {i} " + "дуже " * 40) for i in range(1, 41)]
    parts = render_digest_parts(many, channel("t", "tgram://1:A/2"), "UTC", "Digest: 40 matches")

    assert len(parts) > 1
    assert [a.id for part, _m in parts for a in part] == list(range(1, 41))
    assert all(telegram_length(m.body) <= 4096 for _p, m in parts)
    assert parts[0][1].body.startswith(f"<b>Digest: 40 matches (1/{len(parts)})</b>")


def test_snippet_is_cut_between_words_never_inside_one():
    text = (
        "The president was publicly criticizing the resignation letter while speaking "
        "later that day to reporters in Kyiv about Zelensky and the others who came too late"
    )
    for size in range(40, 120, 7):
        segs = make_snippet(text, [Evidence("zelensky", "Zelensky", "text")], size)
        inner = "".join(s.text for s in segs).strip("…")
        assert "Zelensky" in inner
        assert text.startswith(inner) or text[text.index(inner) - 1] == " ", (size, inner)
        end = text.index(inner) + len(inner)
        assert end == len(text) or text[end] == " ", (size, inner)


def test_the_storys_other_outlets_are_named_in_alerts_and_digests():
    story = {"story_sources": ("Суспільне", "Reuters"), "story_languages": ("uk", "ru", "en")}
    one = render_alert(alert(**story), channel("t", "tgram://1:A/2"), "UTC")
    assert "Укрінформ · 2026-03-02 09:30 UTC · also reported by 2 outlets (uk, ru, en)" in one.body
    digest = render_digest(
        [alert(id=1, **story), alert(id=2)], channel("c", "console://"), "UTC", "Digest"
    )
    lines = digest.body.splitlines()
    assert sum("also reported by 2 outlets (uk, ru, en)" in line for line in lines) == 1
    assert render_alert(alert(), channel("c", "console://"), "UTC").body.count("also") == 0


def test_a_reply_for_hundreds_of_copies_fits_telegram():
    """A feed carrying 500 copies of an alerted story at once: one reply that lists ten
    outlets, counts the rest, and stays under Telegram's limit (hostile long names too)."""
    from monitor.notify.format import TELEGRAM_LIMIT, render_reply

    copies = [
        alert(
            id=i,
            source="Outlet " + "x" * 600,
            title="Copy " * 100,
            reply_to=1,
            kind="story",
            reply_to_message="2:17",
        )
        for i in range(2, 502)
    ]
    msg = render_reply(copies, channel("t", "tgram://1:A/2"), "UTC")
    assert telegram_length(msg.body) <= TELEGRAM_LIMIT
    assert msg.body.count("• ") <= 10 and msg.body.endswith("more")
    assert msg.reply_to == "2:17"
