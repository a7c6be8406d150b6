"""``NEAR/n`` on sorted token spans: a sorted merge, never every pair. No I/O.

A span is ``(start, end, parts)``: token positions, end exclusive, and what it is made
of (opaque here). Title and text positions are kept apart by :data:`TEXT_BASE`, so a
distance can never bridge the two fields. Two spans are *near within d* when they do
not overlap and at most ``d`` tokens lie between them, in either order::

    a.end <= b.start <= a.end + d    or    b.end <= a.start <= b.end + d

Which spans have a partner (:func:`partnered`) costs O((|a| + |b|) log) — and only
O(min(|a|, |b|) log) plus the answer when one side is sparse, as when a common name is
repeated 10,000 times next to a rare one. The spans a NEAR itself yields, for a NEAR
chained on it, are pairs (:func:`pair_spans`): their number is bounded by ``limit``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress
from operator import itemgetter
from typing import TypeVar

P = TypeVar("P")
Span = tuple[int, int, tuple[P, ...]]

TEXT_BASE = 1 << 40  # text token k is at TEXT_BASE + k; title token k at k

_start = itemgetter(0)
_end = itemgetter(1)


class _Sorted:
    """A span list (sorted by start) with its starts, and its ends in sorted order."""

    def __init__(self, spans: Sequence[Span[P]]) -> None:
        self.spans = spans
        self.starts = list(map(_start, spans))
        ends = list(map(_end, spans))
        if all(x <= y for x, y in zip(ends, ends[1:], strict=False)):
            self.by_end: list[int] | None = None  # same order as by start (the usual case)
            self.ends = ends
        else:
            self.by_end = sorted(range(len(ends)), key=ends.__getitem__)
            self.ends = [ends[i] for i in self.by_end]

    def after(self, pos: int, distance: int) -> range:
        """Indices (by start) of the spans starting in ``[pos, pos + distance]``."""
        return range(bisect_left(self.starts, pos), bisect_right(self.starts, pos + distance))

    def before(self, pos: int, distance: int) -> list[int] | range:
        """Indices (by start) of the spans ending in ``[pos - distance, pos]``."""
        lo, hi = bisect_left(self.ends, pos - distance), bisect_right(self.ends, pos)
        return range(lo, hi) if self.by_end is None else self.by_end[lo:hi]

    def has_after(self, pos: int, distance: int) -> bool:
        k = bisect_left(self.starts, pos)
        return k < len(self.starts) and self.starts[k] <= pos + distance

    def has_before(self, pos: int, distance: int) -> bool:
        k = bisect_right(self.ends, pos)
        return k > 0 and self.ends[k - 1] >= pos - distance


def partnered(
    a: Sequence[Span[P]], b: Sequence[Span[P]], distance: int
) -> tuple[list[int], list[int]]:
    """Indices of the spans of ``a`` and of ``b`` that are near some span of the other.

    Both lists must be sorted by start. Empty lists mean the NEAR does not hold.
    """
    if not a or not b:
        return [], []
    sa, sb = _Sorted(a), _Sorted(b)
    return _partnered(sa, sb, distance), _partnered(sb, sa, distance)


def _partnered(mine: _Sorted, other: _Sorted, distance: int) -> list[int]:
    """Indices of ``mine``'s spans near one of ``other``'s, from the smaller side."""
    if len(mine.spans) <= len(other.spans):
        return [
            i
            for i, (s, e, _) in enumerate(mine.spans)
            if other.has_after(e, distance) or other.has_before(s, distance)
        ]
    marks = bytearray(len(mine.spans))
    for s, e, _ in other.spans:
        after = mine.after(e, distance)  # mine starts just after this one ends
        marks[after.start : after.stop] = b"\x01" * len(after)
        before = mine.before(s, distance)  # mine ends just before this one starts
        if isinstance(before, range):
            marks[before.start : before.stop] = b"\x01" * len(before)
        else:
            for i in before:
                marks[i] = 1
    return list(compress(range(len(marks)), marks))


def pair_spans(
    a: Sequence[Span[P]], b: Sequence[Span[P]], distance: int, limit: int
) -> list[Span[P]]:
    """The spans covering each near pair (first span's start to second's end, the parts of
    both), sorted by start; at most ``limit`` of them, the first pairs in text order."""
    if not a or not b:
        return []
    if len(a) > len(b):  # walk the smaller side; the pairs are the same either way
        a, b = b, a
    other = _Sorted(b)
    out: list[Span[P]] = []
    for s, e, parts in a:
        for j in other.after(e, distance):
            _, e2, parts2 = b[j]
            out.append((s, e2, parts + parts2))
        for j in other.before(s, distance):
            s2, _, parts2 = b[j]
            out.append((s2, e, parts2 + parts))
        if len(out) >= limit:
            del out[limit:]
            break
    out.sort(key=_start)
    return out
