"""``monitor stories [--rule NAME] [--since 24h] [--limit N] [--json]``: the stories of the
articles seen lately, each with its outlets, languages, rules and articles.

Read-only: it opens the existing, migrated database (never creates or migrates one).
Lines fit the terminal (``COLUMNS``, else the terminal's width, else 80 columns): long
titles and links are cut with an ellipsis; ``--json`` has them whole. Every string from
a feed is scrubbed to one line.

The ``--json`` shape (stable; new keys may be added). Times are ISO 8601 in UTC with
their offset; ``until`` is null when the store does not know it::

    {"since": "2026-12-02T18:30:00+00:00", "rule": null | "NAME",
     "stories": [{"id": 12, "first_seen": TIME, "last_seen": TIME,
                  "article_count": 3, "outlet_count": 2,
                  "outlets": ["Ukrainska Pravda", "Reuters"], "languages": ["uk", "en"],
                  "rules": [{"rule": "witkoff", "matched_at": TIME,
                             "alerted": true, "alerted_at": TIME | null}],
                  "articles": [{"id": 12, "first_seen": TIME, "published": TIME | null,
                                "outlet": "Reuters", "language": "en" | null,
                                "title": "...", "link": "https://..." | null,
                                "reason": "new" | "same_link" | "near_duplicate" | "linked"
                                          | "same_story" | null,
                                "score": 0-100 | null,
                                "title_history": [{"title": "...", "until": TIME | null}]}]}]}
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.cli.alerts import count
from monitor.cli.context import Context
from monitor.cli.output import fit, terminal_width
from monitor.config.units import parse_duration
from monitor.notify.format import format_time
from monitor.secrets import mask_text
from monitor.store.db import session_scope
from monitor.store.story_views import Story, StoryArticle, recent_stories, stored_rules
from monitor.text import scrub_line

EXIT_USAGE = 2
SHOWN_ARTICLES = 20  # per story in the table; --json lists every one
SHOWN_TITLES = 3  # older headlines of an edited article in the table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stories``."""
    p = sub.add_parser("stories", help="recent stories: articles, outlets, languages, alerts")
    p.add_argument("--rule", metavar="NAME", help="only stories that this rule matched")
    p.add_argument(
        "--since",
        metavar="DURATION",
        type=_duration,
        default=24 * 3600.0,
        help="stories with an article first seen this long ago or later (default: 24h)",
    )
    p.add_argument(
        "--limit",
        type=count,
        default=20,
        metavar="N",
        help="how many stories, 1 or more (default: 20)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a listing")
    p.set_defaults(handler=cmd_stories)


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_stories(args: argparse.Namespace, ctx: Context) -> int:
    """``monitor stories``: the stories seen most recently first; exit 2 for an unknown rule."""
    config = ctx.config()
    since = datetime.now(UTC) - timedelta(seconds=args.since)
    with session_scope(ctx.session_factory()) as s:
        if args.rule is not None:
            known = dict.fromkeys([*config.matcher.rule_names, *stored_rules(s)])
            if args.rule not in known:
                print(f"error: {unknown_rule(args.rule, list(known))}", file=sys.stderr)
                return EXIT_USAGE
        stories = recent_stories(s, since, rule=args.rule, limit=args.limit)
    if args.json:
        print(json.dumps(stories_json(stories, since, args.rule), ensure_ascii=False, indent=2))
        return 0
    tz = config.monitor.timezone
    if not stories:
        which = f" with a match of rule {_clean(args.rule)}" if args.rule else ""
        print(f"no stories since {format_time(since, tz)}{which}")
        return 0
    width = terminal_width()
    for i, story in enumerate(stories):
        if i:
            print()
        for line in story_lines(story, tz):
            print(fit(line, width))
    if len(stories) == args.limit:
        print()
        print(fit(f"(the {len(stories)} most recent; --limit N for more)", width))
    return 0


