"""Evaluating compiled queries against one document's term hits. No I/O.

:class:`Run` answers "does this rule hold?" and gathers its evidence in the same pass:
an AND stops at its first false part (cheap parts first), a term contributes a
reference to its hits (not a copy), a NEAR the first hit of each surface that has a
partner (:mod:`monitor.match.near`). What a NEAR operand is in the document (its
positions, its hits grouped by surface) is built once and shared by every rule.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

from monitor.match.compiled import AllOf, AnyOf, AnyTerm, Bound, Close, NoneOf, TermRef
from monitor.match.evidence import Surfaces
from monitor.match.index import Hit
from monitor.match.near import (
    TEXT_BASE,
    Positions,
    SpanList,
    first_near,
    pair_spans,
    partnered,
)

# One term occurrence, as evidence: (term id, index into that term's hits).
Part = tuple[int, int]
PartSpan = tuple[int, int, tuple[Part, ...]]

# A NEAR that another NEAR is chained on yields pair spans: at most this many per
# document (the first along its sparser side), however often the article repeats them.
MAX_NEAR_SPANS = 512


@dataclass(frozen=True, slots=True)
class _Group:
    """The hits of one term with one surface (in one field), in text order."""

    tid: int
    starts: list[int]
    ends: list[int]
    hits: list[int]  # indices into the term's hit list


@dataclass(frozen=True, slots=True)
class _Side:
    """A NEAR operand in one document: where its spans are, and what they are made of.

    Terms (and ORs of them) come as ``groups`` (evidence needs only the first hit of
    each group that has a partner); a chained NEAR's pair spans come as ``spans``.
    """

    positions: Positions
    groups: list[_Group] | None = None
    spans: SpanList[Part] | None = None


class Run:
    """One document's evaluation: its term hits, and the evidence of the current rule.

    ``terms`` holds ``(term id, title only)`` references to whole hit lists, ``parts``
    single hits (from NEAR). What NEAR operands look like in this document is built
    once and shared by the rules. Not shared between threads: one per ``match`` call.
    """

    def __init__(self, found: Mapping[int, list[Hit]], surfaces: Surfaces) -> None:
        self.found = found
        self.surfaces = surfaces
        self.terms: list[tuple[int, bool]] = []
        self.parts: list[Part] = []
        self._term_sides: dict[tuple[int, bool], _Side] = {}
        self._sides: dict[int, _Side] = {}  # id(node) -> side (nodes live in the rules)
        self._spans: dict[tuple[int, bool] | int, SpanList[Part]] = {}

    def reset(self) -> None:
        """Forget the evidence gathered (the next rule starts afresh)."""
        self.terms.clear()
        self.parts.clear()

    def holds(self, node: Bound) -> bool:
        """Whether ``node`` holds; when it does, its evidence is added, else nothing is."""
        if isinstance(node, TermRef):
            return self._term(node.tid, node.title_only)
        marks = len(self.terms), len(self.parts)
        if isinstance(node, AllOf):
            for child in node.order:
                if not self.holds(child):
                    self._truncate(marks)
                    return False
            return True
        if isinstance(node, AnyTerm):
            return self._any_term(node)
        if isinstance(node, AnyOf):
            held = False
            for child in node.children:  # every child: all of the evidence
                held = self.holds(child) or held
            return held
        if isinstance(node, NoneOf):
            held = self.holds(node.child)
            self._truncate(marks)
            return not held
        return self._near(node)

    def _truncate(self, marks: tuple[int, int]) -> None:
        del self.terms[marks[0] :]
        del self.parts[marks[1] :]

    def _term(self, tid: int, title_only: bool) -> bool:
        hits = self.found.get(tid)
        if not hits or (title_only and hits[0][0] != "title"):  # hits: title first
            return False
        self.terms.append((tid, title_only))
        return True

    def _any_term(self, node: AnyTerm) -> bool:
        present = self._present(node.anywhere)
        self.terms.extend([(tid, False) for tid in present])
        held = bool(present)
        if node.title:
            for tid in self._present(node.title):
                held = self._term(tid, True) or held
        return held

    def _present(self, tids: frozenset[int]) -> Collection[int]:
        """The ids of ``tids`` that have hits, walking the smaller of the two sets."""
        if len(tids) <= len(self.found):
            return self.found.keys() & tids
        return tids.intersection(self.found)

    def _near(self, node: Close) -> bool:
        left = self._side(node.left)
        right = self._side(node.right) if left.positions else left
        if not right.positions:
            return False
        parts = _near_parts(left, right, node.distance)
        if not parts:  # no left span has a partner: no right one has either
            return False
        self.parts += parts
        self.parts += _near_parts(right, left, node.distance)
        return True

    def _side(self, node: Bound) -> _Side:
        """What a NEAR operand (a term, an OR of them, a NEAR) is in this document."""
        if isinstance(node, TermRef):
            return self._term_side(node.tid, node.title_only)
        side = self._sides.get(id(node))
        if side is None:
            side = self._sides[id(node)] = self._build_side(node)
        return side

    def _build_side(self, node: Bound) -> _Side:
        if isinstance(node, AnyTerm):
            sides = [self._term_side(t, False) for t in self._present(node.anywhere)]
            sides += [self._term_side(t, True) for t in self._present(node.title)]
            return _merged_groups(sides)
        if isinstance(node, AnyOf) and not any(isinstance(c, Close) for c in node.children):
            return _merged_groups([self._side(c) for c in node.children])
        return _span_side(self.spans(node))

    def _term_side(self, tid: int, title_only: bool) -> _Side:
        """A term's hits grouped by surface, built once per document (rules share terms)."""
        key = (tid, title_only)
        side = self._term_sides.get(key)
        if side is None:
            hits = self.found.get(tid, [])
            groups = []
            for field, indices in self.surfaces.groups(tid):
                if title_only and field != "title":
                    continue
                base = 0 if field == "title" else TEXT_BASE
                starts = [base + hits[i][1] for i in indices]
                ends = [base + hits[i][2] for i in indices]
                groups.append(_Group(tid, starts, ends, indices))
            side = self._term_sides[key] = _merged_groups([], groups)
        return side

    def spans(self, node: Bound) -> SpanList[Part]:
        """The spans of a NEAR operand with what each is made of, sorted (for the pairs of
        a NEAR that another NEAR is chained on); built once per document."""
        key = (node.tid, node.title_only) if isinstance(node, TermRef) else id(node)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = SpanList(self._build_spans(node))
        return spans

    def _build_spans(self, node: Bound) -> list[PartSpan]:
        if isinstance(node, TermRef):
            return [
                (s, e, ((node.tid, i),))
                if field == "title"
                else (TEXT_BASE + s, TEXT_BASE + e, ((node.tid, i),))
                for i, (field, s, e, _) in enumerate(self.found.get(node.tid, ()))
                if not node.title_only or field == "title"
            ]
        if isinstance(node, AnyTerm):
            refs = [TermRef(t, "", False) for t in self._present(node.anywhere)]
            refs += [TermRef(t, "", True) for t in self._present(node.title)]
            return _merge([self.spans(ref).spans for ref in refs])
        if isinstance(node, AnyOf):
            return _merge([self.spans(c).spans for c in node.children])
        if isinstance(node, Close):
            left = self.spans(node.left)
            right = self.spans(node.right) if left else left
            return pair_spans(left, right, node.distance, MAX_NEAR_SPANS)
        raise TypeError(f"not positional: {node!r}")  # the parser refuses NEAR on AND/NOT


