"""Evidence of a match: one entry per distinct (term, surface, field), in text order. No I/O.

Many rules share a term (``Putin`` in fifteen rules) and an article may repeat it
10,000 times, so per document each term's hits are reduced once to the first hit of
each surface form; a rule then merges the few survivors of its terms. NEAR evidence
(single hits that have a partner) is reduced the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

from monitor.match.index import Hit, TokenOffsets
from monitor.match.tokens import fold_text
from monitor.records import Evidence, EvidenceField

# A term's distinct spellings shown per match: `wq*` over 25,000 different words would
# otherwise store 25,000 evidence entries with every one of 1,000 matches.
MAX_TERM_EVIDENCE = 32
# (term, folded surface, field): evidence shows each of these once.
Key = tuple[str, str, EvidenceField]
# Where a hit sorts: title first, then by offsets, then by term (ties between terms).
_Order = tuple[bool, int, int, str, int]


class Surfaces:
    """The evidence of one document's term hits, each built at most once."""

    def __init__(
        self,
        offsets: Mapping[EvidenceField, TokenOffsets],
        found: Mapping[int, list[Hit]],
        labels: Sequence[str],
    ) -> None:
        self.offsets = offsets
        self.found = found
        self.labels = labels
        self._built: dict[tuple[int, int], tuple[_Order, Evidence, Key]] = {}
        self._groups: dict[int, list[tuple[EvidenceField, list[int]]]] = {}
        self._firsts: dict[int, list[int]] = {}

    def evidence(
        self, terms: Iterable[tuple[int, bool]], parts: Collection[tuple[int, int]]
    ) -> tuple[Evidence, ...]:
        """Evidence from whole terms ``(term id, title only)`` and single hits
        ``(term id, hit index)``: each (term, surface, field) once, title first, in text order."""
        chosen: set[tuple[int, int]] = set()
        for tid, title_only in terms:
            firsts = self._first_hits(tid)
            if title_only:
                hits = self.found[tid]
                firsts = [i for i in firsts if hits[i][0] == "title"]
            chosen.update((tid, i) for i in firsts[:MAX_TERM_EVIDENCE])
        if parts:
            by_term: dict[int, set[int]] = defaultdict(set)
            for tid, i in parts:
                by_term[tid].add(i)
            for tid, indices in by_term.items():
                firsts = self._first_of(tid, sorted(indices))
                chosen.update((tid, i) for i in firsts[:MAX_TERM_EVIDENCE])
        seen: set[Key] = set()
        out = []
        for _, ev, key in sorted(map(self._build, chosen)):
            if key not in seen:
                seen.add(key)
                out.append(ev)
        return tuple(out)

    def groups(self, tid: int) -> list[tuple[EvidenceField, list[int]]]:
        """The hits of term ``tid`` grouped by surface: ``(field, hit indices)`` per
        distinct (field, folded surface), each in text order, in order of first hit."""
        groups = self._groups.get(tid)
        if groups is None:
            by_key: dict[tuple[EvidenceField, str], list[int]] = {}
            for i, (field, s, e, _) in enumerate(self.found.get(tid, ())):
                by_key.setdefault((field, self._surface_key(field, s, e)), []).append(i)
            groups = self._groups[tid] = [(f, hits) for (f, _), hits in by_key.items()]
        return groups

    def _first_hits(self, tid: int) -> list[int]:
        """Indices of the first hit of each distinct surface of term ``tid`` (cached)."""
        firsts = self._firsts.get(tid)
        if firsts is None:
            firsts = self._firsts[tid] = [hits[0] for _, hits in self.groups(tid)]
        return firsts

    def _first_of(self, tid: int, indices: Iterable[int]) -> list[int]:
        """Of the given hit indices (in order), those whose key has not been seen before."""
        seen: set[tuple[EvidenceField, str]] = set()
        out = []
        hits = self.found[tid]
        for i in indices:
            field, s, e, _ = hits[i]
            key = (field, self._surface_key(field, s, e))
            if key not in seen:
                seen.add(key)
                out.append(i)
        return out

    def _surface_key(self, field: EvidenceField, s: int, e: int) -> str:
        """The folded surface of tokens ``s:e`` (one token: the token itself, no offsets)."""
        tokens = self.offsets[field]
        if e == s + 1:
            return fold_text(tokens.tokens[s])
        return fold_text(tokens.text[tokens.span(s)[0] : tokens.span(e - 1)[1]])

    def _build(self, hit: tuple[int, int]) -> tuple[_Order, Evidence, Key]:
        """The evidence of one hit, where it sorts and its key (built once per document)."""
        built = self._built.get(hit)
        if built is None:
            tid, i = hit
            field, s, e, score = self.found[tid][i]
            tokens = self.offsets[field]
            start, end = tokens.span(s)[0], tokens.span(e - 1)[1]
            surface = tokens.text[start:end]
            label = self.labels[tid]
            ev = Evidence(
                term=label, surface=surface, field=field, score=score, start=start, end=end
            )
            order = (field != "title", start, end, label, tid)
            built = self._built[hit] = (order, ev, (label, fold_text(surface), field))
        return built
