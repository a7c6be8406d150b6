"""Work sharing between ``monitor run`` processes on one database (issue 16).

Several workers (daemons, ``run --once``) may share a database — on PostgreSQL on
several hosts. Three rules keep them from doing one piece of work twice:

- **A feed is polled by one worker at a time.** :func:`claim_feeds` takes due feeds
  with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers claiming at the same moment
  never get the same feed, and neither waits for the other) and stamps them with a
  lease: ``feeds.lease_owner`` and ``lease_until``. Recording the poll's outcome
  gives the lease back (:mod:`monitor.store.feeds`); a worker renews the leases it
  holds while it works (:func:`renew`); a killed worker's lapse and its feeds are due
  to the next worker that looks. SQLite has no ``FOR UPDATE``: there the claim runs
  under the database's one write lock, which serialises claims just as well.
- **A job only one worker should do** (delivery, housekeeping) is a named lease in
  the ``leases`` table (:func:`take_lease`): taken by a conditional ``UPDATE`` (or
  the first ``INSERT``), which the database serialises.
- **Every worker is a row** (``workers``): its host, pid, heartbeat (``seen_at``) and
  last cycle, for ``monitor status`` and ``/metrics``. A worker counts as alive while
  its heartbeat is younger than its lease.

The rows here are runtime state, not history: ``db migrate-to`` does not copy them.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.store.schema import FeedRow, LeaseRow, WorkerRow, insert_ignoring

WorkerMode = Literal["daemon", "once"]
MAX_ID_CHARS = 160  # workers.id, feeds.lease_owner
DELIVERY_LEASE = "delivery"  # one deliverer at a time (monitor.delivery)


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    """Who this process is to the other workers."""

    id: str
    host: str
    pid: int
    mode: WorkerMode


def identity(mode: WorkerMode) -> WorkerIdentity:
    """This process as a worker: ``host:pid:token`` (the token tells a restarted
    process that got the same pid from its predecessor)."""
    host = (socket.gethostname() or "localhost")[:100]
    pid = os.getpid()
    return WorkerIdentity(f"{host}:{pid}:{secrets.token_hex(3)}"[:MAX_ID_CHARS], host, pid, mode)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker as ``status`` and ``/metrics`` show it."""

    id: str
    host: str
    pid: int
    mode: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    last_cycle_at: datetime | None
    last_cycle_feeds: int | None
    last_cycle_new: int | None
    last_cycle_ms: int | None
    feed_leases: int  # feeds it holds right now
    leases: tuple[str, ...]  # named leases it holds right now (delivery, housekeeping)

    def alive(self, now: datetime, lease_s: float) -> bool:
        """Heard from within its lease and not stopped."""
        return self.stopped_at is None and self.seen_at >= now - timedelta(seconds=lease_s)


def heartbeat(session: Session, me: WorkerIdentity, now: datetime) -> None:
    """Insert or refresh this worker's row (``seen_at`` = ``now``)."""
    row = session.get(WorkerRow, me.id)
    if row is None:
        session.add(
            WorkerRow(id=me.id, host=me.host, pid=me.pid, mode=me.mode, started_at=now, seen_at=now)
        )
        session.flush()
    else:
        row.seen_at, row.stopped_at = now, None


def record_cycle(
    session: Session, me: WorkerIdentity, now: datetime, *, feeds: int, new: int, ms: int
) -> None:
    """This worker finished a poll cycle."""
    heartbeat(session, me, now)
    row = session.get_one(WorkerRow, me.id)
    row.last_cycle_at, row.last_cycle_feeds, row.last_cycle_new, row.last_cycle_ms = (
        now,
        feeds,
        new,
        ms,
    )


def stopped(session: Session, me: WorkerIdentity, now: datetime) -> None:
    """This worker is going away: its row says so and what it held is given back."""
    session.execute(update(WorkerRow).where(WorkerRow.id == me.id).values(stopped_at=now))
    release_feeds(session, me.id)
    session.execute(
        update(LeaseRow).where(LeaseRow.owner == me.id).values(until=now)
    )  # lapsed at once: the next worker takes it


