"""``monitor test-rule``: which rules match a text, and why.

``monitor test-rule (--text T | --file PATH | --url URL) [--rule NAME | --query Q] [--json]
[--title T] [--language L]`` runs the configured rules (or, with ``--query``, one query
compiled on the spot as the rule ``query``, its @groups from the config when one is
given or found; the config is not needed otherwise) (the same compiled matcher
the daemon uses) over one text and prints, per matching rule, each term, the surface
form found, where (title/text), its score and a snippet; with ``--rule`` and no match, it
says why (the language check, each term found or not). Exit 0 when some rule
matched, 1 when none did, 2 for an unknown ``--rule``, an unreadable ``--file`` or a
``--url`` that cannot be fetched (one line: ``cannot fetch URL: <kind>: <message>``).

With ``--since DURATION`` instead of a text it is a backtest over the stored articles
(``[--feed NAME] [--lang L] [--limit N] [--json | --csv]``, :mod:`monitor.cli.backtest`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor.cli.alerts import count
from monitor.cli.context import Context
from monitor.cli.scan import compile_query, load_config_if_any
from monitor.cli.search import window_options
from monitor.config import Config, spec
from monitor.config.spec import LANGUAGES
from monitor.errors import FetchError, QueryError
from monitor.match import Matcher, compile_rules
from monitor.match.explain import describe_matches, describe_report, matches_json
from monitor.records import Document, FetchSettings, RuleConfig
from monitor.secrets import mask_text, mask_url

QUERY_RULE = "query"  # the rule name a --query is matched and reported under
EXIT_MATCHED = 0
EXIT_NO_MATCH = 1
EXIT_USAGE = 2

EXIT_CODES = (
    "exit status: 0 = some rule matched, 1 = no rule matched, "
    "2 = unknown --rule, a --query that does not compile (or names an unknown @group), "
    "unreadable --file or --url that cannot be fetched"
)
# Feed-polling advice in fetch messages that means nothing for a one-off page fetch.
_FEED_ADVICE = re.compile(r";\s*we retry\b.*$|\s*\(raise the feed's interval[^)]*\)", re.S)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``test-rule`` subcommand."""
    p = subparsers.add_parser(
        "test-rule",
        help="show which rules match a text and why",
        description="Run the configured rules over one text and show the evidence.",
        epilog=EXIT_CODES,
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", help="the article text")
    source.add_argument("--file", metavar="PATH", help="read the article text from a file")
    source.add_argument("--url", help="fetch the page and extract its main text")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--rule", metavar="NAME", help="only this rule")
    which.add_argument(
        "--query",
        metavar="QUERY",
        help="try this query instead of the configured rules (@groups from the config)",
    )
    p.add_argument("--title", default="", help="the article title (default: none)")
    p.add_argument(
        "--language",
        metavar="L",
        type=language_code,
        help=f"one of {', '.join(sorted(LANGUAGES))}; default: detected from the text",
    )
    p.add_argument("--json", action="store_true", help="print the matches as JSON")
    history = p.add_argument_group(
        "backtest", "instead of one text: the stored articles of a window (docs/history.md)"
    )
    window_options(history, default=None)
    history.add_argument(
        "--limit",
        type=count,
        default=None,
        metavar="N",
        help="articles listed (default 50; --json and --csv: all)",
    )
    history.add_argument("--csv", action="store_true", help="print the articles as CSV")
    p.set_defaults(handler=cmd_test_rule)


def language_code(text: str) -> str:
    """An ``argparse`` type: a language code a feed's ``language`` may be (the config's
    vocabulary, :data:`~monitor.config.spec.LANGUAGES`), else an error listing them."""
    try:
        return spec.language(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_test_rule(args: argparse.Namespace, ctx: Context) -> int:
    """Match one document against the configured rules; print the evidence. With
    ``--since``: a backtest over the stored articles (:mod:`monitor.cli.backtest`)."""
    problem = _usage_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.since is not None:
        return _backtest(args, ctx)
    if args.query is not None:
        return _test_query(args, ctx)
    config = ctx.config()
    matcher = config.matcher
    if args.rule and args.rule not in matcher.rule_names:
        known = ", ".join(matcher.rule_names) or "none"
        print(f"error: unknown rule {args.rule!r}; rules: {known}", file=sys.stderr)
        return EXIT_USAGE
    return _report(args, matcher, config.fetch, args.rule)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options, or None."""
    sources = [o for o in ("text", "file", "url") if getattr(args, o) is not None]
    backtest = [o for o in ("feed", "lang") if getattr(args, o)] + (["csv"] if args.csv else [])
    if args.since is None and not sources:
        return "give --text, --file or --url (one text), or --since (a backtest)"
    if args.since is not None and sources:
        return f"--since backtests the stored articles: it takes no --{sources[0]}"
    if args.since is not None and (args.title or args.language):
        return "--title and --language describe one text: a backtest reads them from the store"
    if args.since is None and backtest:
        return f"--{backtest[0]} needs --since (a backtest)"
    if args.json and args.csv:
        return "--json and --csv exclude each other"
    return None


def _backtest(args: argparse.Namespace, ctx: Context) -> int:
    """``--since``: the query (or configured rule, or every rule) over the stored window."""
    from monitor.cli.backtest import run_backtest  # imported only for a backtest

    if args.query is not None:
        config = load_config_if_any(ctx)
        try:
            matcher = compile_query(args.query, config)
        except QueryError as exc:
            print(f"error: --query: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return run_backtest(args, ctx, matcher, config, QUERY_RULE)
    config = ctx.config()
    if args.rule and args.rule not in config.matcher.rule_names:
        known = ", ".join(config.matcher.rule_names) or "none"
        print(f"error: unknown rule {args.rule!r}; rules: {known}", file=sys.stderr)
        return EXIT_USAGE
    return run_backtest(args, ctx, config.matcher, config, args.rule)


def _test_query(args: argparse.Namespace, ctx: Context) -> int:
    """``--query``: compile the query alone as rule ``query`` (its @groups from the config
    when there is one) and report it like a configured rule."""
    config: Config | None = None
    if getattr(args, "config", None) or Path(ctx.config_path).exists():
        config = ctx.config()
    terms = config.terms if config is not None else {}
    try:
        matcher = compile_rules([RuleConfig(name=QUERY_RULE, query=args.query)], terms)
    except QueryError as exc:
        print(f"error: --query: {exc}", file=sys.stderr)
        return EXIT_USAGE
    fetch = config.fetch if config is not None else FetchSettings()
    return _report(args, matcher, fetch, QUERY_RULE if not args.json else None)


def _report(
    args: argparse.Namespace, matcher: Matcher, fetch: FetchSettings, rule: str | None
) -> int:
    """Read the document, match it, print the evidence (or why ``rule`` missed)."""
    try:
        doc = _document(args, fetch)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except FetchError as exc:
        print(fetch_failure(exc, args.url), file=sys.stderr)
        return EXIT_USAGE
    matches = [m for m in matcher.match(doc) if not rule or m.rule == rule]
    if args.json:
        print(json.dumps(matches_json(matches), ensure_ascii=False))
    elif rule and not matches:
        print(describe_report(matcher.explain(doc, rule), doc))
    else:
        print(describe_matches(matches, doc))
    return EXIT_MATCHED if matches else EXIT_NO_MATCH


def fetch_failure(exc: FetchError, url: str) -> str:
    """One line for a ``--url`` page that could not be fetched, secrets masked and without
    the feed-polling advice (retries, feed URLs) that does not apply here. No I/O."""
    if exc.kind in ("http_status", "rate_limited") and " answered " in exc.message:
        message = f"{mask_url(url)} answered HTTP {exc.status}"
    else:
        message = _FEED_ADVICE.sub("", exc.message)
    return mask_text(" ".join(f"cannot fetch URL: {exc.kind}: {message}".split()))


def _document(args: argparse.Namespace, fetch: FetchSettings) -> Document:
    title, text = args.title, args.text
    if args.file is not None:
        text = Path(args.file).read_text(encoding="utf-8", errors="replace")
    elif args.url is not None:
        fetched_title, text = fetch_article(args.url, fetch)
        title = title or fetched_title
    return Document(title=title, text=text or "", language=args.language)


def fetch_article(url: str, settings: FetchSettings) -> tuple[str, str]:
    """One-shot, for ``--url``: fetch the page and extract ``(title, text)`` within the
    daemon's bounds (a parse worker); raises ``FetchError``."""
    from monitor.fetch.article import fetch_article_async  # imported only when used
    from monitor.fetch.client import FeedClient
    from monitor.parse.pool import ParsePool

    async def run() -> tuple[str, str]:
        pool = ParsePool(max_workers=1, timeout_s=settings.parse_timeout_s)
        async with FeedClient(settings) as client, pool:
            page = await fetch_article_async(
                client, url, now=datetime.now(UTC), feed=None, extract=pool.extract
            )
            return page.title, page.text

    return asyncio.run(run())
