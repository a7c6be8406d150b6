"""``monitor search QUERY``: the stored articles a query matches, newest first, as a
listing, JSON or CSV (the backtest, :mod:`monitor.cli.backtest`, prints its articles the
same way; both scan through :mod:`monitor.cli.scan`).

``monitor search QUERY [--since 30d] [--feed NAME] [--lang uk] [--limit N] [--json|--csv]``
compiles QUERY as ``test-rule --query`` does (its @groups from the config when there is
one) and runs the daemon's matcher over the stored articles first seen in the window:
the same cross-script and inflection-aware matching, so ``Witkoff AND @coalition``
finds «Віткофф … коаліції рішучих». Read-only: the monitor's database is only read; a
key index in its own file beside it (:mod:`monitor.store.history`) is brought up to
date first, so only the articles that can match are read whole
(:mod:`monitor.match.prefilter`: it skips, it never decides). Articles pruned by
``retention`` are gone; the output says how far back the history reaches.

Exit status: 0 = something matched, 1 = nothing matched, 2 = a query that does not
compile, an unknown --feed, a bad --since or --lang.

The ``--json`` shape (stable; new keys may be added; times ISO 8601 in UTC with offset)::

    {"query": "...", "since": TIME, "history": {"oldest": TIME|null, "newest": TIME|null,
     "articles": 1234, "retention_s": 2592000.0 | null, "keep_matched": true},
     "scanned": 1200,
     "timing": {"scan_s": 0.41, "first_result_s": 0.05 | null, "read_whole": 6,
                "indexed": 0, "prefilter": "index" | "off: <why>", "candidates": 9},
     "limited": false,
     "results": [{"article_id": 12, "first_seen": TIME, "published": TIME|null,
                  "outlet": "Outlet A", "feed_url": "...", "language": "uk"|null,
                  "title": "...", "link": "https://..."|null, "story_id": 12,
                  "alertable": true, "rules": ["query"],
                  "evidence": [{"rule": "query", "term": "Witkoff", "surface": "Віткофф",
                                "field": "title", "score": 100, "how": "across scripts"}]}]}

``--csv`` has one row per article under the header :data:`CSV_COLUMNS`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.cli.alerts import count
from monitor.cli.context import Context
from monitor.cli.output import csv_text, fit, marked_line, terminal_width
from monitor.cli.scan import (
    QUERY_RULE,
    Found,
    Scan,
    compile_query,
    feed_urls,
    load_config_if_any,
    scan,
)
from monitor.config import spec
from monitor.config.units import parse_duration
from monitor.errors import QueryError
from monitor.match.explain import how_found
from monitor.notify.format import format_time
from monitor.secrets import mask_text
from monitor.text import scrub_line

EXIT_MATCHED, EXIT_NO_MATCH, EXIT_USAGE = 0, 1, 2
LISTED = 50  # articles the listing shows without --limit; --json and --csv export all
CSV_COLUMNS = (
    "first_seen",
    "published",
    "outlet",
    "language",
    "title",
    "link",
    "story_id",
    "article_id",
    "alertable",
    "rules",
    "surfaces",
    "evidence",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``search``."""
    p = sub.add_parser(
        "search",
        help="stored articles a query matches, newest first",
        description="Run a query over the stored articles with the daemon's matcher.",
        epilog="exit status: 0 = matches, 1 = none, 2 = bad query, --feed, --since or --lang",
    )
    p.add_argument("query", metavar="QUERY", help="a query as in [[rules]] (docs/rules.md)")
    window_options(p, default="30d")
    p.add_argument(
        "--limit",
        type=count,
        default=None,
        metavar="N",
        help=f"how many, newest first (default {LISTED}; --json and --csv: all)",
    )
    formats = p.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="print JSON (links whole)")
    formats.add_argument("--csv", action="store_true", help="print CSV (links whole)")
    p.set_defaults(handler=cmd_search)


def window_options(p: argparse._ActionsContainer, *, default: str | None) -> None:
    """``--since``, ``--feed``, ``--lang``: the window of stored articles to scan."""
    shown = f" (default: {default})" if default else ""
    p.add_argument(
        "--since",
        metavar="DURATION",
        type=duration,
        default=None if default is None else duration(default),
        help=f"articles first seen this long ago or later: 90m, 24h, 7d{shown}",
    )
    p.add_argument(
        "--feed", metavar="NAME", action="append", help="only this feed (name or URL; repeatable)"
    )
    p.add_argument("--lang", metavar="L", type=language_code, help="only articles in language L")


