"""``monitor alerts`` (list, retry) and ``monitor notify test CHANNEL``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from monitor.cli import ops
from monitor.cli.context import Context
from monitor.cli.output import char_width, csv_text, fit, terminal_width
from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.notify.format import format_time, render_alert
from monitor.notify.send import send_message
from monitor.records import ALERT_STATUSES, Alert, AlertStatus, Evidence
from monitor.secrets import mask_text, url_secrets
from monitor.store import db, outbox, state, views
from monitor.store.db import session_scope
from monitor.store.story_views import StoryTag, alert_stories
from monitor.text import scrub_line

TEST_LINK = "https://github.com/press-monitor/press-monitor"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``alerts``, ``alerts retry`` and ``notify test``."""
    p = sub.add_parser("alerts", help="recent alerts and their delivery state")
    p.add_argument(
        "--status",
        choices=(*ALERT_STATUSES, "held"),
        help="only alerts in this state (held: pending, first try later)",
    )
    p.add_argument(
        "--limit", type=count, default=20, metavar="N", help="how many, 1 or more (default: 20)"
    )
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--wide", action="store_true", help="every column, nothing cut")
    shape.add_argument("--json", action="store_true", help="print JSON (every field)")
    shape.add_argument("--csv", action="store_true", help="print CSV (every field)")
    p.set_defaults(handler=cmd_alerts)
    asub = p.add_subparsers(dest="alerts_command", metavar="ALERTS_COMMAND")
    r = asub.add_parser("retry", help="deliver again: one alert by id, or every dead one")
    r.add_argument("id", nargs="?", type=int, help="alert id (see 'monitor alerts')")
    r.add_argument("--dead", action="store_true", help="every dead alert")
    r.set_defaults(handler=cmd_retry)

    n = sub.add_parser("notify", help="channel tools")
    nsub = n.add_subparsers(dest="notify_command", metavar="NOTIFY_COMMAND", required=True)
    t = nsub.add_parser("test", help="send a test message to a channel and say what failed")
    t.add_argument("channel", help="a channel name from [channels]")
    t.set_defaults(handler=cmd_notify_test)


MAX_LIMIT = 1_000_000_000


def count(text: str) -> int:
    """An ``argparse`` type: a whole number of 1 or more (``--limit 0`` used to print one
    row silently; there is no "0 = all" anywhere in the CLI)."""
    digits = text.strip()
    value = int(digits[:20]) if digits.isdecimal() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    # more than anything stored means all of it (a 2**63 limit crashed the SQL bind)
    return min(value, MAX_LIMIT)


def _secrets(config: Config) -> tuple[str, ...]:
    return tuple(s for c in config.channels.values() for s in url_secrets(c.url))


def shown_status(line: views.AlertLine, now: datetime) -> AlertStatus | Literal["held"]:
    """The outbox status, except ``held`` for a pending alert never tried whose first
    attempt lies in the future (quiet hours, a digest slot, waiting for more sources). No I/O."""
    if (
        line.status == "pending"
        and line.attempts == 0
        and line.next_attempt_at is not None
        and line.next_attempt_at > now
    ):
        return "held"
    return line.status


def next_try(line: views.AlertLine, tz: str) -> str:
    """When a pending alert will next be tried, in ``tz`` with the zone name; "-" otherwise."""
    if line.status != "pending":
        return "-"
    return format_time(line.next_attempt_at, tz) or "-"


