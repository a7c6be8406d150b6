"""Feed commands: ``feeds`` (status table), ``feeds discover URL``, ``feeds import-opml FILE``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Collection
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.cli.context import Context
from monitor.cli.output import char_width, fit, terminal_width
from monitor.config import load_config
from monitor.config.edit import (
    ENV_REF,
    FeedIndex,
    Listed,
    add_include,
    append_feeds_toml,
    feed_table,
    include_entry,
    include_line,
    include_path,
    read_listing,
    same_file,
)
from monitor.errors import ConfigError, FetchError
from monitor.fetch.addresses import AddressPolicy, parse_ip
from monitor.fetch.client import FeedClient, checked_url, encode_spaces
from monitor.fetch.failures import shown_url
from monitor.notify.format import format_time
from monitor.parse.discover import announced_titles, discover_feeds, feed_like_links
from monitor.parse.opml import NotOpmlError, parse_opml
from monitor.parse.pool import ParsePool
from monitor.records import FetchSettings, ImportedFeed, ParsedFeed
from monitor.secrets import mask_text, mask_url, url_secrets
from monitor.store.views import FeedView, feed_views
from monitor.text import clean_http_url, scrub_line


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``feeds``, ``feeds list``, ``feeds discover`` and ``feeds import-opml``."""
    p = sub.add_parser("feeds", help="feed status table; discover feeds; import OPML")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--all", action="store_true", help="include feeds removed from the config")
    p.add_argument("--wide", action="store_true", help="every column whole (not cut to the width)")
    p.set_defaults(handler=cmd_feeds)
    fsub = p.add_subparsers(dest="feeds_command", metavar="FEEDS_COMMAND")
    lst = fsub.add_parser("list", help="the status table (same as plain 'feeds')")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.add_argument("--all", action="store_true", help="include feeds removed from the config")
    lst.add_argument("--wide", action="store_true", help="every column whole")
    lst.set_defaults(handler=cmd_feeds)
    disc = fsub.add_parser(
        "discover", help="print [[feeds]] tables for the feeds a web page announces"
    )
    disc.add_argument("url", metavar="URL", help="a page or feed URL (https:// if none given)")
    disc.add_argument(
        "--urls",
        action="store_true",
        help="print only the feed URLs, one a line, without [[feeds]] tables or names",
    )
    disc.set_defaults(handler=cmd_discover)
    imp = fsub.add_parser("import-opml", help="append the feeds of an OPML file to the config")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--to", metavar="PATH", help="TOML file to append to (default: the config)")
    imp.add_argument(
        "--no-include",
        action="store_true",
        help="with --to: do not add PATH to the config's [monitor] include, print the line",
    )
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


def fitted_table(views: list[FeedView], tz: str, configured: Collection[str], width: int) -> str:
    """The default table, in ``width`` columns: NAME, STATUS, LAST OK (``MM-DD HH:MM`` in
    ``tz``, the zone named in the header), FAILS, ARTICLES, NEW/DAY, then URL and LAST
    ERROR sharing what is left (cut with an ellipsis; ``--wide`` has them whole)."""
    zone = (format_time(datetime.now(UTC), tz) or "").rsplit(" ", 1)[-1]
    head = ("NAME", "STATUS", f"LAST OK {zone}".strip(), "FAILS", "ARTICLES", "NEW/DAY")
    rows = []
    for v in views:
        error = scrub_line(mask_text(f"{v.error_kind}: {v.error}")) if v.error_kind else "-"
        last = (format_time(v.last_success, tz) or "-")[5:16] if v.last_success else "-"
        rows.append((
            scrub_line(mask_text(v.name or "")) or "-", v.status, last, str(v.failures),
            str(v.articles), f"{v.new_per_day:g}", view_url(v, configured), error,
        ))  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    widths[0] = min(widths[0], 20)
    rest = max(16, width - sum(widths) - 2 * len(widths) - 2)
    need_url = max(len("URL"), *(len(r[6]) for r in rows))
    need_error = max(len("LAST ERROR"), *(len(r[7]) for r in rows))
    # An error says what to do about a feed: it gets room first, the URL what is left.
    error_w = min(need_error, max(rest - need_url, rest * 3 // 5))
    url_w = max(8, rest - error_w)
    lines = []
    for cells in [(*head, "URL", "LAST ERROR"), *rows]:
        fixed = "  ".join(
            fit(c, w).ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells[:6], widths, strict=True))
        )
        # Every line padded to the same columns before the final cut: the header and the
        # rows are cut at the same place, so a heading never goes missing over its column.
        line = (
            f"{fixed}  {fit(cells[6], url_w).ljust(url_w)}  {fit(cells[7], error_w).ljust(error_w)}"
        )
        cut = fit(line, width)
        if cut != line:  # the ellipsis at the last column of every line, not after its text
            cut = cut[:-1] + " " * (width - 1 - sum(map(char_width, cut[:-1]))) + "…"
        lines.append(cut.rstrip())
    return "\n".join(lines)


