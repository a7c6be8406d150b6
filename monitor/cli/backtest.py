"""``monitor test-rule (--query Q | --rule NAME) --since 7d``: a backtest.

Runs a query, one configured rule or every configured rule over the stored articles of
the window with the daemon's matcher (the scan of :mod:`monitor.cli.search`) and prints
what it would have caught: time, outlet, language, title, link and the evidence of
each article (which rendering matched: exact, another form, across scripts, fuzzy),
then how many alerts that would have been per day, per rule, after story grouping: a
story alerts once, on the day of its first matching article; backlog articles (the
first poll of a feed) never alert. It sends nothing and changes nothing in the
database (the key index beside it is a cache, :mod:`monitor.store.history`).

Exit status as for ``test-rule``: 0 = some article matched, 1 = none, 2 = usage.

The ``--json`` shape (stable; new keys may be added)::

    {"rules": ["witkoff"], "query": "..."|null, "since": TIME,
     "history": {"oldest": TIME|null, "newest": TIME|null, "articles": 1234},
     "scanned": 1200, "matched": 14, "timezone": "Europe/Kyiv",
     "per_day": [{"date": "2026-12-03", "rule": "witkoff", "matches": 5, "alerts": 3}],
     "articles": [... as in ``monitor search --json`` ...], "limited": false}

``--csv`` lists the articles as ``monitor search --csv`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.cli.context import Context
from monitor.cli.output import fit, terminal_width
from monitor.cli.scan import Found, Scan, feed_urls, scan
from monitor.cli.search import (
    EXIT_MATCHED,
    EXIT_NO_MATCH,
    EXIT_USAGE,
    LISTED,
    article_lines,
    clean,
    effective_limit,
    history_json,
    reach_lines,
    result_json,
    use_marks,
    write_csv,
)
from monitor.config import Config
from monitor.match import Matcher

DayKey = tuple[str, str]  # (date, rule)


def run_backtest(
    args: argparse.Namespace,
    ctx: Context,
    matcher: Matcher,
    config: Config | None,
    rule: str | None,
) -> int:
    """Backtest ``rule`` (None: every rule of ``matcher``) over ``--since``."""
    try:
        feeds = feed_urls(config, args.feed, ctx)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    tz = config.monitor.timezone if config is not None else "UTC"
    info: list[Scan] = []
    found = [
        Found(f.article, tuple(m for m in f.matches if rule is None or m.rule == rule))
        for f in scan(ctx, matcher, args.since, feeds=feeds, language=args.lang, stats=info.append)
    ]
    found = [f for f in found if f.matches]
    days = per_day(found, tz)
    rules = [rule] if rule else list(matcher.rule_names)
    limit = effective_limit(args)
    listed = found if limit is None else found[:limit]
    if args.json:
        doc = {
            "rules": rules,
            "query": args.query,
            **history_json(info[0]),
            "matched": len(found),
            "timezone": tz,
            "per_day": [
                {"date": d, "rule": r, "matches": n, "alerts": a} for (d, r), (n, a) in days.items()
            ],
            "articles": [result_json(f) for f in listed],
            "limited": len(listed) < len(found),
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    elif args.csv:
        write_csv(sys.stdout, args.query or "", info[0], listed, len(listed) < len(found))
    else:
        print_report(info[0], found, days, rules, tz, LISTED if limit is None else limit)
    return EXIT_MATCHED if found else EXIT_NO_MATCH


def per_day(found: list[Found], tz: str) -> dict[DayKey, tuple[int, int]]:
    """``(date, rule) -> (matching articles, alerts)``, oldest day first. An alert is a
    story's first alertable match of the rule (a story alerts once; later articles of it
    are replies, a backlog article never alerts). No I/O."""
    zone = ZoneInfo(tz)
    matches: Counter[DayKey] = Counter()
    first: dict[tuple[str, int], datetime] = {}
    for f in found:
        a = f.article
        for m in f.matches:
            matches[(_day(a.first_seen_at, zone), m.rule)] += 1
            key = (m.rule, a.story_id)
            if a.alertable and (key not in first or a.first_seen_at < first[key]):
                first[key] = a.first_seen_at
    alerts: Counter[DayKey] = Counter(
        (_day(at, zone), rule_name) for (rule_name, _story), at in first.items()
    )
    return {k: (matches[k], alerts[k]) for k in sorted(matches)}


def _day(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).date().isoformat()


def backtest_summary(info: Scan, found: list[Found]) -> str:
    """``N matching articles in S stories; R of W read whole``: S counts each story once,
    however many rules matched it (the per-rule counts are in the table below). Never cut
    to the width: it may carry the prefilter's notice."""
    stories = {f.article.story_id for f in found}
    line = (
        f"{len(found)} matching article{'' if len(found) == 1 else 's'} in "
        f"{len(stories)} stor{'y' if len(stories) == 1 else 'ies'}; "
        f"{info.read:,} of {info.window:,} read whole"
    )
    if info.prefilter != "index":
        line += f", prefilter {info.prefilter}"
    return line


def print_report(
    info: Scan,
    found: list[Found],
    days: dict[DayKey, tuple[int, int]],
    rules: list[str],
    tz: str,
    limit: int,
) -> None:
    """The human report: the window, each article with its evidence, then per day."""
    width, mark = terminal_width(), use_marks()
    which = ", ".join(clean(r) for r in rules) or "none"
    print(fit(f"backtest of {which}: nothing is sent, nothing is stored", width))
    for line in reach_lines(info, tz):
        print(fit(line, width))
    print()
    for item in found[:limit]:
        for line in article_lines(item, tz, width, mark=mark):
            print(line)
    if len(found) > limit:
        print(f"… {len(found) - limit} more (--limit N, or --json or --csv for them all)")
    print(backtest_summary(info, found))
    if not days:
        return
    print()
    rule_w = min(24, max(len("RULE"), *(len(clean(r)) for _, r in days)))
    print(f"{'DAY':<10}  {'RULE':<{rule_w}}  {'MATCHES':>7}  {'ALERTS':>6}")
    for (day, rule), (n, alerts) in days.items():
        print(f"{day:<10}  {fit(clean(rule), rule_w):<{rule_w}}  {n:>7}  {alerts:>6}")
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, rule), (n, alerts) in days.items():
        total[rule][0] += n
        total[rule][1] += alerts
    for rule, (n, alerts) in total.items():
        print(f"{'total':<10}  {fit(clean(rule), rule_w):<{rule_w}}  {n:>7}  {alerts:>6}")
    print(fit(f"(ALERTS: one per story, on the day of its first article; days in {tz})", width))
