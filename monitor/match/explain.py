"""Human-readable explanations of matches (for ``monitor test-rule``). No I/O."""

from __future__ import annotations

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


def describe_evidence(ev: Evidence, doc: Document) -> str:
    """One line: term, surface form, field, score and a snippet around it."""
    how = "exact" if ev.score == 100 else f"fuzzy {ev.score}"
    line = f"  {ev.term!r} <- {ev.surface!r} in {ev.field} ({how})"
    if ev.start >= 0:
        text = doc.title if ev.field == "title" else doc.text
        line += f"\n      {snippet(text, ev.start, ev.end)}"
    return line


def describe_matches(matches: Sequence[Match], doc: Document) -> str:
    """The human report of ``monitor test-rule``: each rule with its evidence."""
    if not matches:
        return "no rule matched"
    lines = []
    for match in matches:
        lines.append(f"rule {match.rule}: matched")
        lines.extend(describe_evidence(ev, doc) for ev in match.evidence)
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
        lines.extend(describe_evidence(ev, doc) for ev in evidence)
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
