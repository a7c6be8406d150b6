"""``NEAR/n`` on sorted token positions: bisection and merges, never every pair. No I/O.

A span is a run of tokens ``[start, end)``. Title and text positions are kept apart by
:data:`TEXT_BASE`, so a distance can never bridge the two fields. Two spans are *near
within d* when they do not overlap and at most ``d`` tokens lie between them, in either
order::

    a.end <= b.start <= a.end + d    or    b.end <= a.start <= b.end + d

so whether a span has a partner on the other side only needs the other side's first
start at or after its end and last end at or before its start: two bisections in
:class:`Positions` (:meth:`Positions.is_near`), or the same as C-level ``map`` calls
over a whole list (:func:`near_flags`). :func:`first_near` finds the first span of a
list that has a partner, the usual question (evidence shows each surface once): a few
spans one by one, then chunks growing eightfold.

The spans a NEAR itself covers, for a NEAR chained on it, are pairs
(:func:`pair_spans`): their number is bounded by the caller's ``limit``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress, repeat
from operator import add, getitem, itemgetter, le, ne, or_, sub
from typing import Generic, TypeVar

P = TypeVar("P")
Span = tuple[int, int, tuple[P, ...]]

TEXT_BASE = 1 << 40  # text token k is at TEXT_BASE + k; title token k at k
_FAR = 1 << 62  # a sentinel further away than any distance
_ONE_BY_ONE = 8  # spans tried one at a time before chunks are taken at once

_start = itemgetter(0)


class Positions:
    """Where the spans of one NEAR operand start and end, each sorted, with sentinels."""

    __slots__ = ("ends", "starts")

    def __init__(self, starts: list[int], ends: list[int]) -> None:
        """``starts`` sorted; ``ends`` in any order."""
        self.starts = [*starts, _FAR]
        self.ends = [-_FAR, *sorted(ends)]

    def __len__(self) -> int:
        return len(self.starts) - 1

    def is_near(self, start: int, end: int, distance: int) -> bool:
        """True when some span here is near ``[start, end)``."""
        starts, ends = self.starts, self.ends
        if starts[bisect_left(starts, end)] - end <= distance:
            return True
        return start - ends[bisect_right(ends, start) - 1] <= distance


def near_flags(
    starts: Sequence[int], ends: Sequence[int], other: Positions, distance: int
) -> list[bool]:
    """For each span ``[starts[i], ends[i])``: is it near a span of ``other``?"""
    o_starts, o_ends = other.starts, other.ends
    first_after = map(getitem, repeat(o_starts), map(bisect_left, repeat(o_starts), ends))
    gap_after = map(sub, first_after, ends)
    last_before = map(
        getitem,
        repeat(o_ends),
        map(sub, map(bisect_right, repeat(o_ends), starts), repeat(1)),
    )
    gap_before = map(sub, starts, last_before)
    return list(map(le, map(min, gap_after, gap_before), repeat(distance)))


def first_near(
    starts: Sequence[int], ends: Sequence[int], other: Positions, distance: int
) -> int | None:
    """The index of the first span that is near a span of ``other``, or None.

    A few spans one by one, then chunks growing eightfold: the cost follows how far
    the answer is, and stays linear (in C) when there is none.
    """
    head = min(len(starts), _ONE_BY_ONE)
    for i in range(head):
        if other.is_near(starts[i], ends[i], distance):
            return i
    lo, size = head, _ONE_BY_ONE * 8
    while lo < len(starts):
        flags = near_flags(starts[lo : lo + size], ends[lo : lo + size], other, distance)
        if True in flags:
            return lo + flags.index(True)
        lo, size = lo + size, size * 8
    return None


def partnered(
    starts: Sequence[int], ends: Sequence[int], other: Positions, distance: int
) -> list[int]:
    """Indices of the spans that are near a span of ``other``."""
    flags = near_flags(starts, ends, other, distance)
    return list(compress(range(len(flags)), flags))


class SpanList(Generic[P]):
    """Spans sorted by start, with their starts, ends, and ends in sorted order (by index)."""

    __slots__ = ("by_end", "ends", "sorted_ends", "spans", "starts")

    def __init__(self, spans: list[Span[P]]) -> None:
        self.spans = spans
        self.starts = [s for s, _, _ in spans]
        self.ends = [e for _, e, _ in spans]
        self.by_end = sorted(range(len(spans)), key=self.ends.__getitem__)  # stable
        self.sorted_ends = [self.ends[j] for j in self.by_end]

    def __len__(self) -> int:
        return len(self.spans)


def pair_spans(a: SpanList[P], b: SpanList[P], distance: int, limit: int) -> list[Span[P]]:
    """The spans covering each near pair (first span's start to second's end, the parts
    of both), sorted by start; at most ``limit``, the first pairs along the sparser side.

    Which spans of the sparser side have partners, and where those are, is found for all
    of them at once (C-level ``map``); only the spans with partners are walked.
    """
    if not a or not b:
        return []
    if len(a) > len(b):  # walk the smaller side; the pairs are the same either way
        a, b = b, a
    out: list[Span[P]] = []
    lo, size = 0, _ONE_BY_ONE * 8
    while lo < len(a) and len(out) < limit:  # chunks growing fourfold: stop at the limit
        _pairs_of(a, b, lo, lo + size, distance, out, limit)
        lo, size = lo + size, size * 4
    del out[limit:]
    out.sort(key=_start)
    return out


def _pairs_of(
    a: SpanList[P],
    b: SpanList[P],
    first: int,
    stop: int,
    distance: int,
    out: list[Span[P]],
    limit: int,
) -> None:
    """Append the pairs of ``a.spans[first:stop]`` with ``b``'s spans to ``out``, in
    order, stopping once ``out`` holds ``limit`` (a dense chunk has ~2(d+1) per span)."""
    b_spans, b_starts, b_ends, b_by_end = b.spans, b.starts, b.sorted_ends, b.by_end
    a_starts, a_ends = a.starts[first:stop], a.ends[first:stop]
    # b starts within distance after a's end: b[lo:hi]; b ends before a's start: lo2:hi2.
    lo = list(map(bisect_left, repeat(b_starts), a_ends))
    hi = list(map(bisect_right, repeat(b_starts), map(add, a_ends, repeat(distance))))
    lo2 = list(map(bisect_left, repeat(b_ends), map(sub, a_starts, repeat(distance))))
    hi2 = list(map(bisect_right, repeat(b_ends), a_starts))
    append = out.append
    for i in compress(range(len(lo)), map(or_, map(ne, lo, hi), map(ne, lo2, hi2))):
        s, e, parts = a.spans[first + i]
        for j in range(lo[i], hi[i]):
            _, e2, parts2 = b_spans[j]
            append((s, e2, parts + parts2))
        for j in b_by_end[lo2[i] : hi2[i]]:
            s2, _, parts2 = b_spans[j]
            append((s2, e, parts2 + parts))
        if len(out) >= limit:
            return
