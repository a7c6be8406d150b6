"""Decide what to send to one channel this cycle. No I/O.

Given the channel's due alerts, :func:`plan_channel` sorts each into: held (min_sources
not reached, quiet hours, digest not due yet — with the time to look again), one
message per article, or one message for many (a digest, the alerts held over quiet
hours, or a summary when a burst is larger than :data:`FOLD_THRESHOLD` articles).
Priority "high" alerts ignore quiet hours and are never folded.

An article that several rules matched is one message on a channel, naming every rule
(one outbox row per rule and channel stays: each row is claimed and marked with that
message). A message for many lists each article once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from monitor.notify.timing import is_digest_due, is_quiet, next_slot, quiet_ends_at
from monitor.records import HOURLY, Alert, ChannelConfig, RuleConfig

FOLD_THRESHOLD = 10  # more due instant alerts than this on one channel -> summaries
SUMMARY_SIZE = 20  # alerts listed per summary message
MIN_SOURCES_RECHECK_S = 60.0
REPLY_RECHECK_S = 60.0  # a reply whose alert is not sent yet looks again after this
BatchKind = Literal["single", "summary", "digest", "reply"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Alerts that go out as one message: one article ("single"), a burst folded into a
    "summary", a "digest", or the later outlets of a story answering its first alert
    ("reply")."""

    kind: BatchKind
    alerts: tuple[Alert, ...]  # a "single": the rows of one article (one per rule)
    heading: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one channel's due alerts."""

    batches: tuple[Batch, ...] = ()
    held: Mapping[int, datetime] = field(default_factory=dict)  # alert id -> look again at


def plan_channel(
    alerts: Sequence[Alert],
    channel: ChannelConfig,
    rules: Mapping[str, RuleConfig],
    sources: Mapping[int, int],
    now: datetime,
    tz: str,
    fold: bool = True,
) -> Plan:
    """Sort one channel's due alerts into held ones and message batches.

    ``fold`` False (an unlimited channel such as console://) never folds a burst.
    """
    held: dict[int, datetime] = {}
    singles: list[Alert] = []
    normal: list[Alert] = []
    grouped: list[Alert] = []
    replies: list[Alert] = []
    quiet = channel.quiet_hours
    quiet_now = is_quiet(quiet, now, tz)
    for alert in alerts:
        rule = rules.get(alert.rule)
        high = alert.priority == "high"
        if alert.kind == "story":  # a later outlet of an alerted story: a reply
            if alert.reply_to_message is None:  # the alert it answers is not out yet
                held[alert.id] = now + timedelta(seconds=REPLY_RECHECK_S)
            elif quiet is not None and quiet_now and not high:
                held[alert.id] = quiet_ends_at(quiet, now, tz)
            else:
                replies.append(alert)
        elif rule and sources.get(alert.article_id, 1) < rule.min_sources:
            held[alert.id] = now + timedelta(seconds=MIN_SOURCES_RECHECK_S)
        elif quiet is not None and quiet_now and not high:
            held[alert.id] = quiet_ends_at(quiet, now, tz)
        elif alert.delivery == "digest":
            # the rule may be gone, or instant now: the alert was a digest when it was made
            schedule = rule.digest if rule and rule.digest else HOURLY
            if is_digest_due(schedule, alert.created_at, now, tz):
                grouped.append(alert)
            else:
                held[alert.id] = next_slot(schedule, now, tz)
        elif high:
            singles.append(alert)
        elif is_quiet(quiet, alert.created_at, tz):
            grouped.append(alert)  # came in during quiet hours: released as one digest
        else:
            normal.append(alert)
    answers = [Batch("reply", group) for group in _by_target(replies)]
    return Plan(_batches(singles, normal, grouped, fold) + tuple(answers), held)


def _by_target(replies: Sequence[Alert]) -> list[tuple[Alert, ...]]:
    """Replies grouped by the alert they answer: the outlets that joined a story since
    the last cycle are one reply."""
    groups: dict[int | None, list[Alert]] = {}
    for alert in replies:
        groups.setdefault(alert.reply_to, []).append(alert)
    return [tuple(group) for group in groups.values()]


def by_article(alerts: Iterable[Alert]) -> list[tuple[Alert, ...]]:
    """``alerts`` grouped by article, in order of each article's first alert."""
    groups: dict[int, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.article_id, []).append(alert)
    return [tuple(group) for group in groups.values()]


def heading(kind: BatchKind, alerts: Sequence[Alert]) -> str:
    """The heading of a message for many, counted in articles: "Digest: 2 new articles",
    "Digest: 3 new articles (Witkoff 2, Talks 1)" when several rules are in it,
    "12 new articles at once: one message instead of 12"."""
    articles = by_article(alerts)
    n = len(articles)
    noun = "article" if n == 1 else "articles"
    if kind == "summary":
        return f"{n} new {noun} at once: one message instead of {n}"
    per_rule = Counter(r for group in articles for r in dict.fromkeys(a.rule for a in group))
    if len(per_rule) == 1:
        return f"Digest: {n} new {noun}"
    counts = ", ".join(f"{rule} {count}" for rule, count in per_rule.most_common())
    return f"Digest: {n} new {noun} ({counts})"


def _batches(
    singles: list[Alert], normal: list[Alert], grouped: list[Alert], fold: bool
) -> tuple[Batch, ...]:
    """Messages: one per article (its high-priority rows first), a burst of more than
    :data:`FOLD_THRESHOLD` normal articles folded into summaries, one digest."""
    high = {a.article_id for a in singles}
    urgent = by_article(singles + [a for a in normal if a.article_id in high])
    rest = by_article(a for a in normal if a.article_id not in high)
    out = [Batch("single", group) for group in urgent]
    if fold and len(rest) > FOLD_THRESHOLD:
        for i in range(0, len(rest), SUMMARY_SIZE):
            chunk = tuple(a for group in rest[i : i + SUMMARY_SIZE] for a in group)
            out.append(Batch("summary", chunk, heading("summary", chunk)))
    else:
        out.extend(Batch("single", group) for group in rest)
    if grouped:
        out.append(Batch("digest", tuple(grouped), heading("digest", grouped)))
    return tuple(out)