def cmd_alerts(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor alerts [--status S] [--limit N] [--wide | --json | --csv]``: newest
    first, secrets masked.

    The table fits the terminal (``COLUMNS``, else its width, else 80 columns): ID, TIME,
    RULE, STATUS, STORY (the story id), TITLE and LINK, the last two cut to what is left.
    ``--wide`` has every column whole: CHANNEL, ATT, NEXT TRY (when a pending alert will
    next be tried; ``held`` marks one not tried yet because its first attempt is scheduled
    later), LAST ERROR and STORY with its outlets (``#12 3 outlets``: see ``monitor
    stories``). ``--json`` and ``--csv`` carry every field, times in ISO 8601 (UTC)."""
    config = ctx.config()
    tz = config.monitor.timezone
    secrets = _secrets(config)
    now = datetime.now(UTC)
    with session_scope(ctx.session_factory()) as s:
        lines = views.recent_alerts(s, args.status, args.limit, now)
        counts = views.alert_status_counts(s)
        stories = alert_stories(s, [a.id for a in lines])
    if args.json or args.csv:
        rows = [alert_record(a, stories.get(a.id), now, secrets) for a in lines]
        if args.json:
            print(json.dumps({"alerts": rows, "counts": counts}, ensure_ascii=False, indent=2))
        else:
            write_alerts_csv(sys.stdout, rows)
        return 0
    totals = " · ".join(f"{status} {n}" for status, n in counts.items())
    if not lines:  # a bare header would read as a broken listing
        print(f"no {args.status + ' ' if args.status else ''}alerts ({totals})")
        return 0
    table = wide_table if args.wide else narrow_table
    for line in table(lines, stories, tz, now, secrets):
        print(line)
    print(totals)
    return 0


def wide_table(
    lines: list[views.AlertLine],
    stories: dict[int, StoryTag],
    tz: str,
    now: datetime,
    secrets: tuple[str, ...],
) -> Iterator[str]:
    """``--wide``: every column whole, nothing cut (the table of 0.1 with LINK added at
    the end); each column as wide as its widest cell."""
    cells = [
        (
            str(a.id),
            format_time(a.created_at, tz) or "",
            _clean(a.rule),
            _clean(a.channel),
            shown_status(a, now),
            str(a.attempts),
            next_try(a, tz),
            _clean(mask_text(a.last_error or "-", secrets)),
            story_cell(stories.get(a.id)),
            _clean(a.title),
            _clean(a.link or "-"),
        )
        for a in lines
    ]
    heads = (
        "ID", "TIME", "RULE", "CHANNEL", "STATUS", "ATT", "NEXT TRY", "LAST ERROR", "STORY",
        "TITLE", "LINK",
    )  # fmt: skip
    widths = [max(_width(h), *(_width(c[i]) for c in cells)) for i, h in enumerate(heads)]
    right = {0, 5}  # ID and ATT
    for row in [heads, *cells]:
        yield "  ".join(
            " " * (w - _width(v)) + v if i in right else _pad(v, w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()


def _width(text: str) -> int:
    return sum(map(char_width, text))


def narrow_table(
    lines: list[views.AlertLine],
    stories: dict[int, StoryTag],
    tz: str,
    now: datetime,
    secrets: tuple[str, ...],
) -> Iterator[str]:
    """The default: ID, TIME (``MM-DD HH:MM`` in the config's zone, named in the header),
    RULE, STATUS, STORY, TITLE, LINK in the terminal's width; title and link share what
    the others leave (3 : 2), each cut with an ellipsis (``--wide``/``--json`` whole)."""
    width = terminal_width()
    zone = (format_time(now, tz) or "").rsplit(" ", 1)[-1]
    cells = [
        (
            str(a.id),
            _short_time(a.created_at, tz),
            _clean(a.rule),
            shown_status(a, now),
            f"#{stories[a.id].story_id}" if a.id in stories else "-",
            _clean(a.title),
            _clean(a.link or "-"),
        )
        for a in lines
    ]
    heads = ("ID", f"TIME {zone}".strip(), "RULE", "STATUS", "STORY")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    widths[2] = min(widths[2], 14)
    rest = max(20, width - sum(widths) - 2 * (len(widths) + 1))
    title_w = max(8, rest * 3 // 5)
    link_w = max(8, rest - title_w)
    fixed = "  ".join(
        f"{h:<{w}}" if i else f"{h:>{w}}"
        for i, (h, w) in enumerate(zip(heads, widths, strict=True))
    )
    yield fit(f"{fixed}  {'TITLE':<{title_w}}  LINK", width)
    for c in cells:
        parts = [
            f"{fit(v, w):<{w}}" if i else f"{v:>{w}}"
            for i, (v, w) in enumerate(zip(c[:5], widths, strict=True))
        ]
        line = f"{'  '.join(parts)}  {_pad(fit(c[5], title_w), title_w)}  {fit(c[6], link_w)}"
        yield fit(line.rstrip(), width)


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (wide characters count twice)."""
    return text + " " * max(0, width - sum(map(char_width, text)))


def _short_time(at: datetime, tz: str) -> str:
    """``12-03 14:05`` in ``tz`` (the zone is named in the header)."""
    shown = format_time(at, tz) or ""
    return shown[5:16]


def _clean(text: str) -> str:
    """A stored string as one printable line (controls, bidi, newlines gone)."""
    return scrub_line(text)


ALERT_COLUMNS = (
    "id",
    "created_at",
    "rule",
    "channel",
    "status",
    "outbox_status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "last_error",
    "article_id",
    "story_id",
    "story_outlets",
    "title",
    "link",
)
"""The keys of ``alerts --json`` rows and the header of ``--csv`` (stable; new ones may
be added at the end)."""


def alert_record(
    a: views.AlertLine, tag: StoryTag | None, now: datetime, secrets: tuple[str, ...]
) -> dict[str, Any]:
    """One alert for ``--json``/``--csv``: :data:`ALERT_COLUMNS`. ``status`` is what the
    table shows (``held`` included), ``outbox_status`` the stored one. No I/O."""
    return {
        "id": a.id,
        "created_at": _iso(a.created_at),
        "rule": a.rule,
        "channel": a.channel,
        "status": shown_status(a, now),
        "outbox_status": a.status,
        "attempts": a.attempts,
        "next_attempt_at": _iso(a.next_attempt_at) if a.status == "pending" else None,
        "sent_at": _iso(a.sent_at),
        "last_error": mask_text(scrub_line(a.last_error), secrets) if a.last_error else None,
        "article_id": a.article_id,
        "story_id": tag.story_id if tag else None,
        "story_outlets": tag.outlets if tag else None,
        "title": scrub_line(a.title),
        "link": mask_text(a.link) if a.link else None,
    }


def write_alerts_csv(out: TextIO, rows: list[dict[str, Any]]) -> None:
    """``--csv``: :data:`ALERT_COLUMNS` as the header, one row per alert (the csv module
    quotes; stored text is scrubbed to one line and never starts a formula)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ALERT_COLUMNS)
    text = {"rule", "channel", "title", "last_error"}
    for row in rows:
        writer.writerow(
            [
                ""
                if row[k] is None
                else csv_text(str(row[k]))
                if k in text
                else str(row[k]).lower()
                if isinstance(row[k], bool)
                else str(row[k])
                for k in ALERT_COLUMNS
            ]
        )


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def story_cell(tag: StoryTag | None) -> str:
    """``#12 3 outlets`` (``1 outlet``), or ``-`` for an alert whose article is gone. No I/O."""
    if tag is None:
        return "-"
    return f"#{tag.story_id} {tag.outlets} outlet{'' if tag.outlets == 1 else 's'}"


def cmd_retry(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor alerts retry ID|--dead``: pending again with fresh attempts (never a sent one).

    Exit 0 when queued (the message says who sends it: the running daemon, or the next
    ``monitor run --once``), 1 for an alert already sent or being sent, 2 for an ID
    that does not exist or no ID at all."""
    if args.id is None and not args.dead:
        print("error: give an alert ID or --dead", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    factory = ctx.session_factory()
    with session_scope(factory) as s:
        found = [] if args.dead else outbox.load_alerts(s, [args.id])
        if not args.dead and not found:
            print(f"error: no alert {args.id} (see 'monitor alerts')", file=sys.stderr)
            return 2
        n = outbox.retry_alerts(s, now, [] if args.dead else [args.id], dead=args.dead)
    if args.dead and n == 0:
        print("no dead alerts to retry")
        return 0
    if n == 0:  # found, but neither dead nor pending (or claimed in the meantime)
        print(_not_retried(found[0]), file=sys.stderr)
        return 1
    which = f"{n} alert(s)" if args.dead else f"alert {args.id}"
    print(f"{which} queued for delivery: {who_sends(ctx.config(), factory, now)}")
    return 0


def _not_retried(alert: Alert) -> str:
    if alert.status == "sent":
        return f"alert {alert.id} was already sent; sent alerts are never resent"
    return (
        f"alert {alert.id} is being sent right now; if that sender died, the next "
        "delivery cycle sends it again once its claim has lapsed (5 minutes)"
    )


def who_sends(config: Config, factory: db.SessionFactory, now: datetime) -> str:
    """Who will deliver a queued alert: the daemon if its heartbeat is fresh, else whoever
    runs next (quiet hours and rate limits still apply)."""
    tick_s = config.monitor.tick_s
    beat = state.read_heartbeat(factory)
    if ops.daemon_state(beat, now, ops.stale_after_s(tick_s)) == "running":
        pid = f" (pid {beat.pid})" if beat.pid else ""
        return f"the running daemon{pid} sends it at its next tick (every {tick_s:g} s)"
    return (
        "no daemon is running on this database: the next 'monitor run --once' sends it, "
        "or the daemon ('monitor run', the service) once started"
    )


def sample_alert(channel: str, now: datetime) -> Alert:
    """A made-up alert that exercises the channel's template (terms, snippet, link)."""
    text = "This is a test from press-monitor: if you can read it, the channel works."
    return Alert(
        id=0,
        rule="test",
        channel=channel,
        status="pending",
        attempts=0,
        article_id=0,
        title=f"press-monitor test message for channel {channel}",
        link=TEST_LINK,
        source="press-monitor",
        published=now,
        text=text,
        evidence=(Evidence("test", "test", "text", start=10, end=14),),
        created_at=now,
    )


def cmd_notify_test(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor notify test CHANNEL``: exit 0 when delivered, 1 with what failed,
    2 for a channel the config does not define."""
    config = ctx.config()
    channel = config.channels.get(args.channel)
    if channel is None:
        known = ", ".join(config.channels) or "none"
        print(f"error: unknown channel {args.channel!r}; defined: {known}", file=sys.stderr)
        return 2
    message = render_alert(
        sample_alert(channel.name, datetime.now(UTC)), channel, config.monitor.timezone
    )
    try:
        message_id = send_message(channel, message)
    except DeliveryError as exc:
        detail = mask_text(exc.message, url_secrets(channel.url))
        hint = " (permanent: fix the URL or the account)" if exc.permanent else ""
        if exc.retry_after_s is not None:
            hint = f" (rate limited: retry after {exc.retry_after_s:g} s)"
        print(f"failed: {channel.name} ({channel.masked_url}): {detail}{hint}", file=sys.stderr)
        return 1
    suffix = f", message id {message_id}" if message_id else ""
    print(f"ok: test message sent to {channel.name} ({channel.masked_url}){suffix}")
    return 0