def _json_view(v: FeedView, configured: Collection[str]) -> dict[str, Any]:
    data = asdict(v)
    data["url"] = view_url(v, configured)
    data["name"] = mask_text(v.name)
    data["error"] = mask_text(v.error) if v.error else v.error
    for key in ("last_success", "next_check"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def cmd_feeds(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds [--json] [--all] [--wide]``: the table fits the terminal
    (:func:`fitted_table`); ``--wide`` is the 0.1 table, every column whole."""
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
    elif args.wide:
        print(render_table(views, config.monitor.timezone, configured))
    else:
        print(fitted_table(views, config.monitor.timezone, configured, terminal_width()))
    return 0


# -- feeds discover -----------------------------------------------------------------------


MAX_CANDIDATES = 5  # plain links to verify when a page announces no feed


async def find_feeds(url: str, settings: FetchSettings) -> list[str]:
    """The URLs of :func:`find_titled_feeds`."""
    return [feed.url for feed in await find_titled_feeds(url, settings)]


async def find_titled_feeds(url: str, settings: FetchSettings) -> list[ImportedFeed]:
    """Feeds for ``url``: itself when it already is a feed, else the feeds its page
    announces (``<link rel="alternate">``), else those of its feed-looking ``<a>`` links
    that really are feeds (at most :data:`MAX_CANDIDATES` are fetched, on the addresses
    ``url`` itself may reach). Each has the feed's title when it was fetched, else the
    ``<link title>``, scrubbed. Every document is parsed in a worker process with the
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
        parsed = await _parsed_feed(pool, body, page.headers.get("content-type"), page.url)
        if parsed is not None:
            return [ImportedFeed(page.url, _title(parsed.title))]
        announced = _reachable(_clean(discover_feeds(body, page.url)), policy)
        if announced:
            titles = announced_titles(body, page.url)
            return [ImportedFeed(u, _title(titles.get(u))) for u in announced]
        candidates = _clean(feed_like_links(body, page.url))[:MAX_CANDIDATES]
        checks = await asyncio.gather(
            *(_fetches_as_feed(client, pool, c, policy) for c in candidates)
        )
    return [
        ImportedFeed(c, _title(feed.title))
        for c, feed in zip(candidates, checks, strict=True)
        if feed is not None
    ]


def _title(text: str | None) -> str | None:
    """A title fit for a ``name = "..."`` line: one line, no controls, at most 200 chars."""
    return _clip(scrub_line(text), 200) or None if text else None


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


async def _parsed_feed(
    pool: ParsePool, body: bytes, content_type: str | None, url: str
) -> ParsedFeed | None:
    try:
        return await pool.parse(body, content_type, url)
    except FetchError:
        return None


async def _fetches_as_feed(
    client: FeedClient, pool: ParsePool, url: str, policy: AddressPolicy
) -> ParsedFeed | None:
    try:
        page = await client.get(
            url,
            accept="application/rss+xml, application/atom+xml",
            now=datetime.now(UTC),
            policy=policy,
        )
    except FetchError:
        return None
    return await _parsed_feed(pool, page.body or b"", page.headers.get("content-type"), page.url)


def _fetch_settings(ctx: Context) -> FetchSettings:
    try:
        return ctx.config().fetch
    except ConfigError:  # discovering feeds must not need a config yet
        return FetchSettings()


_DAEMON_RETRY = re.compile(r"we retry(?: in \d+ s as asked| with backoff)?")
_DISCOVER_ADVICE = re.compile(r"find its new URL \(monitor feeds discover SITE\)")


def discover_error(exc: FetchError, url: str | None = None) -> str:
    """The CLI wording of a fetch failure of ``url``: the daemon's "we retry ..." becomes
    advice for a person at a prompt, and a 404's "find its new URL (monitor feeds
    discover SITE)" (the command being run) names the site's home page instead, or
    asks to check the address when ``url`` already is the home page. No I/O."""
    text = exc.message.replace("we poll too often; ", "the site limits requests; ")
    if exc.retry_after_s is not None:
        text = _DAEMON_RETRY.sub(f"try again in {exc.retry_after_s:.0f} s", text)
    text = _DAEMON_RETRY.sub("try again later", text)
    text = text.replace(" (raise the feed's interval if this repeats)", "")
    return _DISCOVER_ADVICE.sub(_home_page_advice(url), text)


def _home_page_advice(url: str | None) -> str:
    parts = urlsplit(url or "")
    if not parts.netloc or (parts.path in ("", "/") and not parts.query):
        return "check the address in a browser"
    home = f"{parts.scheme}://{parts.netloc}/"
    return f"check the address, or look for the feed from the site's home page: monitor feeds discover {shown_url(home)}"


def with_scheme(url: str) -> tuple[str, bool]:
    """``url`` with ``https://`` put in front when it names no scheme (``example.org``,
    ``example.org/news``), and whether it was. ``ftp://...`` and ``http:/x`` are left as
    they are (and refused later). No I/O."""
    text = url.strip()
    if "://" in text or text.startswith("/") or not text:
        return text, False
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)", text):  # mailto:x, http:/x, not host:8080
        return text, False
    return "https://" + text, True


def render_discovered(
    feeds: list[ImportedFeed], listed: FeedIndex | None = None, config: Path | None = None
) -> str:
    """Ready-to-paste ``[[feeds]]`` tables, one per feed, separated by a blank line; a
    feed ``listed`` already (the config at ``config`` and its includes) is a TOML comment
    saying so instead, so that pasting it all does not make the config fail on a
    duplicate. No I/O."""
    return "\n".join(
        f"# {already_listed(f, listed, config)}\n"
        if listed is not None and config is not None and listed.find(f.url) is not None
        else feed_table(f)
        for f in feeds
    )


def cmd_discover(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds discover URL [--urls]``: a ``[[feeds]]`` table per feed found (the
    bare URLs, one a line, with ``--urls``); exit 1 when none or the page cannot be
    fetched, 2 when URL is not an http(s) URL. A URL without a scheme gets ``https://``."""
    url, added_scheme = with_scheme(args.url)
    problem = checked_url(encode_spaces(url))
    if problem is not None:
        print(f"error: {shown_url(args.url)} is not an http(s) URL ({problem})", file=sys.stderr)
        return 2
    if added_scheme:
        print(f"note: no scheme given: trying {shown_url(url)}", file=sys.stderr)
    try:
        feeds = asyncio.run(find_titled_feeds(url, _fetch_settings(ctx)))
    except FetchError as exc:
        print(f"error: cannot fetch the page: {discover_error(exc, url)}", file=sys.stderr)
        return 1
    if not feeds:
        print(f"{shown_url(url)} announces no RSS/Atom feed", file=sys.stderr)
        return 1
    config = Path(os.path.abspath(ctx.config_path))
    listed, _ = listed_feeds(config, ctx.environ)
    known = [f for f in feeds if listed.find(f.url) is not None]
    if args.urls:
        for feed in feeds:
            print(feed.url)
        for feed in known:
            print(f"note: {already_listed(feed, listed, config)}", file=sys.stderr)
        return 0
    print(render_discovered(feeds, listed, config), end="")
    new = len(feeds) - len(known)
    if not new:
        print(f"nothing to add: {config} already follows every feed found", file=sys.stderr)
        return 0
    many = f"these {new} tables" if new > 1 else "this table"
    also = f" ({len(known)} already followed: shown as a comment)" if known else ""
    print(
        f"paste {many} into the config (or a file in [monitor] include) to follow "
        f"{'them' if new > 1 else 'it'}{also}",
        file=sys.stderr,
    )
    return 0


def already_listed(feed: ImportedFeed, listed: FeedIndex, config: Path) -> str:
    """Why a discovered feed is not to be pasted: the config (or an include) lists it;
    the listed URL is named (masked) when it matched only by pattern, a ``${VAR}`` in it
    not being set here. No I/O."""
    found = listed.find(feed.url)
    where = f"{config} or its includes"
    if found is not None and found.guessed:
        names = ", ".join(sorted(set(ENV_REF.findall(found.written))))
        return (
            f"{mask_url(feed.url)} is probably the feed {mask_url(found.written)} already in "
            f"{where} ({names} is not set here, so the two URLs were compared as a pattern)"
        )
    return f"{mask_url(feed.url)} is already in {where}"


# -- feeds import-opml --------------------------------------------------------------------


class OpmlFileError(ValueError):
    """The FILE of ``feeds import-opml`` cannot be read or is not an OPML list (exit 2)."""


def read_opml(path: str | Path) -> list[ImportedFeed]:
    """The feeds of the OPML file at ``path``; raises :class:`OpmlFileError` for a file
    that cannot be read or is not OPML (a feed given by mistake says so, and how to
    follow it instead)."""
    shown = shown_url(str(path))
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise OpmlFileError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    try:
        return parse_opml(body)
    except FetchError as exc:
        raise OpmlFileError(f"{shown} is not a valid OPML file: {exc.message}") from exc
    except NotOpmlError as exc:
        if exc.feed_kind is None:
            raise OpmlFileError(f"{shown} is not an OPML file: {exc}") from exc
        raise OpmlFileError(
            f"{shown} {exc}: import-opml reads a subscription list exported by a feed "
            "reader. To follow this feed, add it to the config:\n\n"
            f"{feed_table(ImportedFeed(_feed_path(path)))}\n"
            "(or its http(s) address, if it is a downloaded copy of a site's feed)"
        ) from exc


def _feed_path(path: str | Path) -> str:
    return str(Path(path).resolve())


def cmd_import_opml(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor feeds import-opml FILE [--to PATH] [--no-include]``: append the new feeds
    to the config, or to PATH; feeds the config or its (other) includes already list are
    skipped; with PATH, PATH is added to ``[monitor] include`` when that can
    be done without touching the rest of the config (else the line to add is printed)."""
    try:
        feeds = read_opml(args.file)
    except OpmlFileError as exc:
        print(f"error: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    if not feeds:
        print(
            f'error: {shown_url(args.file)} lists no feeds (no <outline xmlUrl="http...">): '
            "nothing imported",
            file=sys.stderr,
        )
        return 1
    # Absolute in every message: PATH is taken from the working directory (a command-line
    # path) while include entries are taken from the config's folder (issue 13).
    config = Path(os.path.abspath(ctx.config_path))
    target = Path(os.path.abspath(args.to)) if args.to else config
    separate = not same_file(target, config)
    # the feeds of the config and its other includes (the target's own: appending checks)
    elsewhere, includes = listed_feeds(config, ctx.environ, but=target)
    new = [f for f in feeds if elsewhere.find(f.url) is None]
    guesses = _guessed(feeds, elsewhere, target, ctx.environ)
    existed = target.exists()
    added = append_feeds_toml(target, new, ctx.environ)
    print(
        f"imported {added} feeds into {target}"
        f" ({len(feeds) - added} of {len(feeds)} already listed)"
    )
    if len(new) < len(feeds):
        print(f"skipped {len(feeds) - len(new)} feeds already in {config} or its includes")
    for guess in guesses:
        names = ", ".join(sorted(set(ENV_REF.findall(guess.written))))
        print(
            f"note: taken for the listed feed {mask_url(guess.written)}, not imported: "
            f"{names} is not set here, so the two URLs were compared as a pattern "
            f"(set {names} to compare them exactly)"
        )
    if added and not existed and any(url_secrets(f.url) for f in new):
        print(
            f"note: {target} is readable only by you (0600) because a feed URL in it holds a "
            "credential; a service running as another user (DynamicUser=) cannot read it: "
            "give that user read access, or move the secret into ${VAR} and make the file 0644"
        )
    if separate:
        _report_include(args, config, target, includes, ctx.environ)
    return 0


def listed_feeds(
    config: Path, environ: dict[str, str], but: Path | None = None
) -> tuple[FeedIndex, list[str]]:
    """The feeds the config file at ``config`` and the files its ``[monitor] include``
    names list, as written (:class:`~monitor.config.edit.FeedIndex`, ``${VAR}`` from
    ``environ``), leaving out the file ``but`` (the config itself or one of its includes);
    and the config's include entries. Empty when the config cannot be read as TOML."""
    index = FeedIndex(environ)
    main = read_listing(config) if config.exists() else None
    if main is None:
        return index, []
    files = [config, *(include_path(config, entry) for entry in main.include)]
    for path in files:
        if but is not None and same_file(path, but):
            continue
        found = main if path is config else read_listing(path)
        for url in found.feed_urls if found is not None else ():
            index.add(url)
    return index, list(main.include)


def _guessed(
    feeds: list[ImportedFeed], elsewhere: FeedIndex, target: Path, environ: dict[str, str]
) -> list[Listed]:
    """The listed feeds that imported ones were taken for only by pattern, a ``${VAR}``
    in them not being set here (:class:`~monitor.config.edit.FeedIndex`). The caller
    names them by the listed URL (masked), never by the imported one, which holds the
    variable's value."""
    in_target = FeedIndex(environ)
    listed = read_listing(target) if target.exists() else None
    for url in listed.feed_urls if listed else ():
        in_target.add(url)
    guesses: list[Listed] = []
    for feed in feeds:
        found = elsewhere.find(feed.url) or in_target.find(feed.url)
        if found is not None and found.guessed and found not in guesses:
            guesses.append(found)
    return guesses


def _report_include(
    args: argparse.Namespace,
    config: Path,
    target: Path,
    includes: list[str],
    environ: dict[str, str],
) -> None:
    """Say whether the config reads ``target`` already, add it, or print the line to add."""
    entry = include_entry(target, config)
    if any(same_file(include_path(config, e), target) for e in includes):
        print(f"{config} already reads {target} ([monitor] include)")
        return
    line = include_line([*includes, entry])
    if not config.exists():
        print(f"the daemon reads these feeds only when the config's [monitor] table has:\n  {line}")
        return
    if not args.no_include:
        try:
            before = config.read_text(encoding="utf-8")
            if add_include(config, entry):
                problem = _load_problem(config, environ)
                if problem is None:
                    print(f"added {line} to [monitor] in {config}")
                    return
                # The imported feeds would make the config fail to load: put it back.
                config.write_text(before, encoding="utf-8")
                print(f"not added to {config}: with it the config would not load: {problem}")
        except (OSError, UnicodeDecodeError, ValueError):
            pass
    print(f"the daemon reads these feeds only when {config}'s [monitor] table has:\n  {line}")


def _load_problem(config: Path, environ: dict[str, str]) -> str | None:
    """Why the config at ``config`` would not load (masked), or None."""
    try:
        load_config(str(config), environ)
    except ConfigError as exc:
        return mask_text(str(exc))
    return None
