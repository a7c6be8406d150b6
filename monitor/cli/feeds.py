"""Feed commands: ``feeds`` (status table), ``feeds discover URL``, ``feeds import-opml FILE``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Collection
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.cli.context import Context
from monitor.config.edit import append_feeds_toml
from monitor.errors import ConfigError, FetchError
from monitor.fetch.addresses import AddressPolicy, parse_ip
from monitor.fetch.client import FeedClient, checked_url, encode_spaces
from monitor.fetch.failures import shown_url
from monitor.notify.format import format_time
from monitor.parse.discover import discover_feeds, feed_like_links
from monitor.parse.opml import parse_opml
from monitor.parse.pool import ParsePool
from monitor.records import FetchSettings, ImportedFeed
from monitor.secrets import mask_text, mask_url
from monitor.store.views import FeedView, feed_views
from monitor.text import clean_http_url, scrub_line


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``feeds``, ``feeds list``, ``feeds discover`` and ``feeds import-opml``."""
    p = sub.add_parser("feeds", help="feed status table; discover feeds; import OPML")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--all", action="store_true", help="include feeds removed from the config")
    p.set_defaults(handler=cmd_feeds)
    fsub = p.add_subparsers(dest="feeds_command", metavar="FEEDS_COMMAND")
    lst = fsub.add_parser("list", help="the status table (same as plain 'feeds')")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.add_argument("--all", action="store_true", help="include feeds removed from the config")
    lst.set_defaults(handler=cmd_feeds)
    disc = fsub.add_parser("discover", help="print the feed URLs a web page announces")
    disc.add_argument("url", metavar="URL")
    disc.set_defaults(handler=cmd_discover)
    imp = fsub.add_parser("import-opml", help="append the feeds of an OPML file to the config")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--to", metavar="PATH", help="TOML file to append to (default: the config)")
    imp.set_defaults(handler=cmd_import_opml)


# -- feeds: the status table --------------------------------------------------------------


def _when(value: datetime | None, tz: str) -> str:
    return format_time(value, tz) or "-"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def view_url(v: FeedView, configured: Collection[str]) -> str:
    """A feed's URL as shown: masked, and strictly (every query value) for a feed no longer
    in the config, whose ``${VAR}`` values this process does not know. No I/O."""
    return mask_url(v.url, strict=v.url not in configured)


def render_table(views: list[FeedView], tz: str = "UTC", configured: Collection[str] = ()) -> str:
    """A plain-text table, times in ``tz`` with the zone name; secrets masked
    (:func:`view_url`, :func:`~monitor.secrets.mask_text` for names and errors); names
    and errors scrubbed (a title stored before scrubbing existed may hold an ESC)."""
    head = (
        "NAME",
        "URL",
        "STATUS",
        "LAST SUCCESS",
        "NEXT CHECK",
        "FAILS",
        "ARTICLES",
        "NEW/DAY",
        "LAST ERROR",
    )
    lines = [head]
    for v in views:
        error = scrub_line(mask_text(f"{v.error_kind}: {v.error}")) if v.error_kind else "-"
        lines.append((
            _clip(scrub_line(mask_text(v.name or "")) or "-", 28), _clip(view_url(v, configured), 60), v.status,
            _when(v.last_success, tz),
            _when(v.next_check, tz), str(v.failures), str(v.articles), f"{v.new_per_day:g}",
            _clip(error, 90),
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1]
        for line in lines
    )


