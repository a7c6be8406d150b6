"""The per-channel planner: held, single, summary or digest. Pure, so a table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.notify.plan import FOLD_THRESHOLD, plan_channel
from monitor.records import HOURLY, Alert, ChannelConfig, QuietHours, RuleConfig

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 14:00 Kyiv
NIGHT = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # 23:00 Kyiv
PLAIN = ChannelConfig(name="c", url="tgram://1:A/2", masked_url="tgram://***/2", kind="telegram")
QUIET = replace(PLAIN, quiet_hours=QuietHours(time(22, 0), time(7, 0)))
RULES = {
    "r": RuleConfig("r", "x"),
    "s": RuleConfig("s", "x"),
    "d": RuleConfig("d", "x", delivery="digest", digest=HOURLY),
    "two": RuleConfig("two", "x", min_sources=2),
}


def alert(
    i: int,
    rule: str = "r",
    *,
    created: datetime = NOW,
    priority: str = "normal",
    article: int | None = None,
) -> Alert:
    return Alert(
        id=i,
        rule=rule,
        channel="c",
        status="pending",
        attempts=0,
        article_id=i if article is None else article,
        title=f"t{i}",
        link=None,
        source="s",
        published=None,
        text="",
        evidence=(),
        created_at=created,
        priority=priority,
        delivery=RULES[rule].delivery,
    )


def kinds(plan) -> list[tuple[str, tuple[int, ...]]]:  # type: ignore[no-untyped-def]
    return [(b.kind, tuple(a.id for a in b.alerts)) for b in plan.batches]


@pytest.mark.parametrize(
    ("alerts", "channel", "now", "batches", "held"),
    [
        ([alert(1)], PLAIN, NOW, [("single", (1,))], {}),
        ([alert(1)], QUIET, NIGHT, [], {1: datetime(2026, 3, 3, 5, 0, tzinfo=UTC)}),
        ([alert(1, priority="high")], QUIET, NIGHT, [("single", (1,))], {}),
        # quiet hours over: what came in during them goes out as one digest
        (
            [alert(1, created=NIGHT), alert(2, created=NIGHT), alert(3)],
            QUIET,
            NOW + timedelta(days=1),
            [("single", (3,)), ("digest", (1, 2))],
            {},
        ),
        ([alert(1, "d", created=NOW + timedelta(minutes=-30))], PLAIN, NOW, [("digest", (1,))], {}),
        (
            [alert(1, "d", created=NOW + timedelta(minutes=5))],
            PLAIN,
            NOW + timedelta(minutes=10),
            [],
            {1: NOW + timedelta(hours=1)},
        ),
        ([alert(1, "two")], PLAIN, NOW, [], {1: NOW + timedelta(seconds=60)}),
    ],
)
def test_plan_table(alerts, channel, now, batches, held):
    plan = plan_channel(alerts, channel, RULES, {}, now, "Europe/Kyiv")
    assert kinds(plan) == batches
    assert dict(plan.held) == held


def test_min_sources_reached_sends():
    plan = plan_channel([alert(1, "two")], PLAIN, RULES, {1: 2}, NOW, "UTC")
    assert kinds(plan) == [("single", (1,))]


def test_burst_over_threshold_is_folded_but_high_priority_stays_single():
    burst = [alert(i) for i in range(1, FOLD_THRESHOLD + 2)] + [alert(99, priority="high")]
    plan = plan_channel(burst, PLAIN, RULES, {}, NOW, "UTC")
    assert kinds(plan) == [("single", (99,)), ("summary", tuple(range(1, FOLD_THRESHOLD + 2)))]


def test_a_large_burst_is_folded_into_summaries_of_twenty():
    burst = [alert(i) for i in range(1, 46)]
    plan = plan_channel(burst, PLAIN, RULES, {}, NOW, "UTC")
    assert [len(b.alerts) for b in plan.batches] == [20, 20, 5]
    assert {b.kind for b in plan.batches} == {"summary"}


def test_unlimited_channel_never_folds():
    burst = [alert(i) for i in range(1, FOLD_THRESHOLD + 5)]
    plan = plan_channel(burst, PLAIN, RULES, {}, NOW, "UTC", fold=False)
    assert {k for k, _ in kinds(plan)} == {"single"}


def test_an_article_several_rules_matched_is_one_message():
    rows = [alert(1, "r", article=7), alert(2), alert(3, "s", article=7)]
    plan = plan_channel(rows, PLAIN, RULES, {}, NOW, "UTC")
    assert kinds(plan) == [("single", (1, 3)), ("single", (2,))]


def test_one_high_priority_rule_makes_the_articles_message_urgent():
    rows = [alert(1, "r", article=7), alert(2, "s", article=7, priority="high")]
    plan = plan_channel(rows, QUIET, RULES, {}, NIGHT, "Europe/Kyiv")
    # quiet hours hold the normal rule's row; the urgent rule goes now, alone
    assert kinds(plan) == [("single", (2,))] and list(plan.held) == [1]
    plan = plan_channel(rows, PLAIN, RULES, {}, NOW, "UTC")
    assert kinds(plan) == [("single", (2, 1))]


def test_a_burst_is_counted_in_articles_not_rows():
    # FOLD_THRESHOLD articles, each matched by two rules: not a burst
    rows = [alert(2 * i + k, "rs"[k], article=i) for i in range(FOLD_THRESHOLD) for k in (0, 1)]
    plan = plan_channel(rows, PLAIN, RULES, {}, NOW, "UTC")
    assert [b.kind for b in plan.batches] == ["single"] * FOLD_THRESHOLD


def test_digest_heading_counts_articles_and_names_rules():
    from monitor.notify.plan import heading

    rows = [alert(1, "r", article=7), alert(2, "s", article=7), alert(3, "r")]
    assert heading("digest", rows) == "Digest: 2 new articles (r 2, s 1)"
    assert heading("digest", rows[:1]) == "Digest: 1 new article"
    assert heading("summary", rows) == "2 new articles at once: one message instead of 2"
