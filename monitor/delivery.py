"""One delivery cycle: send what is due in the outbox, within each channel's limits.

Order: put back rows a crash left in ``sending``; deliver operator notices; load the
due alerts (a page at a time); per channel, :func:`monitor.notify.plan.plan_channel`
holds some and groups the rest into messages; the messages then go out round-robin
across channels, paced by each channel's token bucket for at most ``pace_budget_s``.
Each row is claimed (committed) before its message is sent and marked (committed)
after, so a crash loses nothing and duplicates at most the messages in flight. A
failing channel is left alone for the rest of the cycle; it never blocks the others.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jinja2 import TemplateError

from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.log import event
from monitor.notify import notices
from monitor.notify.console import register_console
from monitor.notify.format import (
    Message,
    render_alert,
    render_digest_parts,
    render_notice,
)
from monitor.notify.limiter import ChannelLimits
from monitor.notify.plan import Batch, plan_channel
from monitor.notify.send import send_message, url_secrets
from monitor.notify.timing import backoff_s
from monitor.records import Alert, ChannelConfig
from monitor.secrets import mask_text
from monitor.store import outbox
from monitor.store.db import SessionFactory, session_scope
from monitor.store.state import get_state, set_state

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
SENDING_TIMEOUT_S = 300.0  # a row in "sending" longer than this was interrupted: resend
PAGE = 500  # due alerts looked at per cycle
PACE_BUDGET_S = 10.0  # longest a cycle keeps sending (and at most tick_s / 2)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one cycle did, counted in alert rows (``messages``: messages sent)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    messages: int = 0
    notices_sent: int = 0


class _Tally:
    def __init__(self) -> None:
        self.sent = self.failed = self.dead = self.held = self.messages = self.notices = 0

    def report(self) -> DeliveryReport:
        return DeliveryReport(
            self.sent, self.failed, self.dead, self.held, self.messages, self.notices
        )


def deliver_due(
    session_factory: SessionFactory,
    config: Config,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    pace_budget_s: float | None = None,
) -> DeliveryReport:
    """Deliver due alerts and operator notices; never raises for a failing channel.

    Sends for at most ``pace_budget_s`` (rate-limit waits included; default: half of
    ``[monitor].tick_s``, at most 10 s), so a slow channel cannot hold up shutdown or
    the next tick; the rest waits for the next cycle. ``sleep`` and ``monotonic`` are
    replaceable for tests."""
    register_console()
    tally = _Tally()
    limiter = ChannelLimits(dict(config.channels))
    with session_scope(session_factory) as s:
        outbox.requeue_stale(s, now, SENDING_TIMEOUT_S, config.monitor.max_attempts)
        limiter.load({name: get_state(s, _bucket_key(name)) for name in config.channels}, now)
    _deliver_notices(session_factory, config, now, limiter, tally)
    queues = _plan(session_factory, config, now, limiter, tally)
    budget = (
        min(PACE_BUDGET_S, config.monitor.tick_s / 2) if pace_budget_s is None else pace_budget_s
    )
    _drain(session_factory, config, now, queues, limiter, tally, sleep, monotonic, budget)
    with session_scope(session_factory) as s:
        for name, bucket in limiter.dump().items():
            set_state(s, _bucket_key(name), bucket, now)
    report = tally.report()
    if report.messages or report.failed or report.dead:
        event(
            log,
            "delivery.cycle",
            sent=report.sent,
            failed=report.failed,
            dead=report.dead,
            held=report.held,
            messages=report.messages,
        )
    return report


def _bucket_key(channel: str) -> str:
    """The state-table key of a channel's token bucket."""
    return f"ratelimit:{channel}"