MAX_NEAR_EVIDENCE = 32  # distinct spellings per term a NEAR side gives a match's evidence


def _near_parts(me: _Side, other: _Side, distance: int) -> list[Part]:
    """Evidence of ``me`` near ``other``: per group its first hit with a partner; for
    pair spans, the parts of each span with a partner."""
    if me.groups is not None:
        parts = []
        shown: dict[int, int] = {}  # spellings given per term: `w1*` near a name may have
        for group in me.groups:  # 400 with a partner; an alert shows the first few
            if shown.get(group.tid, 0) >= MAX_NEAR_EVIDENCE:
                continue  # no first_near for a term that has enough: the cost stays small
            j = first_near(group.starts, group.ends, other.positions, distance)
            if j is not None:
                parts.append((group.tid, group.hits[j]))
                shown[group.tid] = shown.get(group.tid, 0) + 1
        return parts
    assert me.spans is not None  # a side is made of groups or of spans
    spans = me.spans
    partners = partnered(spans.starts, spans.ends, other.positions, distance)
    return [p for i in partners for p in spans.spans[i][2]]


def _merged_groups(sides: list[_Side], groups: list[_Group] | None = None) -> _Side:
    """One side from the groups of several (an OR of terms), or from ``groups``."""
    if groups is None:
        if len(sides) == 1:
            return sides[0]
        groups = [g for side in sides for g in (side.groups or ())]
    starts = sorted(chain.from_iterable(g.starts for g in groups))
    ends = list(chain.from_iterable(g.ends for g in groups))
    return _Side(Positions(starts, ends), groups=groups)


def _span_side(spans: SpanList[Part]) -> _Side:
    return _Side(Positions(spans.starts, spans.ends), spans=spans)


def _merge(lists: list[list[PartSpan]]) -> list[PartSpan]:
    lists = [x for x in lists if x]
    if len(lists) == 1:
        return lists[0]
    return sorted(chain.from_iterable(lists), key=itemgetter(0))
