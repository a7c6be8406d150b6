"""One delivery cycle: send what is due in the outbox, within each channel's limits.

Order: put back rows a crash left in ``sending``; deliver operator notices; load the
due alerts (a page at a time); per channel, :func:`monitor.notify.plan.plan_channel`
holds some and groups the rest into messages; the messages then go out round-robin
across channels, paced by each channel's token bucket for at most ``pace_budget_s``.
Each row is claimed (committed) before its message is sent and marked (committed)
after, so a crash loses nothing and duplicates at most the messages in flight. A
failing channel is left alone for the rest of the cycle; it never blocks the others.
The steps are the methods of :class:`DeliveryCycle`, which holds what they share.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

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
    render_reply,
)
from monitor.notify.limiter import ChannelLimits
from monitor.notify.plan import Batch, heading, plan_channel
from monitor.notify.send import send_message
from monitor.notify.timing import backoff_s
from monitor.records import Alert, ChannelConfig
from monitor.secrets import mask_text, url_secrets
from monitor.store import outbox, workers
from monitor.store.db import SessionFactory, session_scope
from monitor.store.state import get_state, set_state

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
PAGE = 500  # due alerts looked at per cycle
PACE_BUDGET_S = 10.0  # longest a cycle keeps sending (and at most tick_s / 2)
DELIVERY_LEASE = workers.DELIVERY_LEASE
# How long the delivery lease outlasts a cycle's sending budget: the message in flight
# when the budget ran out (channels time out within 30 s) and the bookkeeping after.
DELIVERY_SLACK_S = 60.0


@dataclass(frozen=True, slots=True)
class Undelivered:
    """Alerts of one channel that a cycle could not deliver: back to ``pending`` until
    ``retry_at``, or ``dead`` (out of attempts or refused for good: no ``retry_at``)."""

    channel: str
    alert_ids: tuple[int, ...]
    dead: bool
    error: str  # masked
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one cycle did, counted in alert rows (``messages``: messages sent; ``failed``:
    alerts that failed and will be retried; ``undelivered``: which ones, and why)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    messages: int = 0
    notices_sent: int = 0
    undelivered: tuple[Undelivered, ...] = ()
    busy_with: str | None = None  # another worker was delivering: this one sent nothing


class _Tally:
    """Running counts of one cycle, turned into its :class:`DeliveryReport` at the end."""

    def __init__(self) -> None:
        self.sent = self.failed = self.dead = self.held = self.messages = self.notices = 0
        self.undelivered: list[Undelivered] = []

    def report(self) -> DeliveryReport:
        return DeliveryReport(
            sent=self.sent,
            failed=self.failed,
            dead=self.dead,
            held=self.held,
            messages=self.messages,
            notices_sent=self.notices,
            undelivered=tuple(self.undelivered),
        )


def deliver_due(
    session_factory: SessionFactory,
    config: Config,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    pace_budget_s: float | None = None,
    lease_s: float = outbox.SENDING_LEASE_S,
    worker: str | None = None,
    wait_s: float = 0.0,
) -> DeliveryReport:
    """Deliver due alerts and operator notices; never raises for a failing channel.

    With ``worker`` (the daemon, ``run --once``), one worker of those sharing the
    database delivers at a time: the cycle holds the ``delivery`` lease
    (:func:`monitor.store.workers.take_lease`), so the channels' rate limits, digests and
    grouping are one worker's plan. When another worker holds it, this one waits up to
    ``wait_s`` for it, else sends nothing (``busy_with`` names the other); the rows'
    own claims make a double send impossible even without the lease.

    Sends for at most ``pace_budget_s`` (rate-limit waits included; default: half of
    ``[monitor].tick_s``, at most 10 s), so a slow channel cannot hold up shutdown or
    the next tick; the rest waits for the next cycle. Rows left in ``sending`` for longer
    than ``lease_s`` are put back first (0 when the caller knows no other sender lives).
    ``sleep`` and ``monotonic`` are replaceable for tests."""
    register_console()
    budget_s = (
        min(PACE_BUDGET_S, config.monitor.tick_s / 2) if pace_budget_s is None else pace_budget_s
    )
    cycle = DeliveryCycle(
        session_factory, config, now, sleep=sleep, monotonic=monotonic, lease_s=lease_s
    )
    if worker is None:
        return cycle.run(budget_s)
    holder = _take_delivery(session_factory, worker, sleep, monotonic, wait_s, budget_s)
    if holder is not None:
        event(log, "delivery.skipped", logging.DEBUG, delivering=holder)
        return DeliveryReport(busy_with=holder)
    try:
        return cycle.run(budget_s)
    finally:
        with session_scope(session_factory) as s:
            workers.release_lease(s, DELIVERY_LEASE, worker, _utcnow())


def _take_delivery(
    factory: SessionFactory,
    worker: str,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    wait_s: float,
    budget_s: float,
) -> str | None:
    """Take the ``delivery`` lease, waiting up to ``wait_s`` for it; None once taken,
    else who holds it. The lease outlasts the cycle's sending budget by the slowest
    message's timeout, and a killed deliverer's lapses: another worker goes on."""
    deadline = monotonic() + wait_s
    while True:
        now = _utcnow()
        with session_scope(factory, write=True) as s:
            if workers.take_lease(s, DELIVERY_LEASE, worker, now, budget_s + DELIVERY_SLACK_S):
                return None
            holder = workers.lease_holder(s, DELIVERY_LEASE, now) or "another worker"
        if monotonic() >= deadline:
            return holder
        sleep(0.2)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _bucket_key(channel: str) -> str:
    """The state-table key of a channel's token bucket."""
    return f"ratelimit:{channel}"