def _plan(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    limiter: ChannelLimits,
    tally: _Tally,
) -> dict[str, deque[Batch]]:
    """Load the due alerts, hold what must wait, and queue message batches per channel."""
    with session_scope(factory) as s:
        alerts = outbox.load_alerts(s, outbox.due_alert_ids(s, now, PAGE))
        sources = outbox.source_counts(s, (a.article_id for a in alerts))
    by_channel: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_channel.setdefault(alert.channel, []).append(alert)
    rules = {r.name: r for r in config.rules}
    queues: dict[str, deque[Batch]] = {}
    for name, channel_alerts in by_channel.items():
        channel = config.channels.get(name)
        if channel is None:
            _fail_unknown_channel(factory, config, now, name, channel_alerts, tally)
            continue
        fold = limiter.is_limited(name)
        tz = config.monitor.timezone
        plan = plan_channel(channel_alerts, channel, rules, sources, now, tz, fold=fold)
        with session_scope(factory) as s:
            outbox.hold(s, dict(plan.held))
        tally.held += len(plan.held)
        if plan.batches:
            queues[name] = deque(plan.batches)
    return queues


def _drain(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    queues: dict[str, deque[Batch]],
    limiter: ChannelLimits,
    tally: _Tally,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    budget_s: float,
) -> None:
    """Send the queued batches round-robin for at most ``budget_s`` (token waits
    included); what is left stays pending for the next cycle."""
    start = monotonic()
    while queues and monotonic() - start < budget_s:
        clock = now + timedelta(seconds=monotonic() - start)
        waits = []
        progressed = False
        for name in list(queues):
            wait = limiter.wait(name, clock)
            if wait > 0:
                waits.append(wait)
                continue
            limiter.take(name)
            batch = queues[name].popleft()
            ok = _send_batch(factory, config, now, config.channels[name], batch, limiter, tally)
            progressed = True
            if not ok:  # a failing channel waits for its next attempt time
                tally.held += sum(len(b.alerts) for b in queues[name])
                queues[name].clear()
            if not queues[name]:
                del queues[name]
        if progressed:
            continue
        if not waits or monotonic() - start + min(waits) > budget_s:
            break
        sleep(min(waits))
    tally.held += sum(len(b.alerts) for q in queues.values() for b in q)


def _messages(
    batch: Batch, alerts: Sequence[Alert], channel: ChannelConfig, tz: str
) -> list[tuple[tuple[Alert, ...], Message]]:
    if batch.kind == "single":
        return [(tuple(alerts), render_alert(alerts[0], channel, tz))]
    heading = batch.heading if len(alerts) == len(batch.alerts) else f"{len(alerts)} matches"
    return render_digest_parts(alerts, channel, tz, heading)


def _render(
    batch: Batch, alerts: Sequence[Alert], channel: ChannelConfig, tz: str
) -> list[tuple[tuple[Alert, ...], Message]]:
    """Messages for a batch; a broken override template falls back to the default one."""
    try:
        return _messages(batch, alerts, channel, tz)
    except (TemplateError, OSError) as exc:
        event(
            log,
            "template.failed",
            level=logging.WARNING,
            channel=channel.name,
            template=channel.template,
            error=f"{type(exc).__name__}: {exc}",
        )
        return _messages(batch, alerts, replace(channel, template=None), tz)


