"""The alert outbox and the operator notices: every read and write of their rows.

Lifecycle of an alert row: pending -> sending (claimed; ``attempts`` + 1) -> sent, or
back to pending with a later ``next_attempt_at``, or dead. Each function changes rows
in the caller's session; the caller commits after each step, so a crash at any moment
loses nothing: a row left in ``sending`` is put back by :func:`requeue_stale` once its
claim is older than :data:`SENDING_LEASE_S`, and sent again (at most one duplicate per
message in flight). Alert rows are created by :mod:`monitor.store.articles` in the
match transaction; this module never inserts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.orm import Session

from monitor.records import Alert
from monitor.store import stories, vocab
from monitor.store.articles import evidence_from_json
from monitor.store.feeds import source_name
from monitor.store.schema import (
    AlertRow,
    ArticleRow,
    FeedRow,
    MatchRow,
    OperatorNoticeRow,
    insert_ignoring,
)

SENDING_LEASE_S = 300.0
"""How long a claim (a row in ``sending``) is the claimer's own. Only an older claim is
taken for an interrupted send and re-queued: a ``monitor run --once`` beside the daemon
(or a daemon restarted after a crash) never re-sends what another process is sending
right now. A claim lasts one batch: a delivery cycle sends for at most about 10 s
(``delivery.PACE_BUDGET_S``) plus the batch in flight, each message bounded by its
channel's timeout (Telegram 15 s a request, apprise's plugins their own, most under
30 s); 300 s is more than twice that. The cost: the one message in flight when a
process was killed goes out again up to 5 minutes later, not at once."""


@dataclass(frozen=True, slots=True)
class Notice:
    """An operator notice to deliver."""

    id: int
    key: str
    channel: str
    title: str
    body: str
    attempts: int


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched. ``Session.execute`` is typed to return any ``Result``; for
    an UPDATE without RETURNING it is a ``CursorResult``, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"an UPDATE returned {type(result).__name__}, not a CursorResult")
    return result.rowcount


def requeue_stale(session: Session, now: datetime, older_than_s: float, max_attempts: int) -> int:
    """Put rows left in ``sending`` since before ``now - older_than_s`` back to pending
    (dead once they used up their attempts); return how many. Callers pass
    :data:`SENDING_LEASE_S`: a younger claim may be another process's send in flight."""
    cutoff = now - timedelta(seconds=older_than_s)
    stale = AlertRow.status == "sending", AlertRow.claimed_at < cutoff
    dead = _rowcount(
        session.execute(
            update(AlertRow)
            .where(*stale, AlertRow.attempts >= max_attempts)
            .values(status="dead", last_error="interrupted while sending, attempts used up")
        )
    )
    back = _rowcount(
        session.execute(
            update(AlertRow).where(*stale).values(status="pending", next_attempt_at=now)
        )
    )
    notices = _rowcount(
        session.execute(
            update(OperatorNoticeRow)
            .where(
                OperatorNoticeRow.status == "sending", OperatorNoticeRow.next_attempt_at < cutoff
            )
            .values(status="pending", next_attempt_at=now)
        )
    )
    return dead + back + notices