def _json_view(v: FeedView, configured: Collection[str]) -> dict[str, Any]:
    data = asdict(v)
    data["url"] = view_url(v, configured)
    data["name"] = mask_text(v.name)
    data["error"] = mask_text(v.error) if v.error else v.error
    for key in ("last_success", "next_check"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def cmd_feeds(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds [--json] [--all]``."""
    config = ctx.config()
    views = feed_views(
        ctx.session_factory(),
        config.feeds,
        datetime.now(UTC),
        broken_after_s=config.monitor.feed_broken_after_s,
        include_removed=args.all,
    )
    configured = {f.url for f in config.feeds}
    if args.json:
        print(json.dumps([_json_view(v, configured) for v in views], ensure_ascii=False, indent=2))
    elif not views:
        print("no feeds configured: add [[feeds]] to the config or run 'monitor feeds import-opml'")
    else:
        print(render_table(views, config.monitor.timezone, configured))
    return 0


# -- feeds discover -----------------------------------------------------------------------


MAX_CANDIDATES = 5  # plain links to verify when a page announces no feed


async def find_feeds(url: str, settings: FetchSettings) -> list[str]:
    """Feed URLs for ``url``: itself when it already is a feed, else the feeds its page
    announces (``<link rel="alternate">``), else those of its feed-looking ``<a>`` links
    that really are feeds (at most :data:`MAX_CANDIDATES` are fetched, on the addresses
    ``url`` itself may reach). Every document is parsed in a worker process with the
    daemon's time and memory bounds (:class:`~monitor.parse.pool.ParsePool`); a link
    holding a control, whitespace or bidi character is never printed. Raises
    :class:`FetchError` when the page itself cannot be fetched."""
    async with FeedClient(settings) as client, _parse_pool(settings) as pool:
        policy = await client.policy_for(url)
        page = await client.get(
            url,
            accept="text/html, application/rss+xml, application/atom+xml",
            now=datetime.now(UTC),
            policy=policy,
        )
        body = page.body or b""
        if await _is_feed(pool, body, page.headers.get("content-type"), page.url):
            return [page.url]
        announced = _reachable(_clean(discover_feeds(body, page.url)), policy)
        if announced:
            return announced
        candidates = _clean(feed_like_links(body, page.url))[:MAX_CANDIDATES]
        checks = await asyncio.gather(
            *(_fetches_as_feed(client, pool, c, policy) for c in candidates)
        )
    return [c for c, ok in zip(candidates, checks, strict=True) if ok]


def _parse_pool(settings: FetchSettings) -> ParsePool:
    """The daemon's parse bounds: ``parse_timeout`` and the worker memory limit."""
    return ParsePool(max_workers=2, timeout_s=settings.parse_timeout_s)


def _clean(urls: list[str]) -> list[str]:
    """The URLs a page links to that are safe to print and to request."""
    return [u for u in urls if clean_http_url(u) == u and checked_url(u) is None]


def _reachable(urls: list[str], policy: AddressPolicy) -> list[str]:
    """Of ``urls``, those not on an address literal ``policy`` refuses: a public page that
    announces ``http://169.254.169.254/feed`` must not lure the operator into putting an
    internal address in the config (names are resolved, and checked, when fetched)."""
    out = []
    for url in urls:
        ip = parse_ip(urlsplit(url).hostname or "")
        if ip is None or policy.permits(ip):
            out.append(url)
    return out


async def _is_feed(pool: ParsePool, body: bytes, content_type: str | None, url: str) -> bool:
    try:
        await pool.parse(body, content_type, url)
    except FetchError:
        return False
    return True


async def _fetches_as_feed(
    client: FeedClient, pool: ParsePool, url: str, policy: AddressPolicy
) -> bool:
    try:
        page = await client.get(
            url,
            accept="application/rss+xml, application/atom+xml",
            now=datetime.now(UTC),
            policy=policy,
        )
    except FetchError:
        return False
    return await _is_feed(pool, page.body or b"", page.headers.get("content-type"), page.url)


def _fetch_settings(ctx: Context) -> FetchSettings:
    try:
        return ctx.config().fetch
    except ConfigError:  # discovering feeds must not need a config yet
        return FetchSettings()


_DAEMON_RETRY = re.compile(r"we retry(?: in \d+ s as asked| with backoff)?")


def discover_error(exc: FetchError) -> str:
    """The CLI wording of a fetch failure: the daemon's "we retry ..." becomes advice
    for a person at a prompt. No I/O."""
    text = exc.message.replace("we poll too often; ", "the site limits requests; ")
    if exc.retry_after_s is not None:
        text = _DAEMON_RETRY.sub(f"try again in {exc.retry_after_s:.0f} s", text)
    text = _DAEMON_RETRY.sub("try again later", text)
    return text.replace(" (raise the feed's interval if this repeats)", "")


def cmd_discover(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds discover URL``: one feed URL per line; exit 1 when none or the
    page cannot be fetched, 2 when URL is not an http(s) URL."""
    problem = checked_url(encode_spaces(args.url.strip()))
    if problem is not None:
        print(f"error: {shown_url(args.url)} is not an http(s) URL ({problem})", file=sys.stderr)
        return 2
    try:
        feeds = asyncio.run(find_feeds(args.url, _fetch_settings(ctx)))
    except FetchError as exc:
        print(f"error: cannot fetch the page: {discover_error(exc)}", file=sys.stderr)
        return 1
    if not feeds:
        print(f"{shown_url(args.url)} announces no RSS/Atom feed", file=sys.stderr)
        return 1
    for feed in feeds:
        print(feed)
    return 0


# -- feeds import-opml --------------------------------------------------------------------


def read_opml(path: str | Path) -> list[ImportedFeed]:
    """The feeds of the OPML file at ``path``; raises :class:`ConfigError` for a file that
    cannot be read or is not valid OPML."""
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the OPML file: {exc.strerror}", path=str(path)) from exc
    try:
        return parse_opml(body)
    except FetchError as exc:
        raise ConfigError(f"not a valid OPML file: {exc}", path=str(path)) from exc


def cmd_import_opml(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds import-opml FILE [--to PATH]``."""
    feeds = read_opml(args.file)
    target = args.to or ctx.config_path
    added = append_feeds_toml(target, feeds)
    print(
        f"imported {added} feeds into {target}"
        f" ({len(feeds) - added} of {len(feeds)} already listed)"
    )
    return 0
