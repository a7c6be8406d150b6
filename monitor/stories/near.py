"""A near-duplicate index over a time window: banded MinHash signatures (LSH), so a new
article is compared only with the articles sharing one of its bands, never with every
article of the window. No I/O.

Entries older than the window (by their publication time) are evicted as newer ones
arrive; the caller's clock is the newest time it has added or queried.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.stories.fingerprint import band_keys, similarity

DEFAULT_WINDOW = timedelta(hours=72)
NEAR_THRESHOLD = 0.6  # estimated Jaccard of 3-word shingles; tuned on the eval's tuned part


@dataclass(frozen=True, slots=True)
class NearHit:
    """An indexed article whose text is a near-duplicate of the query's."""

    doc_id: int
    score: float  # estimated Jaccard similarity, 0..1


class NearIndex:
    """Signatures of the articles of the last ``window``, bucketed by band."""

    def __init__(
        self, window: timedelta = DEFAULT_WINDOW, threshold: float = NEAR_THRESHOLD
    ) -> None:
        self.window = window
        self.threshold = threshold
        self._sigs: dict[int, array[int]] = {}
        # band key -> one doc id, or a list of them when several share the band (rare)
        self._buckets: dict[int, int | list[int]] = {}
        self._expiry: list[tuple[datetime, int]] = []
        self._when: dict[int, datetime] = {}  # id -> its published time (expiry check)
        self._clock: datetime | None = None  # the newest time added or evicted at

    def __len__(self) -> int:
        return len(self._sigs)

    def add(self, doc_id: int, sig: array[int], published: datetime) -> None:
        """Index ``sig`` as ``doc_id`` (published at ``published``); evict what is older
        than the window. Re-adding a known id is a no-op."""
        self.evict(published)
        if doc_id in self._sigs or published < self._horizon(published):
            return
        self._sigs[doc_id] = sig
        self._when[doc_id] = published
        heapq.heappush(self._expiry, (published, doc_id))
        for key in band_keys(sig):
            held = self._buckets.get(key)
            if held is None:
                self._buckets[key] = doc_id
            elif isinstance(held, list):
                held.append(doc_id)
            else:
                self._buckets[key] = [held, doc_id]

    def signature(self, doc_id: int) -> array[int] | None:
        """The indexed signature of ``doc_id``, None when it is not in the window."""
        return self._sigs.get(doc_id)

    def query(self, sig: Sequence[int]) -> list[NearHit]:
        """Indexed articles whose estimated similarity to ``sig`` reaches the threshold,
        best first."""
        seen: set[int] = set()
        for key in band_keys(sig):
            held = self._buckets.get(key)
            if held is None:
                continue
            seen.update(held if isinstance(held, list) else (held,))
        hits = [NearHit(d, similarity(sig, self._sigs[d])) for d in seen]
        return sorted(
            (h for h in hits if h.score >= self.threshold), key=lambda h: (-h.score, h.doc_id)
        )

    def evict(self, now: datetime) -> None:
        """Drop the entries published before ``now - window``."""
        horizon = self._horizon(now)
        while self._expiry and self._expiry[0][0] < horizon:
            published, doc_id = heapq.heappop(self._expiry)
            if self._when.get(doc_id) == published:  # not forgotten (and re-added) since
                self._remove(doc_id)

    def forget(self, doc_id: int) -> None:
        """Drop ``doc_id`` now (its article was never stored: the transaction failed)."""
        if doc_id in self._sigs:
            self._remove(doc_id)

    def _horizon(self, now: datetime) -> datetime:
        """The oldest publication time still in the window; the clock never goes back."""
        if self._clock is None or now > self._clock:
            self._clock = now
        return self._clock - self.window

    def _remove(self, doc_id: int) -> None:
        sig = self._sigs.pop(doc_id)
        del self._when[doc_id]
        for key in band_keys(sig):
            held = self._buckets.get(key)
            if isinstance(held, list):
                held.remove(doc_id)
                if len(held) == 1:
                    self._buckets[key] = held[0]
            elif held == doc_id:
                del self._buckets[key]