def due_alert_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Ids of pending alerts due at ``now``: high priority first, then oldest first."""
    stmt = (
        select(AlertRow.id)
        .where(AlertRow.status == "pending", AlertRow.next_attempt_at <= now)
        .order_by((AlertRow.priority == "high").desc(), AlertRow.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def load_alerts(session: Session, ids: Sequence[int]) -> list[Alert]:
    """:class:`Alert` records for ``ids`` (with article, source and evidence), in id order."""
    if not ids:
        return []
    stmt = (
        select(AlertRow, ArticleRow, FeedRow, MatchRow)
        .join(ArticleRow, ArticleRow.id == AlertRow.article_id)
        .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
        .outerjoin(
            MatchRow,
            (MatchRow.rule == AlertRow.rule) & (MatchRow.article_id == AlertRow.article_id),
        )
        .where(AlertRow.id.in_(list(ids)))
        .order_by(AlertRow.id)
    )
    alerts = [_to_alert(*row) for row in session.execute(stmt)]
    return _with_stories(session, alerts)


def _with_stories(session: Session, alerts: list[Alert]) -> list[Alert]:
    """The alerts with their stories' other outlets and languages, and for a "story" row
    the message ids of the alert it answers (None while that one is not sent)."""
    covered = stories.coverage(session, (a.story_id for a in alerts if a.story_id is not None))
    targets = [a.reply_to for a in alerts if a.reply_to is not None]
    sent: dict[int, str | None] = {}
    for start in range(0, len(targets), 500):
        chunk = targets[start : start + 500]
        for target_id, status, message_id in session.execute(
            select(AlertRow.id, AlertRow.status, AlertRow.message_id).where(AlertRow.id.in_(chunk))
        ):
            # sent: its ids; dead: "" (the reply goes alone); else None (wait for it)
            sent[target_id] = (
                (message_id or "") if status == "sent" else ("" if status == "dead" else None)
            )
    out = []
    for a in alerts:
        story = covered.get(a.story_id) if a.story_id is not None else None
        if story is not None:
            others, languages = story.besides(a.source)
            a = replace(a, story_sources=others, story_languages=languages)
        if a.reply_to is not None:
            a = replace(a, reply_to_message=sent.get(a.reply_to, ""))
        out.append(a)
    return out


def _to_alert(row: AlertRow, article: ArticleRow, feed: FeedRow, match: MatchRow | None) -> Alert:
    return Alert(
        id=row.id,
        rule=row.rule,
        channel=row.channel,
        status=vocab.alert_status(row.status),
        attempts=row.attempts,
        article_id=row.article_id,
        title=article.title,
        link=article.link,
        source=source_name(feed.name, feed.title, feed.url),
        published=article.published_at,
        text=article.text,
        evidence=evidence_from_json(match.evidence if match else None),
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        priority=vocab.priority(row.priority),
        delivery=vocab.delivery_mode(row.delivery),
        extra={"message_id": row.message_id} if row.message_id else {},
        kind=vocab.alert_kind(row.kind),
        story_id=article.story_id,
        reply_to=row.reply_to,
        title_before=_title_before(article, row),
    )


def _title_before(article: ArticleRow, row: AlertRow) -> str | None:
    """For an "update" row: the headline the article had before its latest edit."""
    if row.kind != "update" or not article.title_history:
        return None
    last = article.title_history[-1]
    return str(last.get("title", "")) if isinstance(last, dict) else None


def source_counts(session: Session, article_ids: Iterable[int]) -> dict[int, int]:
    """Distinct feeds that carried each article's story: the feeds of its articles and
    their sightings (``min_sources`` counts outlets of the story, not copies of a link)."""
    ids = list(set(article_ids))
    if not ids:
        return {}
    story_of: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for art_id, story_id in session.execute(
            select(ArticleRow.id, ArticleRow.story_id).where(ArticleRow.id.in_(chunk))
        ):
            story_of[art_id] = story_id or art_id
    covered = stories.coverage(session, story_of.values())
    return {a: covered[s].feeds if s in covered else 1 for a, s in story_of.items()}


def hold(session: Session, until: dict[int, datetime]) -> None:
    """Leave held pending alerts alone until the given times."""
    for alert_id, at in until.items():
        session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, AlertRow.status == "pending")
            .values(next_attempt_at=at)
        )


def claim(session: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Mark pending ``ids`` as sending (one attempt more); return the ids claimed."""
    claimed: list[int] = []
    for alert_id in ids:
        done = _rowcount(
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.status == "pending")
                .values(status="sending", claimed_at=now, attempts=AlertRow.attempts + 1)
            )
        )
        if done:
            claimed.append(alert_id)
    return claimed


def mark_sent(
    session: Session,
    ids: Sequence[int],
    now: datetime,
    message_id: str | None = None,
    digest_id: int | None = None,
) -> None:
    """Record that ``ids`` were delivered (``digest_id`` when folded into one message)."""
    session.execute(
        update(AlertRow)
        .where(AlertRow.id.in_(list(ids)))
        .values(
            status="sent",
            sent_at=now,
            message_id=message_id,
            digest_id=digest_id,
            last_error=None,
            next_attempt_at=None,
        )
    )


