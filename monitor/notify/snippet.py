"""A short excerpt of an article around the matched terms, with the terms marked. No I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.records import Evidence


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of snippet text; ``hit`` marks a matched term."""

    text: str
    hit: bool = False


def matched_terms(evidence: Sequence[Evidence]) -> tuple[str, ...]:
    """The distinct surface forms of the evidence, in order of first appearance."""
    seen: dict[str, None] = {}
    for ev in evidence:
        if ev.surface and ev.surface.casefold() not in {s.casefold() for s in seen}:
            seen[ev.surface] = None
    return tuple(seen)


def _spans(text: str, surfaces: Sequence[str]) -> list[tuple[int, int]]:
    """Every non-overlapping (start, end) of any surface in ``text``, case-insensitive."""
    if not surfaces:
        return []
    # a surface's spaces also match the line break between two paragraphs
    escaped = {re.escape(s).replace(r"\ ", r"\s+") for s in surfaces if s}
    alternatives = sorted(escaped, key=len, reverse=True)
    pattern = re.compile("|".join(alternatives), re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


_WORD_SLACK = 20  # characters a cut may move to fall between two words


def _word_bounds(text: str, start: int, end: int, keep: int | None) -> tuple[int, int]:
    """``start``/``end`` moved (by up to :data:`_WORD_SLACK` characters, inwards) to fall
    between words, so a snippet never begins or ends in the middle of one; the first
    matched term (at ``keep``) stays inside."""
    if 0 < start < len(text) and not text[start - 1].isspace():
        gap = next(
            (i for i in range(start, min(start + _WORD_SLACK, len(text))) if text[i].isspace()),
            None,
        )
        if gap is not None and (keep is None or gap < keep):
            start = gap + 1
    if 0 < end < len(text) and not text[end].isspace():
        gap = next(
            (i for i in range(end - 1, max(start, end - _WORD_SLACK), -1) if text[i].isspace()),
            None,
        )
        if gap is not None and gap > start:
            end = gap
    return start, end


def make_snippet(
    text: str, evidence: Sequence[Evidence], max_chars: int = 300
) -> tuple[Segment, ...]:
    """Up to ``max_chars`` of ``text`` centred on the first matched term, terms marked.

    Falls back to the start of the text when no term occurs in it (matched in the title).
    Line breaks (the article's paragraphs) are kept, one ``\n`` each; other whitespace
    runs become one space.
    """
    text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    if max_chars <= 0 or not text:
        return ()
    spans = _spans(text, matched_terms(evidence))
    first = spans[0][0] if spans else 0
    start = max(0, min(first - max_chars // 3, len(text) - max_chars))
    end = min(len(text), start + max_chars)
    start, end = _word_bounds(text, start, end, first if spans else None)
    segments: list[Segment] = [Segment("…")] if start > 0 else []
    pos = start
    for a, b in spans:
        if a < start or b > end:
            continue
        if a > pos:
            segments.append(Segment(text[pos:a]))
        segments.append(Segment(text[a:b], hit=True))
        pos = b
    if pos < end:
        segments.append(Segment(text[pos:end]))
    if end < len(text):
        segments.append(Segment("…"))
    return tuple(segments)