class DeliveryCycle:
    """One delivery cycle: what every step shares (the database, the config, the cycle's
    ``now``, the channels' token buckets, the counts) and the steps, in :meth:`run`.

    Rows are stamped with ``now`` throughout; only the pacing clock moves (``monotonic``,
    waited on with ``sleep``). Every outbox change is committed in its own transaction
    before the next send, which is what makes a crash lose nothing."""

    def __init__(
        self,
        factory: SessionFactory,
        config: Config,
        now: datetime,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        lease_s: float = outbox.SENDING_LEASE_S,
    ) -> None:
        self.factory = factory
        self.config = config
        self.now = now
        self.sleep = sleep
        self.monotonic = monotonic
        self.tally = _Tally()
        self.limiter = ChannelLimits(dict(config.channels))
        self.lease_s = lease_s

    def run(self, budget_s: float) -> DeliveryReport:
        """Every step in order; sends for at most ``budget_s``. Returns what was done."""
        self.requeue_and_load_limits()
        self.deliver_notices()
        queues = self.plan()
        self.drain(queues, budget_s)
        self.save_limits()
        return self.finish()

    def requeue_and_load_limits(self) -> None:
        """Put back rows a crash left in ``sending``; load the stored token buckets."""
        config, now = self.config, self.now
        with session_scope(self.factory) as s:
            outbox.requeue_stale(s, now, self.lease_s, config.monitor.max_attempts)
            self.limiter.load({n: get_state(s, _bucket_key(n)) for n in config.channels}, now)

    def save_limits(self) -> None:
        """Store the token buckets for the next cycle."""
        with session_scope(self.factory) as s:
            for name, bucket in self.limiter.dump().items():
                set_state(s, _bucket_key(name), bucket, self.now)

    def finish(self) -> DeliveryReport:
        """The cycle's report, logged when anything was sent or failed."""
        report = self.tally.report()
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

    # -- operator notices ------------------------------------------------------------
    def deliver_notices(self) -> None:
        """Send due operator notices (rare: no pacing, but a blocked channel is skipped)."""
        with session_scope(self.factory) as s:
            due = outbox.claim_notices(s, self.now)
        for notice in due:
            error, retry_at = self._send_notice(notice)
            retry_at = retry_at or self.now + timedelta(seconds=backoff_s(notice.attempts))
            with session_scope(self.factory) as s:
                status = outbox.finish_notice(
                    s, notice.id, self.now, error, retry_at, self.config.monitor.max_attempts
                )
            self.tally.notices += status == "sent"
            event(log, "notice.delivery", channel=notice.channel, key=notice.key, status=status)

    def _send_notice(self, notice: outbox.Notice) -> tuple[str | None, datetime | None]:
        """Send one notice: the error (None when sent) and, if rate limited, when to retry."""
        channel = self.config.channels.get(notice.channel)
        if channel is None:
            return f"channel {notice.channel!r} is not in the config", None
        if self.limiter.wait(channel.name, self.now) > 0:
            return "channel is rate limited", self.now + timedelta(seconds=60)
        self.limiter.take(channel.name)
        try:
            send_message(channel, render_notice(notice.title, notice.body, channel))
        except DeliveryError as exc:
            return mask_text(exc.message, url_secrets(channel.url)), None
        return None, None

    # -- alerts ----------------------------------------------------------------------
    def plan(self) -> dict[str, deque[Batch]]:
        """Load the due alerts, hold what must wait, and queue message batches per channel."""
        with session_scope(self.factory) as s:
            alerts = outbox.load_alerts(s, outbox.due_alert_ids(s, self.now, PAGE))
            sources = outbox.source_counts(s, (a.article_id for a in alerts))
        by_channel: dict[str, list[Alert]] = {}
        for alert in alerts:
            by_channel.setdefault(alert.channel, []).append(alert)
        rules = {r.name: r for r in self.config.rules}
        queues: dict[str, deque[Batch]] = {}
        for name, channel_alerts in by_channel.items():
            channel = self.config.channels.get(name)
            if channel is None:
                self.fail_unknown_channel(name, channel_alerts)
                continue
            fold = self.limiter.is_limited(name)
            tz = self.config.monitor.timezone
            plan = plan_channel(channel_alerts, channel, rules, sources, self.now, tz, fold=fold)
            self._hold(plan.held)
            if plan.batches:
                queues[name] = deque(plan.batches)
        return queues

    def _hold(self, held: Mapping[int, datetime]) -> None:
        """Set aside alerts that must wait (alert id -> when to look again)."""
        with session_scope(self.factory) as s:
            outbox.hold(s, dict(held))
        self.tally.held += len(held)

    def drain(self, queues: dict[str, deque[Batch]], budget_s: float) -> None:
        """Send the queued batches round-robin for at most ``budget_s`` (token waits
        included); what is left stays pending for the next cycle."""
        start = self.monotonic()
        while queues and self.monotonic() - start < budget_s:
            clock = self.now + timedelta(seconds=self.monotonic() - start)
            progressed, waits = self._send_round(queues, clock)
            if progressed:
                continue
            if not waits or self.monotonic() - start + min(waits) > budget_s:
                break
            self.sleep(min(waits))
        self.tally.held += sum(len(b.alerts) for q in queues.values() for b in q)

    def _send_round(
        self, queues: dict[str, deque[Batch]], clock: datetime
    ) -> tuple[bool, list[float]]:
        """One batch from each channel that has a token at ``clock``; whether any was sent,
        and the waits of those that had none. Emptied channels leave ``queues``."""
        waits = []
        progressed = False
        for name in list(queues):
            wait = self.limiter.wait(name, clock)
            if wait > 0:
                waits.append(wait)
                continue
            self.limiter.take(name)
            batch = queues[name].popleft()
            ok = self.send_batch(self.config.channels[name], batch)
            progressed = True
            if not ok:  # a failing channel waits for its next attempt time
                self.tally.held += sum(len(b.alerts) for b in queues[name])
                queues[name].clear()
            if not queues[name]:
                del queues[name]
        return progressed, waits

    def send_batch(self, channel: ChannelConfig, batch: Batch) -> bool:
        """Claim, send and mark one batch; False when the channel failed."""
        with session_scope(self.factory) as s:
            claimed = set(outbox.claim(s, [a.id for a in batch.alerts], self.now))
        alerts = [replace(a, attempts=a.attempts + 1) for a in batch.alerts if a.id in claimed]
        if not alerts:
            return True
        try:
            parts = _messages(batch, alerts, channel, self.config.monitor.timezone)
        except Exception as exc:  # a hostile value the formatter cannot handle: these alerts
            # die (they would never render), with a notice; every other alert goes on
            event(log, "alert.render_failed", logging.ERROR, exc_info=exc, channel=channel.name)
            reason = f"the alert could not be rendered ({type(exc).__name__}): {exc}"
            reason = mask_text(reason[:1200], url_secrets(channel.url))[:300]  # mask, then cut
            self.record_failure(channel, alerts, DeliveryError(reason, permanent=True))
            return True
        for i, (part, message) in enumerate(parts):
            started = time.monotonic()
            try:
                message_id = send_message(channel, message, *self._progress(batch, part))
            except Exception as exc:  # DeliveryError, or a bug in a notification library
                error = exc if isinstance(exc, DeliveryError) else _unexpected(exc, channel)
                self.record_failure(channel, [a for p, _m in parts[i:] for a in p], error)
                return False
            self._mark_sent(channel, batch, part, message_id, started)
        return True

    def _progress(
        self, batch: Batch, part: Sequence[Alert]
    ) -> tuple[tuple[str, ...], Callable[[str], None] | None]:
        """For one article's message: the chats that already have it, and a recorder of
        new ones (on every row of the message). A digest or summary is regrouped on
        retry, so it is always sent whole."""
        if batch.kind not in ("single", "reply"):
            return (), None
        prior = next((a.extra["message_id"] for a in part if a.extra.get("message_id")), "")
        ids = [a.id for a in part]

        def record(message_id: str) -> None:
            with session_scope(self.factory) as s:
                outbox.record_progress(s, ids, message_id)

        return (tuple(prior.split(",")) if prior else ()), record

    def _mark_sent(
        self,
        channel: ChannelConfig,
        batch: Batch,
        part: Sequence[Alert],
        message_id: str | None,
        started: float,
    ) -> None:
        """Commit that ``part`` went out as one message (sent ``started``, monotonic)."""
        ids = [a.id for a in part]
        digest_id = min(ids) if len(ids) > 1 else None  # rows that went out as one message
        with session_scope(self.factory) as s:
            outbox.mark_sent(s, ids, self.now, message_id, digest_id)
        self.tally.sent += len(ids)
        self.tally.messages += 1
        event(
            log,
            "alert.sent",
            channel=channel.name,
            kind=batch.kind,
            alerts=len(ids),
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def record_failure(
        self, channel: ChannelConfig, alerts: Sequence[Alert], exc: DeliveryError
    ) -> None:
        """Put unsent alerts back until their retry time (a Retry-After also blocks the
        channel's bucket); those out of attempts die, with an operator notice."""
        error = mask_text(exc.message, url_secrets(channel.url))
        attempts = max(a.attempts for a in alerts)
        if exc.retry_after_s is not None:
            retry_at = self.now + timedelta(seconds=exc.retry_after_s)
            self.limiter.block(channel.name, retry_at)
        else:
            retry_at = self.now + timedelta(seconds=backoff_s(attempts))
        max_attempts = self.config.monitor.max_attempts
        with session_scope(self.factory) as s:
            ids = [a.id for a in alerts]
            dead = outbox.mark_failed(s, ids, error, retry_at, max_attempts, exc.permanent)
            if dead:
                self._notify_dead(s, channel.name, [a for a in alerts if a.id in dead], error)
        retried = tuple(a.id for a in alerts if a.id not in dead)
        self.tally.failed += len(retried)
        self.tally.dead += len(dead)
        if retried:
            self.tally.undelivered.append(
                Undelivered(channel.name, retried, False, error, retry_at)
            )
        if dead:
            self.tally.undelivered.append(Undelivered(channel.name, tuple(dead), True, error))
        # retry_at only when something will be retried: a dead alert has none.
        fields: dict[str, Any] = {
            "channel": channel.name,
            "alerts": len(alerts),
            "retried": len(retried),
            "dead": len(dead),
            "error": error,
        }
        if retried:
            fields["retry_at"] = retry_at.isoformat()
        event(log, "alert.failed", logging.WARNING, **fields)

    def fail_unknown_channel(self, name: str, alerts: Sequence[Alert]) -> None:
        """Alerts for a channel no longer in the config cannot be sent: they die, with a notice."""
        now, max_attempts = self.now, self.config.monitor.max_attempts
        with session_scope(self.factory) as s:
            ids = outbox.claim(s, [a.id for a in alerts], now)
        with session_scope(self.factory) as s:
            error = f"channel {name!r} is not in the config"
            dead = outbox.mark_failed(s, ids, error, now, max_attempts, permanent=True)
            self._notify_dead(s, name, [a for a in alerts if a.id in dead], error)
        self.tally.dead += len(dead)
        if dead:
            self.tally.undelivered.append(Undelivered(name, tuple(dead), True, error))

    def _notify_dead(
        self, session: Session, channel: str, dead: Sequence[Alert], error: str
    ) -> None:
        """One operator notice per channel per day that alerts died on (none when no alert
        died: another process may have claimed them first)."""
        operator = self.config.monitor.operator_channel
        if not operator or not dead:
            return
        notice = notices.alerts_dead(channel=channel, first=dead[0], error=error, now=self.now)
        outbox.enqueue_operator_notice(
            session, notice.key, notice.title, notice.body, operator, self.now
        )


def _unexpected(exc: Exception, channel: ChannelConfig) -> DeliveryError:
    """An exception a sender should not raise, as a retried :class:`DeliveryError`
    (masked before it is cut: a token straddling the cut is not half-shown)."""
    event(log, "alert.send_crashed", logging.ERROR, exc_info=exc)
    message = f"unexpected {type(exc).__name__} while sending: {exc}"[:1200]
    return DeliveryError(mask_text(message, url_secrets(channel.url))[:300])


def _messages(
    batch: Batch, alerts: Sequence[Alert], channel: ChannelConfig, tz: str
) -> list[tuple[tuple[Alert, ...], Message]]:
    """The messages of a batch, each with the alerts it carries (a digest may be split)."""
    if batch.kind == "single":  # one article: the rows of every rule that matched it
        return [(tuple(alerts), render_alert(alerts, channel, tz))]
    if batch.kind == "reply":  # later outlets of a story, answering its first alert
        return [(tuple(alerts), render_reply(alerts, channel, tz))]
    whole = len(alerts) == len(batch.alerts)
    return render_digest_parts(
        alerts, channel, tz, batch.heading if whole else heading(batch.kind, alerts)
    )