def record_progress(session: Session, ids: Sequence[int], message_id: str) -> None:
    """Remember what part of a message already went out (chats of a multi-chat URL),
    so a retry after a failure or a crash does not send it there again."""
    session.execute(
        update(AlertRow)
        .where(AlertRow.id.in_(list(ids)), AlertRow.status == "sending")
        .values(message_id=message_id)
    )


def mark_failed(
    session: Session,
    ids: Sequence[int],
    error: str,
    retry_at: datetime,
    max_attempts: int,
    permanent: bool = False,
) -> list[int]:
    """Send ``ids`` back to pending until ``retry_at``; return those now dead
    (attempts used up, or ``permanent``)."""
    rows = session.scalars(select(AlertRow).where(AlertRow.id.in_(list(ids)))).all()
    dead = []
    for row in rows:
        row.last_error = error
        row.claimed_at = None
        if permanent or row.attempts >= max_attempts:
            row.status, row.next_attempt_at = "dead", None
            dead.append(row.id)
        else:
            row.status, row.next_attempt_at = "pending", retry_at
    return dead


def enqueue_operator_notice(
    session: Session, key: str, title: str, body: str, channel: str, now: datetime
) -> bool:
    """Queue a notice for the operator unless one with ``key`` exists; True when queued.
    ``INSERT … ON CONFLICT DO NOTHING``: of two workers queueing one notice, one does."""
    queued = session.execute(
        insert_ignoring(session, OperatorNoticeRow)
        .values(
            key=key,
            channel=channel,
            title=title,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(OperatorNoticeRow.id)
    ).first()
    return queued is not None


def claim_notices(session: Session, now: datetime, limit: int = 20) -> list[Notice]:
    """Claim due pending notices (sending; ``next_attempt_at`` holds the claim time,
    as ``claimed_at`` does for alerts, so :func:`requeue_stale` can tell stale ones).
    Each is claimed by a conditional UPDATE, as alerts are: of two workers claiming at
    once, one gets it."""
    rows = session.scalars(
        select(OperatorNoticeRow)
        .where(OperatorNoticeRow.status == "pending", OperatorNoticeRow.next_attempt_at <= now)
        .order_by(OperatorNoticeRow.id)
        .limit(limit)
    ).all()
    claimed: list[Notice] = []
    for r in rows:
        done = _rowcount(
            session.execute(
                update(OperatorNoticeRow)
                .where(OperatorNoticeRow.id == r.id, OperatorNoticeRow.status == "pending")
                .values(
                    status="sending",
                    attempts=OperatorNoticeRow.attempts + 1,
                    next_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if done:
            claimed.append(
                Notice(
                    id=r.id,
                    key=r.key,
                    channel=r.channel,
                    title=r.title,
                    body=r.body,
                    attempts=r.attempts + 1,
                )
            )
    return claimed


def finish_notice(
    session: Session,
    notice_id: int,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
    max_attempts: int = 8,
) -> Literal["sent", "dead", "pending", "gone"]:
    """Record a notice's outcome (sent when ``error`` is None); return its new status
    (``gone`` when the notice no longer exists)."""
    row = session.get(OperatorNoticeRow, notice_id)
    if row is None:
        return "gone"
    if error is None:
        row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", now, None, None
        return "sent"
    if row.attempts >= max_attempts:
        row.status, row.last_error, row.next_attempt_at = "dead", error, None
        return "dead"
    row.status, row.last_error, row.next_attempt_at = "pending", error, retry_at
    return "pending"


def retry_alerts(
    session: Session, now: datetime, ids: Sequence[int] = (), dead: bool = False
) -> int:
    """Make ``ids`` (or every dead alert) pending again with fresh attempts; return how many.

    Sent alerts are never resent by this (that would duplicate them)."""
    stmt = update(AlertRow).where(AlertRow.status.in_(("dead", "pending")))
    which = AlertRow.status == "dead" if dead else AlertRow.id.in_(list(ids))
    stmt = stmt.where(which)
    stmt = stmt.values(status="pending", attempts=0, next_attempt_at=now, claimed_at=None)
    return _rowcount(session.execute(stmt))