def unknown_rule(name: str, known: list[str]) -> str:
    """``unknown rule 'witkof'; did you mean 'witkoff'? rules: ...``. No I/O."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    rules = ", ".join(_clean(r) for r in known) or "none"
    return f"unknown rule {_clean(name)!r}{hint} rules: {fit(rules, 200)}"


def story_lines(story: Story, tz: str) -> Iterator[str]:
    """A story as uncut lines: its head, outlets, rules, then each article (time, outlet,
    language, why it joined; title, link, older headlines). No I/O."""
    n = len(story.articles)
    yield (
        f"#{story.id}  {_count(n, 'article')} · {_count(len(story.outlets), 'outlet')} · "
        f"{', '.join(_clean(lang) for lang in story.languages) or 'language unknown'} · "
        f"first seen {format_time(story.first_seen_at, tz)}"
    )
    yield f"  outlets: {', '.join(_clean(o) for o in story.outlets)}"
    if story.rules:
        yield "  rules: " + " · ".join(
            f"{_clean(r.rule)} alerted {format_time(r.alerted_at, tz)}"
            if r.alerted_at
            else f"{_clean(r.rule)} matched, no alert"
            for r in story.rules
        )
    for article in story.articles[:SHOWN_ARTICLES]:
        yield from article_lines(article, tz)
    if n > SHOWN_ARTICLES:
        yield f"  … {n - SHOWN_ARTICLES} more articles (--json lists them all)"


def article_lines(article: StoryArticle, tz: str) -> Iterator[str]:
    """One article of a story: a line of facts, the title, the link, older headlines."""
    why = article.reason or "-"
    if article.score is not None and article.reason not in (None, "new"):
        why += f" ({article.score})"
    lang = _clean(article.language or "-")
    yield f"  {format_time(article.first_seen_at, tz)}  {_clean(article.outlet)}  {lang}  {why}"
    yield f"    {_clean(article.title) or '(no title)'}"
    if article.link:
        yield f"    {_clean(article.link)}"  # cut to the width: --json has it whole
    older = article.older_titles[::-1]  # the latest headline it replaced first
    for old in older[:SHOWN_TITLES]:
        until = f"until {format_time(old.until, tz)}" if old.until else "before"
        yield f"    {until}: {_clean(old.title)}"
    if len(older) > SHOWN_TITLES:
        yield f"    … {len(older) - SHOWN_TITLES} older headlines (--json lists them all)"


def stories_json(stories: list[Story], since: datetime, rule: str | None) -> dict[str, Any]:
    """The ``--json`` document (the shape in this module's docstring). No I/O."""
    return {
        "since": since.isoformat(),
        "rule": rule,
        "stories": [
            {
                "id": s.id,
                "first_seen": _iso(s.first_seen_at),
                "last_seen": _iso(s.last_seen_at),
                "article_count": len(s.articles),
                "outlet_count": len(s.outlets),
                "outlets": [_clean(o) for o in s.outlets],
                "languages": list(s.languages),
                "rules": [
                    {
                        "rule": r.rule,
                        "matched_at": _iso(r.matched_at),
                        "alerted": r.alerted_at is not None,
                        "alerted_at": _iso(r.alerted_at),
                    }
                    for r in s.rules
                ],
                "articles": [_article_json(a) for a in s.articles],
            }
            for s in stories
        ],
    }


def _article_json(a: StoryArticle) -> dict[str, Any]:
    return {
        "id": a.id,
        "first_seen": _iso(a.first_seen_at),
        "published": _iso(a.published_at),
        "outlet": _clean(a.outlet),
        "language": a.language,
        "title": scrub_line(a.title),
        "link": mask_text(a.link) if a.link else None,
        "reason": a.reason,
        "score": a.score,
        "title_history": [
            {"title": scrub_line(t.title), "until": _iso(t.until)} for t in a.older_titles
        ],
    }


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def _clean(text: str) -> str:
    """A stored string as one printable line, secrets masked (a feed's name or title)."""
    return scrub_line(mask_text(text))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
