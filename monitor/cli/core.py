"""Core commands: ``run`` and ``check-config``."""

from __future__ import annotations

import argparse
import sys

from monitor.cli.context import Context
from monitor.config import Config
from monitor.errors import DatabaseError
from monitor.secrets import mask_text, mask_url
from monitor.store import db


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``check-config``."""
    p = sub.add_parser("run", help="run the daemon (until SIGTERM), or one cycle with --once")
    p.add_argument(
        "--once", action="store_true", help="poll every feed once, deliver what is due, exit"
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("check-config", help="validate the config and print a summary")
    p.set_defaults(handler=cmd_check_config)


def no_daemon(url: str) -> bool:
    """True when no daemon holds this SQLite database's lock (checked, then let go, so a
    daemon may start while ``--once`` runs). Beside a running ``--once`` this may send
    its in-flight message once more: the documented duplicate."""
    if db.sqlite_path(url) is None:
        return False
    try:
        with db.acquire_database_lock(url):
            return True
    except DatabaseError:
        return False


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor run``: the daemon. It holds the database's lock for its life (one daemon
    per SQLite database); ``--once`` (:func:`monitor.cli.ops.cmd_run`) runs beside it. A
    corrupted database stops it at start."""
    from monitor.daemon.service import Daemon

    config = ctx.config()
    with db.acquire_database_lock(config.monitor.database):
        return Daemon(config, ctx.environ).serve()


def cmd_check_config(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor check-config``: exit 0 and a summary, or exit 2 naming file, key and line."""
    config = ctx.config()
    print(summary(config))
    for warning in config.warnings:
        print(f"warning: {mask_text(warning)}", file=sys.stderr)
    return 0


def summary(config: Config) -> str:
    """A one-screen summary of a config; feed and channel URLs are shown masked."""
    m = config.monitor
    lines = [
        f"config:   {config.path}: OK",
        f"database: {db.display_url(m.database)}",
        f"timezone: {m.timezone}; default interval {_dur(m.poll_interval_s)}; backlog {_dur(m.backlog_s)}",
        f"feeds ({len(config.feeds)}):",
    ]
    for f in config.feeds:
        extra = [f"every {_dur(f.interval_s)}"]
        if f.language:
            extra.append(f.language)
        if f.full_text:
            extra.append("full text")
        lines.append(f"  - {f.name or '(feed title)'}: {mask_url(f.url)} ({', '.join(extra)})")
    lines.append(f"channels ({len(config.channels)}):")
    for c in config.channels.values():
        opts = "".join(
            f"; {k} {v.text}"
            for k, v in (("quiet hours", c.quiet_hours), ("rate", c.rate_limit))
            if v is not None
        )
        lines.append(f"  - {c.name}: {c.masked_url}{opts}")
    lines.append(
        f"terms ({len(config.terms)}): "
        + ", ".join(f"@{k} ({len(v)})" for k, v in config.terms.items())
    )
    lines.append(f"rules ({len(config.rules)}):")
    for r in config.rules:
        extra = [f"-> {', '.join(r.channels) or 'no channel (recorded only)'}"]
        if r.languages:
            extra.append("languages " + ",".join(r.languages))
        if r.delivery == "digest" and r.digest is not None:
            extra.append(f"digest {r.digest.text}")
        if r.priority != "normal":
            extra.append(f"priority {r.priority}")
        if r.min_sources > 1:
            extra.append(f"min_sources {r.min_sources}")
        lines.append(f"  - {r.name}: {r.query}  ({'; '.join(extra)})")
    return "\n".join(lines)


def _dur(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
