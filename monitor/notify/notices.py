"""The wording of operator notices: their dedup key, title and body, in one place. No I/O.

Each function takes plain values and returns a :class:`NoticeText`; the caller queues it
with :func:`monitor.store.outbox.enqueue_operator_notice`, which drops a second notice
with the same key. The key therefore says how often a notice may come: once per
breakage of a feed (the minute it started failing), once per recovery, and once per
channel per day that alerts died on. Texts and keys are a contract: operators filter
on them. Every title, body and key is masked (:func:`~monitor.secrets.mask_text`): the
outbox row is stored and the notice sent, so no secret of a feed URL or an error may be
in it. A key names a feed by its masked URL, plus a short digest of the real URL when
masking changed it (two feeds that differ only in a token keep two keys).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.errors import FetchErrorKind
from monitor.records import Alert
from monitor.secrets import mask_text, mask_url, url_secrets


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What an operator notice says; ``key`` deduplicates it in the outbox. Build it with
    :func:`notice` (masked)."""

    key: str
    title: str
    body: str


def notice(key: str, title: str, body: str, url: str = "") -> NoticeText:
    """A :class:`NoticeText` with title and body masked, the literal secrets of the feed's
    ``url`` too (its password may stand in a source name); a key names a feed by
    :func:`feed_key`, masked already."""
    secrets = url_secrets(url) if url else ()
    return NoticeText(key=key, title=mask_text(title, secrets), body=mask_text(body, secrets))


def feed_key(url: str) -> str:
    """A feed in a notice key: its URL masked, plus 12 hex digits of a digest of the real
    URL when masking changed it (the database already holds that URL: ``feeds.url``)."""
    masked = mask_url(url)
    if masked == url:
        return url
    return f"{masked}#{hashlib.blake2b(url.encode(), digest_size=6).hexdigest()}"


def feed_broken(
    *,
    source: str,
    url: str,
    error_since: datetime,
    kind: FetchErrorKind,
    message: str,
    tz: str,
) -> NoticeText:
    """A feed has failed since ``error_since`` (shown in ``tz``) with ``kind: message``."""
    return notice(
        key=f"feed-broken:{feed_key(url)}:{error_since.isoformat(timespec='minutes')}",
        title=f"Feed broken: {source}",
        body=(
            f"Feed {source} ({mask_url(url)}) broken since {local_time(error_since, tz)}: "
            f"{kind}: {message}"
        ),
        url=url,
    )


def feed_recovered(*, source: str, url: str, now: datetime) -> NoticeText:
    """A feed that was reported broken works again (as of ``now``)."""
    return notice(
        key=f"feed-recovered:{feed_key(url)}:{now.isoformat(timespec='minutes')}",
        title=f"Feed recovered: {source}",
        body=f"Feed {source} ({mask_url(url)}) works again.",
        url=url,
    )


def alerts_dead(*, channel: str, first: Alert, error: str, now: datetime) -> NoticeText:
    """Alerts died on ``channel`` (``first`` is named, ``error`` already masked); one a day."""
    return notice(
        key=f"alert-dead:{channel}:{now:%Y-%m-%d}",
        title=f"press-monitor: alerts undeliverable on channel {channel}",
        body=(
            f"Alert {first.id} (rule {first.rule}: {first.title[:200]}) could not be delivered "
            f"to channel {channel} after {first.attempts} attempt(s): {error}\n"
            "List them: monitor alerts --status dead; once fixed: monitor alerts retry --dead"
        ),
    )


def local_time(when: datetime, tz: str) -> str:
    """``2026-01-07 08:12 EET``: a time as the operator reads it."""
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
