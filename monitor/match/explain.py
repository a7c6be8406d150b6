"""Human-readable explanations of matches (for ``monitor test-rule``). No I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypedDict

from monitor.match.matcher import RuleReport
from monitor.records import Document, Evidence, EvidenceField, Match

SNIPPET_CHARS = 40


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """``…context [surface] context…`` on one line, ``width`` characters each side."""
    left = max(0, start - width)
    right = min(len(text), end + width)
    before = text[left:start].replace("\n", " ")
    after = text[end:right].replace("\n", " ")
    return (
        ("…" if left > 0 else "")
        + before
        + "["
        + text[start:end]
        + "]"
        + after
        + ("…" if right < len(text) else "")
    )


_CYRILLIC = re.compile(r"[\u0400-\u052f]")


def how_found(term: str, surface: str, score: int) -> str:
    """How a surface relates to its term: "exact" (the same but for case), "another
    form" (same script: an inflection, a spelling), "across scripts" (a rendering of the
    name in another script) or "fuzzy N"."""
    if score < 100:
        return f"fuzzy {score}"
    if " ".join(term.casefold().split()) == " ".join(surface.casefold().split()):
        return "exact"
    if bool(_CYRILLIC.search(term)) != bool(_CYRILLIC.search(surface)):
        return "across scripts"
    return "another form"


_HOW_ORDER = ("exact", "another form", "across scripts")


def describe_evidence(ev: Evidence, doc: Document, terms: Sequence[str] = ()) -> str:
    """One line: the term (or every term that found this same surface: the members of a
    @group), the surface form, field, how it was found and a snippet around it."""
    terms = tuple(terms) or (ev.term,)
    hows = [how_found(t, ev.surface, ev.score) for t in terms]
    how = min(hows, key=lambda h: _HOW_ORDER.index(h) if h in _HOW_ORDER else len(_HOW_ORDER))
    line = f"  {', '.join(repr(t) for t in terms)} <- {ev.surface!r} in {ev.field} ({how})"
    if ev.start >= 0:
        text = doc.title if ev.field == "title" else doc.text
        line += f"\n      {snippet(text, ev.start, ev.end)}"
    return line


def _describe_all(evidence: Sequence[Evidence], doc: Document) -> list[str]:
    """The lines of ``evidence``, one per surface found (the terms that found the same
    surface at the same place are named together)."""
    found: dict[tuple[str, str, int, int, int], list[Evidence]] = {}
    for ev in evidence:
        found.setdefault((ev.surface, ev.field, ev.start, ev.end, ev.score), []).append(ev)
    return [
        describe_evidence(same[0], doc, tuple(dict.fromkeys(e.term for e in same)))
        for same in found.values()
    ]


def describe_matches(matches: Sequence[Match], doc: Document) -> str:
    """The human report of ``monitor test-rule``: each rule with its evidence."""
    if not matches:
        return "no rule matched"
    lines = []
    for match in matches:
        lines.append(f"rule {match.rule}: matched")
        lines.extend(_describe_all(match.evidence, doc))
    return "\n".join(lines)


def describe_report(report: RuleReport, doc: Document) -> str:
    """Why one rule did not match: the language check and each term found or not."""
    lines = [f"rule {report.rule}: {'matched' if report.matched else 'no match'}"]
    if report.languages:
        ok = "ok" if report.language in report.languages else "SKIPPED"
        wanted = ", ".join(report.languages)
        lines.append(f"  language: {report.language or 'unknown'} (rule wants: {wanted}) {ok}")
    for label, evidence in report.terms:
        if not evidence:
            lines.append(f"  {label!r}: not found")
        lines.extend(_describe_all(evidence, doc))
    return "\n".join(lines)


class EvidenceJSON(TypedDict):
    """One evidence entry of :func:`matches_json`."""

    term: str
    surface: str
    field: EvidenceField
    score: int


class MatchJSON(TypedDict):
    """One matching rule of :func:`matches_json`."""

    rule: str
    evidence: list[EvidenceJSON]


def matches_json(matches: Sequence[Match]) -> dict[str, list[MatchJSON]]:
    """``{"matched": [{"rule", "evidence": [{"term", "surface", "field", "score"}]}]}``."""
    return {
        "matched": [
            {
                "rule": m.rule,
                "evidence": [
                    {"term": e.term, "surface": e.surface, "field": e.field, "score": e.score}
                    for e in m.evidence
                ],
            }
            for m in matches
        ]
    }