def _send_batch(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    channel: ChannelConfig,
    batch: Batch,
    limiter: ChannelLimits,
    tally: _Tally,
) -> bool:
    """Claim, send and mark one batch; False when the channel failed."""
    with session_scope(factory) as s:
        claimed = set(outbox.claim(s, [a.id for a in batch.alerts], now))
    alerts = [replace(a, attempts=a.attempts + 1) for a in batch.alerts if a.id in claimed]
    if not alerts:
        return True
    parts = _render(batch, alerts, channel, config.monitor.timezone)
    for i, (part, message) in enumerate(parts):
        started = time.monotonic()
        try:
            message_id = send_message(channel, message, *_progress(factory, batch, part))
        except DeliveryError as exc:
            unsent = [a for p, _m in parts[i:] for a in p]
            _record_failure(factory, config, now, channel, unsent, exc, limiter, tally)
            return False
        ids = [a.id for a in part]
        digest_id = min(ids) if batch.kind != "single" else None
        with session_scope(factory) as s:
            outbox.mark_sent(s, ids, now, message_id, digest_id)
        tally.sent += len(ids)
        tally.messages += 1
        event(
            log,
            "alert.sent",
            channel=channel.name,
            kind=batch.kind,
            alerts=len(ids),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    return True


def _progress(
    factory: SessionFactory, batch: Batch, part: Sequence[Alert]
) -> tuple[tuple[str, ...], Callable[[str], None] | None]:
    """For a single alert: the chats that already have it, and a recorder of new ones.
    (A digest or summary is regrouped on retry, so it is always sent whole.)"""
    if batch.kind != "single":
        return (), None
    prior = part[0].extra.get("message_id")

    def record(message_id: str) -> None:
        with session_scope(factory) as s:
            outbox.record_progress(s, [part[0].id], message_id)

    return (tuple(prior.split(",")) if prior else ()), record


def _record_failure(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    channel: ChannelConfig,
    alerts: Sequence[Alert],
    exc: DeliveryError,
    limiter: ChannelLimits,
    tally: _Tally,
) -> None:
    error = mask_text(exc.message, url_secrets(channel.url))
    attempts = max(a.attempts for a in alerts)
    if exc.retry_after_s is not None:
        retry_at = now + timedelta(seconds=exc.retry_after_s)
        limiter.block(channel.name, retry_at)
    else:
        retry_at = now + timedelta(seconds=backoff_s(attempts))
    with session_scope(factory) as s:
        dead = outbox.mark_failed(
            s, [a.id for a in alerts], error, retry_at, config.monitor.max_attempts, exc.permanent
        )
        if dead:
            _notify_dead(s, config, now, channel.name, [a for a in alerts if a.id in dead], error)
    tally.failed += len(alerts) - len(dead)
    tally.dead += len(dead)
    event(
        log,
        "alert.failed",
        level=logging.WARNING,
        channel=channel.name,
        alerts=len(alerts),
        dead=len(dead),
        error=error,
        retry_at=retry_at.isoformat(),
    )


def _notify_dead(
    session: Session, config: Config, now: datetime, channel: str, dead: Sequence[Alert], error: str
) -> None:
    """One operator notice per channel per day that alerts died on."""
    operator = config.monitor.operator_channel
    if not operator:
        return
    notice = notices.alerts_dead(channel=channel, first=dead[0], error=error, now=now)
    outbox.enqueue_operator_notice(session, notice.key, notice.title, notice.body, operator, now)


def _fail_unknown_channel(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    name: str,
    alerts: Sequence[Alert],
    tally: _Tally,
) -> None:
    """Alerts for a channel no longer in the config cannot be sent: they die, with a notice."""
    with session_scope(factory) as s:
        ids = outbox.claim(s, [a.id for a in alerts], now)
    with session_scope(factory) as s:
        error = f"channel {name!r} is not in the config"
        dead = outbox.mark_failed(s, ids, error, now, config.monitor.max_attempts, permanent=True)
        _notify_dead(s, config, now, name, [a for a in alerts if a.id in dead], error)
    tally.dead += len(dead)


def _deliver_notices(
    factory: SessionFactory,
    config: Config,
    now: datetime,
    limiter: ChannelLimits,
    tally: _Tally,
) -> None:
    """Send due operator notices (rare: no pacing, but a blocked channel is skipped)."""
    with session_scope(factory) as s:
        notices = outbox.claim_notices(s, now)
    for notice in notices:
        channel = config.channels.get(notice.channel)
        error, retry_at = None, None
        if channel is None:
            error = f"channel {notice.channel!r} is not in the config"
        elif limiter.wait(channel.name, now) > 0:
            error, retry_at = "channel is rate limited", now + timedelta(seconds=60)
        else:
            limiter.take(channel.name)
            try:
                send_message(channel, render_notice(notice.title, notice.body, channel))
            except DeliveryError as exc:
                error = mask_text(exc.message, url_secrets(channel.url))
        retry_at = retry_at or now + timedelta(seconds=backoff_s(notice.attempts))
        with session_scope(factory) as s:
            status = outbox.finish_notice(
                s, notice.id, now, error, retry_at, config.monitor.max_attempts
            )
        tally.notices += status == "sent"
        event(log, "notice.delivery", channel=notice.channel, key=notice.key, status=status)
