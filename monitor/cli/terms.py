"""``monitor terms show NAME|@group [--json]``: what a rule word covers.

Prints the renderings and case forms the matcher accepts for a rule word or phrase as a
rule writes it (``Trump``, ``"Steve Witkoff"``, ``коаліція``), or for each member of a
configured ``[terms]`` group (``@coalition``; the group needs the config, a bare word
does not), each rendering with its origin: ``written``, ``alias`` (a group member),
``spelling``, ``sound``, ``transcription``, ``place``, or a newer origin of the matcher. Every form
shown was verified by matching it with the compiled rule
(:mod:`monitor.match.coverage`). Exit 0; 2 for a query or an empty or over-long term, an
unknown group or a config error.

The ``--json`` shape (stable; new keys may be added)::

    {"term": "Trump", "name": true,
     "renderings": [{"text": "Трамп", "origin": "sound", "forms": ["Трампа", ...],
                     "missed": []}, ...],
     "notes": ["lower-case «трамп» is not matched: names match capitalised only"]}

and for a group ``{"term": "@coalition", "group": "coalition", "members": [<the object
above, one per member>]}``. Plain text, no colours; a closed pipe (``| head``) ends the
output quietly, as for every command.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from typing import Any

from monitor.cli.context import Context
from monitor.match.coverage import Coverage, GroupCoverage, group_coverage, term_coverage
from monitor.match.lint import suggest_group
from monitor.match.tokens import TOKEN_RE

EXIT_OK = 0
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``terms show``."""
    p = subparsers.add_parser("terms", help="what rule words and [terms] groups cover")
    sub = p.add_subparsers(dest="terms_command", metavar="TERMS_COMMAND", required=True)
    s = sub.add_parser(
        "show",
        help="the renderings and case forms the matcher accepts for a word or @group",
        description="Print every rendering and case form the matcher accepts for a rule "
        "word, phrase or @group, with its origin (each one verified with the matcher).",
        epilog="exit status: 0 = shown, 2 = not a word or phrase, unknown @group, or a config error",
    )
    s.add_argument("term", metavar="NAME|@group", help='a rule word or phrase, or "@group"')
    s.add_argument("--json", action="store_true", help="print the coverage as JSON")
    s.set_defaults(handler=cmd_terms_show)


def cmd_terms_show(args: argparse.Namespace, ctx: Context) -> int:
    """Show the coverage of one term or group."""
    term: str = args.term
    if term.startswith("@"):
        terms = ctx.config().terms
        try:
            group = group_coverage(term, terms)
        except KeyError:
            known = ", ".join(f"@{name}" for name in terms) or "none"
            hint = suggest_group(term[1:], terms)
            print(f"error: unknown group {term}{hint} ([terms] groups: {known})", file=sys.stderr)
            return EXIT_USAGE
        data: dict[str, Any] = group_json(group)
        lines = group_lines(group)
    else:
        problem = _not_a_term(term)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        coverage = term_coverage(term)
        data, lines = coverage_json(coverage), coverage_lines(coverage)
    _emit([json.dumps(data, ensure_ascii=False)] if args.json else lines)
    return EXIT_OK


_OPERATORS = ("AND", "OR", "NOT")
MAX_WORDS = 6  # a name of more words is a sentence: its renderings multiply past use


def _not_a_term(term: str) -> str | None:
    """Why ``term`` is not one word or phrase ``terms show`` can list, or None."""
    words = TOKEN_RE.findall(term.strip().strip('"'))
    if not words:
        return "terms show needs a word or phrase, e.g. Trump or '\"Steve Witkoff\"'"
    operators = [w for w in words if w in _OPERATORS] + re.findall(r"NEAR/\d+|[()@]", term)
    if operators and not term.strip().startswith('"'):
        return (
            f"{term!r} is a query ({operators[0]}): terms show lists one word or phrase; "
            "try each term, or test-rule --query to try the query"
        )
    if len(words) > MAX_WORDS:
        return f"terms show lists names of up to {MAX_WORDS} words ({len(words)} given)"
    return None


def coverage_json(coverage: Coverage) -> dict[str, Any]:
    """The documented JSON object of one term."""
    return {
        "term": coverage.term,
        "name": coverage.is_name,
        "renderings": [
            {"text": r.text, "origin": r.origin, "forms": list(r.forms), "missed": list(r.missed)}
            for r in coverage.renderings
        ],
        "notes": list(coverage.notes),
    }


def group_json(group: GroupCoverage) -> dict[str, Any]:
    """The documented JSON object of a group: one term object per member."""
    return {
        "term": f"@{group.group}",
        "group": group.group,
        "members": [coverage_json(m) for m in group.members],
    }


def coverage_lines(coverage: Coverage, indent: str = "") -> list[str]:
    """Human lines: the term, one line per rendering (origin, forms), misses, notes."""
    kind = "a name: capitalised words, across scripts" if coverage.is_name else "a word or phrase"
    lines = [f"{indent}{coverage.term}  ({kind})"]
    width = max((len(r.text) for r in coverage.renderings), default=0)
    for r in coverage.renderings:
        forms = ", ".join(r.forms) or "-"
        lines.append(f"{indent}  {r.text:<{width}}  {r.origin:<10} {forms}")
        if r.missed:
            lines.append(f"{indent}  {'':<{width}}  {'':<10} not matched: {', '.join(r.missed)}")
    lines += [f"{indent}  note: {note}" for note in coverage.notes]
    return lines


def group_lines(group: GroupCoverage) -> list[str]:
    """Human lines of a group: a heading, then each member (an alias) as a term."""
    lines = [f"@{group.group}: {len(group.members)} members, any of them matches (alias)"]
    for member in group.members:
        lines += coverage_lines(member, indent="  ")
    return lines


def _emit(lines: Iterable[str]) -> None:
    """Print ``lines`` (a closed pipe is :func:`monitor.cli.main`'s to handle)."""
    for line in lines:
        print(line)
