"""Compiled queries: the parsed tree bound to the shared term index. No I/O.

:func:`bind` turns a parsed query (:mod:`monitor.match.query`) into a tree of the
nodes below, with every term replaced by its id in the term index and every OR of plain
terms (a ``@group`` of 5,000 spellings, or ``a OR b OR ...``) folded into one flat
:class:`AnyTerm`, evaluated as a set intersection whatever its length. The tree is no
deeper than the query's nesting, which the parser limits (``MAX_DEPTH``), so recursion
here is bounded too, and no function recurses along a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from monitor.match.index import TermIndex
from monitor.match.query import And, Near, Node, Not, Term


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


def bind(node: Node, index: TermIndex, used: set[int], shared: dict[Bound, Bound]) -> Bound:
    """The query tree with its terms bound to ``index`` (their ids added to ``used``).

    Equal subtrees of all rules become one object (``shared``), so what a document makes
    of a NEAR operand such as a ``@group`` is built once for every rule that uses it.
    """
    bound: Bound
    if isinstance(node, Term):
        refs = []
        for term in [node, *index.alternatives(node)]:  # a place's names of several words
            tid = index.add(term.words, node.label, term.breaks)
            used.add(tid)
            refs.append(TermRef(tid, node.label, node.title_only))
        bound = refs[0] if len(refs) == 1 else _any_of(list(refs))
    elif isinstance(node, Not):
        bound = NoneOf(bind(node.child, index, used, shared))
    elif isinstance(node, Near):
        left, right = bind(node.left, index, used, shared), bind(node.right, index, used, shared)
        bound = Close(left, right, node.distance)
    else:
        children = [bind(c, index, used, shared) for c in node.children]
        if isinstance(node, And):
            bound = AllOf(tuple(children), tuple(sorted(children, key=_cost)))
        else:
            bound = _any_of(children)
    return shared.setdefault(bound, bound)


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