def language_code(text: str) -> str:
    """An ``argparse`` type: a language code a feed's ``language`` may be (the config's
    vocabulary), else an error listing them. A region subtag is dropped (``uk-UA``,
    ``uk_UA`` -> ``uk``): the window takes every region of the language anyway."""
    primary = text.strip().replace("_", "-").split("-", 1)[0].lower()
    try:
        return spec.language(primary)
    except ValueError:
        try:
            spec.language(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
        return text


def duration(value: str) -> float:
    """An ``argparse`` type: a duration (``7d``) in seconds, more than zero."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 7d, not {value!r}")
    return seconds


# -- output ----------------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor search QUERY``: see the module docstring."""
    config = load_config_if_any(ctx)
    try:
        matcher = compile_query(args.query, config)
        feeds = feed_urls(config, args.feed, ctx)
    except (QueryError, ValueError) as exc:
        print(f"error: {mask_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    if config is None:
        ctx.config()  # the database is the config's: this says which config is missing
    tz = config.monitor.timezone if config is not None else "UTC"
    info: list[Scan] = []
    found = scan(ctx, matcher, args.since, feeds=feeds, language=args.lang, stats=info.append)
    results: list[Found] = []
    limit = effective_limit(args)
    if args.json or args.csv:
        limited = False
        for item in found:
            if limit is not None and len(results) >= limit:
                limited = True  # one more than asked for: there are more
                break
            results.append(item)
        writer = write_json if args.json else write_csv
        writer(sys.stdout, args.query, info[0], results, limited)
        return EXIT_MATCHED if results else EXIT_NO_MATCH
    assert limit is not None
    width, mark = terminal_width(), use_marks()
    started = False
    for item in found:
        if not started:
            for line in reach_lines(info[0], tz):
                print(fit(line, width))
            started = True
        results.append(item)
        for line in article_lines(item, tz, width, mark=mark):
            print(line)
        if len(results) >= limit:
            break
    if not started:
        for line in reach_lines(info[0], tz):
            print(fit(line, width))
    print(summary_line(info[0], len(results), limit))
    return EXIT_MATCHED if results else EXIT_NO_MATCH


def effective_limit(args: argparse.Namespace) -> int | None:
    """``--limit`` as given; without it :data:`LISTED` for the listing and every match
    for ``--json`` and ``--csv`` (a file export is wanted whole). None: no limit."""
    if args.limit is not None:
        return int(args.limit)
    return None if args.json or args.csv else LISTED


def use_marks() -> bool:
    """Highlight matched words: on a terminal, unless ``NO_COLOR`` is set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def reach_lines(info: Scan, tz: str) -> list[str]:
    """The window, and how far back the stored history reaches (retention prunes it)."""
    oldest = format_time(info.reach.oldest, tz) if info.reach.oldest else None
    reach = f"stored history reaches back to {oldest}" if oldest else "nothing is stored yet"
    if info.retention_s is not None:  # older ones are pruned (matched ones kept, if so set)
        reach += f" (retention {_days(info.retention_s)})"
    else:
        reach += " (no retention)"
    return [f"{info.window:,} articles first seen since {format_time(info.since, tz)}", reach]


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g}d" if seconds >= 86400 else f"{seconds / 3600:g}h"


def summary_line(info: Scan, shown: int, limit: int) -> str:
    """What was found, and what the scan read (the prefilter's work)."""
    more = (
        f" (the {limit} newest; --limit N for more, --json or --csv for all)"
        if shown >= limit
        else ""
    )
    read = f"{info.read:,} of {info.window:,} read whole"
    if info.prefilter != "index":
        read += f", prefilter {info.prefilter}"
    return f"{shown} matching article{'' if shown == 1 else 's'}{more}; {read}"


def article_lines(item: Found, tz: str, width: int, *, mark: bool) -> Iterator[str]:
    """An article as the listing shows it: time, outlet, language, story; the title
    with its matched words marked; the link; the text's evidence, marked."""
    a = item.article
    head = (
        f"{format_time(a.first_seen_at, tz)}  {clean(a.outlet)}  {clean(a.language or '-')}  "
        f"story #{a.story_id}" + ("" if a.alertable else "  (backlog: not alerted)")
    )
    yield fit(head, width)
    spans = [(e.start, e.end) for m in item.matches for e in m.evidence if e.field == "title"]
    yield "  " + marked_line(a.title or "(no title)", spans, width - 2, mark=mark)
    if a.link:
        yield "  " + fit(clean(a.link), width - 2)
    yield from evidence_lines(item, width, mark=mark)


def evidence_lines(item: Found, width: int, *, mark: bool) -> Iterator[str]:
    """One line per distinct surface found: ``'Witkoff' <- 'Віткофф' in title (across
    scripts)`` and, for the text, a snippet with the surface marked."""
    seen: set[tuple[str, str, str]] = set()
    for m in item.matches:
        for e in m.evidence:
            if (e.term, e.surface, e.field) in seen:
                continue
            seen.add((e.term, e.surface, e.field))
            rule = f"{clean(m.rule)}: " if m.rule != QUERY_RULE else ""
            how = how_found(e.term, e.surface, e.score)
            yield fit(
                f"    {rule}{clean(e.term)!r} <- {clean(e.surface)!r} in {e.field} ({how})",
                width,
            )
            if e.field == "text" and e.start >= 0:
                text = item.article.text
                left, right = max(0, e.start - 50), min(len(text), e.end + 50)
                snippet = (
                    ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")
                )
                offset = e.start - left + (1 if left else 0)
                span = [(offset, offset + e.end - e.start)]
                yield "      " + marked_line(snippet, span, width - 6, mark=mark)


def clean(text: str) -> str:
    """A stored string as one printable line, secrets masked."""
    return scrub_line(mask_text(text))


def iso(at: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset, or None."""
    return at.astimezone(UTC).isoformat() if at else None


def result_json(item: Found) -> dict[str, Any]:
    """One article of ``--json``."""
    a = item.article
    return {
        "article_id": a.id,
        "first_seen": iso(a.first_seen_at),
        "published": iso(a.published_at),
        "outlet": clean(a.outlet),
        "feed_url": mask_text(a.feed_url),
        "language": a.language,
        "title": scrub_line(a.title),
        "link": mask_text(a.link) if a.link else None,
        "story_id": a.story_id,
        "alertable": a.alertable,
        "rules": [m.rule for m in item.matches],
        "evidence": [
            {
                "rule": m.rule,
                "term": e.term,
                "surface": scrub_line(e.surface),
                "field": e.field,
                "score": e.score,
                "how": how_found(e.term, e.surface, e.score),
            }
            for m in item.matches
            for e in m.evidence
        ],
    }


def history_json(info: Scan) -> dict[str, Any]:
    """The window and the history's reach, as ``--json`` has them."""
    return {
        "since": iso(info.since),
        "history": {
            "oldest": iso(info.reach.oldest),
            "newest": iso(info.reach.newest),
            "articles": info.reach.articles,
            "retention_s": info.retention_s,
            "keep_matched": info.keep_matched,
        },
        "scanned": info.window,
        "timing": {
            "scan_s": round(time.perf_counter() - info.started, 3),
            "first_result_s": None
            if info.first_result_s is None
            else round(info.first_result_s, 3),
            "read_whole": info.read,
            "candidates": info.candidates,
            "indexed": info.indexed,
            "prefilter": info.prefilter,
        },
    }


def write_json(out: TextIO, query: str, info: Scan, results: list[Found], limited: bool) -> None:
    """The ``--json`` document of ``search``."""
    doc = {
        "query": query,
        **history_json(info),
        "limited": limited,
        "results": [result_json(r) for r in results],
    }
    out.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def write_csv(out: TextIO, query: str, info: Scan, results: list[Found], limited: bool) -> None:
    """``--csv``: the header :data:`CSV_COLUMNS`, one row per article."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in results:
        writer.writerow(csv_row(item))


def csv_row(item: Found) -> list[str]:
    """One article as a CSV row (:data:`CSV_COLUMNS`)."""
    a = item.article
    evidence = [e for m in item.matches for e in m.evidence]
    return [
        iso(a.first_seen_at) or "",
        iso(a.published_at) or "",
        csv_text(mask_text(a.outlet)),
        a.language or "",
        csv_text(a.title),
        mask_text(a.link) if a.link else "",
        str(a.story_id),
        str(a.id),
        "true" if a.alertable else "false",
        " ".join(m.rule for m in item.matches),
        csv_text(" | ".join(dict.fromkeys(e.surface for e in evidence))),
        csv_text(
            " | ".join(
                f"{e.term} <- {e.surface} in {e.field} ({how_found(e.term, e.surface, e.score)})"
                for e in evidence
            )
        ),
    ]
