"""Compiled queries and their evaluation against one document's term hits. No I/O.

:func:`bind` turns a parsed query (:mod:`monitor.match.query`) into a tree of the
nodes below, with every term replaced by its id in the shared term index and every OR
of plain terms (a ``@group`` of 5,000 spellings, or ``a OR b OR ...``) folded into one
flat :class:`AnyTerm`: a set look-up per term present, whatever its length. The tree is
no deeper than the query's nesting, which the parser limits, so the recursion here is
bounded too; no function recurses along a list.

:class:`Run` answers "does this rule hold?" and gathers its evidence in the same pass:
an AND stops at its first false part (cheap parts first), a term contributes a
reference to its hits (not a copy), a NEAR the hits that have a partner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from monitor.match.index import Hit, TermIndex
from monitor.match.near import TEXT_BASE, pair_spans, partnered
from monitor.match.query import And, Near, Node, Not, Term

# One term occurrence, as evidence: (term id, index into that term's hits).
Part = tuple[int, int]
PartSpan = tuple[int, int, tuple[Part, ...]]

# A NEAR that another NEAR is chained on yields pair spans: at most this many per
# evaluation (the first in text order), however often the article repeats its words.
MAX_NEAR_SPANS = 2_000


@dataclass(frozen=True, slots=True)
class TermRef:
    """A term of the query: its id in the term index, its label, its scope."""

    tid: int
    label: str
    title_only: bool


@dataclass(frozen=True, slots=True)
class AnyTerm:
    """An OR of plain terms, evaluated as one set look-up per term found."""

    refs: tuple[TermRef, ...]  # as written (for explain)
    anywhere: frozenset[int]
    title: frozenset[int]  # title-only, and not also in ``anywhere``


@dataclass(frozen=True, slots=True)
class AllOf:
    """AND. ``children`` as written; ``order`` the same, cheap ones first (evaluation)."""

    children: tuple[Bound, ...]
    order: tuple[Bound, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """OR of children that are not all plain terms."""

    children: tuple[Bound, ...]


@dataclass(frozen=True, slots=True)
class NoneOf:
    """NOT."""

    child: Bound


@dataclass(frozen=True, slots=True)
class Close:
    """NEAR/distance."""

    left: Bound
    right: Bound
    distance: int


Bound = TermRef | AnyTerm | AllOf | AnyOf | NoneOf | Close


def bind(node: Node, index: TermIndex, used: set[int]) -> Bound:
    """The query tree with its terms bound to ``index`` (their ids added to ``used``)."""
    if isinstance(node, Term):
        tid = index.add(node.words, node.label, node.breaks)
        used.add(tid)
        return TermRef(tid, node.label, node.title_only)
    if isinstance(node, Not):
        return NoneOf(bind(node.child, index, used))
    if isinstance(node, Near):
        return Close(bind(node.left, index, used), bind(node.right, index, used), node.distance)
    children = [bind(c, index, used) for c in node.children]
    if isinstance(node, And):
        return AllOf(tuple(children), tuple(sorted(children, key=_cost)))
    return _any_of(children)


def _any_of(children: list[Bound]) -> Bound:
    """OR; its plain terms become one :class:`AnyTerm`, where the first of them was."""
    terms = [c for c in children if isinstance(c, TermRef)]
    if len(terms) < 2:
        return AnyOf(tuple(children))
    anywhere = frozenset(t.tid for t in terms if not t.title_only)
    title = frozenset(t.tid for t in terms if t.title_only) - anywhere
    group = AnyTerm(tuple(terms), anywhere, title)
    first = children.index(terms[0])
    rest = [group if i == first else c for i, c in enumerate(children)]
    rest = [c for c in rest if not isinstance(c, TermRef)]
    return group if len(rest) == 1 else AnyOf(tuple(rest))


def _cost(node: Bound) -> int:
    """A rank of how much evaluating ``node`` costs: terms first, NEAR last."""
    return 0 if isinstance(node, TermRef | AnyTerm) else 2 if isinstance(node, Close) else 1


def required(node: Bound) -> frozenset[int]:
    """Term ids that must all be present for ``node`` to hold (a cheap filter: necessary,
    not sufficient)."""
    if isinstance(node, TermRef):
        return frozenset({node.tid})
    if isinstance(node, AllOf):
        return frozenset().union(*map(required, node.children))
    if isinstance(node, Close):
        return required(node.left) | required(node.right)
    if isinstance(node, AnyOf):
        return frozenset.intersection(*map(required, node.children))
    return frozenset()  # AnyTerm: any one of them; NoneOf: none


def term_refs(node: Bound) -> Iterator[TermRef]:
    """The term references of a bound tree, left to right (an explicit stack)."""
    stack: list[Bound] = [node]
    while stack:
        top = stack.pop()
        if isinstance(top, TermRef):
            yield top
        elif isinstance(top, AnyTerm):
            yield from top.refs
        elif isinstance(top, NoneOf):
            stack.append(top.child)
        elif isinstance(top, Close):
            stack += (top.right, top.left)
        else:
            stack.extend(reversed(top.children))


class Run:
    """One document's evaluation: its term hits, and the evidence of the current rule.

    ``terms`` holds ``(term id, title only)`` references to whole hit lists, ``parts``
    single hits (from NEAR). Not shared between threads: one per ``match`` call.
    """

    def __init__(self, found: Mapping[int, list[Hit]]) -> None:
        self.found = found
        self.terms: list[tuple[int, bool]] = []
        self.parts: list[Part] = []
        self._spans: dict[tuple[int, bool], list[PartSpan]] = {}

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
        before = len(self.terms)
        self.terms.extend((tid, False) for tid in self._present(node.anywhere))
        for tid in self._present(node.title):
            self._term(tid, True)
        return len(self.terms) > before

    def _present(self, tids: frozenset[int]) -> Iterable[int]:
        """The ids of ``tids`` that have hits, walking the smaller of the two sets."""
        if len(tids) <= len(self.found):
            return self.found.keys() & tids
        return tids.intersection(self.found)

    def _near(self, node: Close) -> bool:
        left = self.spans(node.left)
        right = self.spans(node.right) if left else []
        lefts, rights = partnered(left, right, node.distance)
        if not lefts:
            return False
        self.parts.extend(p for i in lefts for p in left[i][2])
        self.parts.extend(p for i in rights for p in right[i][2])
        return True

    def spans(self, node: Bound) -> list[PartSpan]:
        """The positional spans of a NEAR operand (a term, an OR of them, a NEAR), sorted."""
        if isinstance(node, TermRef):
            return self._term_spans(node.tid, node.title_only)
        if isinstance(node, AnyTerm):
            lists = [self._term_spans(t, False) for t in self._present(node.anywhere)]
            lists += [self._term_spans(t, True) for t in self._present(node.title)]
            return _merge(lists)
        if isinstance(node, AnyOf):
            return _merge([self.spans(c) for c in node.children])
        if isinstance(node, Close):
            left = self.spans(node.left)
            right = self.spans(node.right) if left else []
            return pair_spans(left, right, node.distance, MAX_NEAR_SPANS)
        raise TypeError(f"not positional: {node!r}")  # the parser refuses NEAR on AND/NOT

    def _term_spans(self, tid: int, title_only: bool) -> list[PartSpan]:
        """A term's hits as spans, built once per document (rules share terms)."""
        key = (tid, title_only)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = [
                (s, e, ((tid, i),))
                if field == "title"
                else (TEXT_BASE + s, TEXT_BASE + e, ((tid, i),))
                for i, (field, s, e, _) in enumerate(self.found.get(tid, ()))
                if not title_only or field == "title"
            ]
        return spans


def _merge(lists: list[list[PartSpan]]) -> list[PartSpan]:
    lists = [x for x in lists if x]
    if len(lists) == 1:
        return lists[0]
    return sorted((span for spans in lists for span in spans), key=lambda span: span[0])