def others_alive(session: Session, me: WorkerIdentity, now: datetime, lease_s: float) -> int:
    """How many other workers have been heard from within ``lease_s``."""
    cutoff = now - timedelta(seconds=lease_s)
    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkerRow)
            .where(
                WorkerRow.id != me.id, WorkerRow.stopped_at.is_(None), WorkerRow.seen_at >= cutoff
            )
        )
        or 0
    )


def _claimable(owner: str, now: datetime, own: bool) -> ColumnElement[bool]:
    free = or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now)
    return or_(free, FeedRow.lease_owner == owner) if own else free


def claim_feeds(
    session: Session,
    owner: str,
    now: datetime,
    lease_s: float,
    limit: int,
    *,
    due_at: datetime | None,
    checked_before: datetime | None = None,
    own: bool = False,
) -> list[int]:
    """Claim up to ``limit`` active feeds no other worker holds, most overdue first:
    due at ``due_at`` (None: any), and with ``checked_before`` only those not checked
    since then (``run --once``: each feed once however the cycles of several workers
    overlap). Return their ids; the caller reads their states in the same transaction.

    ``own``: take this worker's own leases too (the first claim of a cycle: a cycle that
    ended on a database failure left them). Later claims of a cycle leave them: a feed
    whose outcome could not be recorded keeps its lease and is not polled twice."""
    q = (
        select(FeedRow.id)
        .where(FeedRow.active == 1, _claimable(owner, now, own))
        .order_by(FeedRow.next_check_at, FeedRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if due_at is not None:
        q = q.where(or_(FeedRow.next_check_at.is_(None), FeedRow.next_check_at <= due_at))
    if checked_before is not None:
        q = q.where(
            or_(FeedRow.last_checked_at.is_(None), FeedRow.last_checked_at < checked_before)
        )
    ids = list(session.scalars(q))
    if ids:
        session.execute(
            update(FeedRow)
            .where(FeedRow.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
    return ids


def renew(session: Session, me: WorkerIdentity, now: datetime, lease_s: float) -> int:
    """Extend every lease this worker holds (feeds and named jobs); refresh its
    heartbeat. Return the number of feeds it holds."""
    until = now + timedelta(seconds=lease_s)
    heartbeat(session, me, now)
    held = session.execute(
        update(FeedRow).where(FeedRow.lease_owner == me.id).values(lease_until=until)
    )
    return int(getattr(held, "rowcount", 0) or 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, run by another user
        return True
    return True


def _dead_here(owner: str, me: WorkerIdentity) -> bool:
    """``owner`` (``host:pid:token``) ran on this host and its process is gone."""
    host, sep, rest = owner.rpartition(":")[0].rpartition(":")
    if owner == me.id or not sep or host != me.host:
        return False
    try:
        pid = int(rest)
    except ValueError:
        return False
    return pid != me.pid and not _pid_alive(pid)


def reap_dead_here(
    session: Session, me: WorkerIdentity, now: datetime, jobs: Sequence[str] = ()
) -> list[str]:
    """Give back the feeds (and the named ``jobs``) that workers of this host whose
    process no longer exists still hold: a daemon SIGKILLed or crashed, a ``run --once``
    stopped by a full disk. Without this its successor — systemd's restart, the next
    ``run --once`` — skipped those feeds until the lease lapsed. A worker on another
    host cannot be checked this way and its leases lapse by themselves. (Workers that
    share a host name must share a pid namespace: two containers with one host name
    would see each other's processes as gone.) Return the owners reaped."""
    like = f"{me.host}:%"
    owners = set(
        session.scalars(
            select(FeedRow.lease_owner)
            .where(FeedRow.lease_owner.like(like), FeedRow.lease_until >= now)
            .distinct()
        )
    )
    if jobs:
        owners |= set(
            session.scalars(
                select(LeaseRow.owner).where(
                    LeaseRow.name.in_(list(jobs)), LeaseRow.owner.like(like), LeaseRow.until >= now
                )
            )
        )
    dead = sorted(o for o in owners if o is not None and _dead_here(o, me))
    if dead:
        session.execute(
            update(FeedRow)
            .where(FeedRow.lease_owner.in_(dead))
            .values(lease_owner=None, lease_until=None)
        )
        if jobs:
            session.execute(
                update(LeaseRow)
                .where(LeaseRow.name.in_(list(jobs)), LeaseRow.owner.in_(dead))
                .values(until=now)
            )
    return dead


def release_feeds(session: Session, owner: str, ids: Sequence[int] | None = None) -> None:
    """Give back the feed leases ``owner`` holds (only ``ids`` when given)."""
    q = update(FeedRow).where(FeedRow.lease_owner == owner)
    if ids is not None:
        if not ids:
            return
        q = q.where(FeedRow.id.in_(list(ids)))
    session.execute(q.values(lease_owner=None, lease_until=None))


def take_lease(session: Session, name: str, owner: str, now: datetime, lease_s: float) -> bool:
    """Take (or keep) the named lease until ``now + lease_s``; False when another live
    worker holds it. One conditional UPDATE, or the INSERT of the first taker: the
    database decides between two workers asking at once."""
    until = now + timedelta(seconds=lease_s)
    taken = session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, or_(LeaseRow.owner == owner, LeaseRow.until < now))
        .values(owner=owner, until=until, taken_at=now)
    )
    if getattr(taken, "rowcount", 0):
        return True
    inserted = session.execute(
        insert_ignoring(session, LeaseRow)
        .values(name=name, owner=owner, until=until, taken_at=now)
        .returning(LeaseRow.name)
    ).first()
    return inserted is not None  # None: another worker holds it (or inserted it first)


def release_lease(session: Session, name: str, owner: str, now: datetime) -> None:
    """Give the named lease back (it lapses now) if ``owner`` holds it."""
    session.execute(
        update(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner).values(until=now)
    )


def lease_holder(session: Session, name: str, now: datetime) -> str | None:
    """Who holds the named lease now (None: nobody)."""
    row = session.get(LeaseRow, name)
    return row.owner if row is not None and row.until >= now else None


def workers(session: Session, now: datetime, *, since: datetime) -> list[WorkerInfo]:
    """Workers heard from since ``since``, newest heartbeat first, with what they hold."""
    held = dict(
        session.execute(
            select(FeedRow.lease_owner, func.count())
            .where(FeedRow.lease_owner.is_not(None), FeedRow.lease_until >= now)
            .group_by(FeedRow.lease_owner)
        ).all()
    )
    named: dict[str, list[str]] = {}
    for lease in session.scalars(select(LeaseRow).where(LeaseRow.until >= now)):
        named.setdefault(lease.owner, []).append(lease.name)
    rows = session.scalars(
        select(WorkerRow).where(WorkerRow.seen_at >= since).order_by(WorkerRow.seen_at.desc())
    )
    return [
        WorkerInfo(
            id=r.id,
            host=r.host,
            pid=r.pid,
            mode=r.mode,
            started_at=r.started_at,
            seen_at=r.seen_at,
            stopped_at=r.stopped_at,
            last_cycle_at=r.last_cycle_at,
            last_cycle_feeds=r.last_cycle_feeds,
            last_cycle_new=r.last_cycle_new,
            last_cycle_ms=r.last_cycle_ms,
            feed_leases=int(held.get(r.id, 0)),
            leases=tuple(sorted(named.get(r.id, []))),
        )
        for r in rows
    ]


def forget_workers(session: Session, before: datetime) -> int:
    """Drop the rows of workers not heard from since ``before`` (housekeeping)."""
    done = session.execute(delete(WorkerRow).where(WorkerRow.seen_at < before))
    return int(getattr(done, "rowcount", 0) or 0)
