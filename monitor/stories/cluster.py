"""Story clustering across outlets and languages, over a time window. No I/O.

An article joins a story through the strongest of these, in order:

1. the same canonical link as an article of the window ("same_link");
2. a near-duplicate text (:mod:`monitor.stories.near`: banded MinHash) ("near_duplicate");
3. a link to an article of the window ("linked");
4. the same event ("same_story"): names shared across scripts
   (:mod:`monitor.stories.entities`, weighted by how rare they are in the window),
   numbers shared, headlines alike, published close together.

Otherwise it starts a story of its own. Precision first: a later article never merges
two stories, and names alone (the same people at another meeting) are not enough
without a close publication time and a matching headline or numbers.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from monitor.stories.doc import Assignment, Reason, StoryDoc
from monitor.stories.entities import entities, folded_title, numbers
from monitor.stories.fingerprint import signature, similarity
from monitor.stories.near import DEFAULT_WINDOW, NEAR_THRESHOLD, NearIndex


@dataclass(frozen=True, slots=True)
class StoryParams:
    """The thresholds of the same-story decision (tuned on bench/stories_eval.py)."""

    window: timedelta = DEFAULT_WINDOW
    near_threshold: float = NEAR_THRESHOLD
    min_score: float = 0.5  # a candidate's score must reach this to join its story
    near_title: float = 0.9  # headlines this alike make a lower text similarity a copy
    near_low: float = 0.3  # the text similarity that suffices with such headlines
    min_shared: int = 2  # distinct names shared at the least
    close_h: float = 36.0  # beyond this gap the score is discounted
    far_discount: float = 0.75
    max_candidates: int = 64
    rare_keys: int = 12  # candidates come from the query's rarest name keys
    common_df: float = 0.02  # a key in more than this share of the window finds none


_MIN_WINDOW_DOCS = 2_000  # idf as if the window held at least this many (small windows)


class _Entry:
    """What the clusterer keeps of one article of the window."""

    __slots__ = ("keys", "key_set", "nums", "title", "published", "story_id", "weight")

    def __init__(
        self,
        keys: array[int],
        nums: frozenset[str],
        title: str,
        published: datetime,
        story: int,
        weight: float,
    ) -> None:
        self.weight = weight  # its names' idf weight when it was added
        self.keys = keys  # hashes of the name keys, for the postings and df on eviction
        self.key_set: frozenset[int] | None = None  # built when first scored against
        self.nums = nums
        self.title = title
        self.published = published
        self.story_id = story


class StoryClusterer:
    """Assigns each article to a story of the window: feed articles in publication order
    (roughly: the window is kept by the newest time seen)."""

    def __init__(self, params: StoryParams | None = None) -> None:
        self.params = params or StoryParams()
        self.near = NearIndex(self.params.window, self.params.near_threshold)
        self._docs: dict[int, _Entry] = {}
        self._links: dict[str, int] = {}
        self._link_of: dict[int, str] = {}
        self._postings: dict[int, list[int]] = {}
        self._df: Counter[int] = Counter()
        self._expiry: list[tuple[datetime, int]] = []
        self._clock: datetime | None = None

    def __len__(self) -> int:
        return len(self._docs)

    def assign(self, doc: StoryDoc) -> Assignment:
        """Put ``doc`` in a story of the window (or a new one), index it and return why."""
        self._evict(doc.published)
        if doc.id in self._docs:
            entry = self._docs[doc.id]
            return Assignment(doc.id, entry.story_id, "same_link", 1.0, doc.id)
        text = f"{doc.title}\n{doc.text}"
        sig = signature(text)
        ents = entities(doc.title, doc.text)
        nums = numbers(doc.title, doc.text)
        title = folded_title(doc.title)
        found = self._decide(doc, sig, ents, nums, title)
        self._index(doc, sig, ents, nums, title, found.story_id)
        return found

    def _decide(
        self,
        doc: StoryDoc,
        sig: array[int] | None,
        ents: list[frozenset[str]],
        nums: frozenset[str],
        title: str,
    ) -> Assignment:
        if doc.link and doc.link in self._links:
            via = self._links[doc.link]
            return Assignment(doc.id, self._docs[via].story_id, "same_link", 1.0, via)
        if sig is not None:
            for hit in self.near.query(sig):
                if hit.doc_id in self._docs:
                    story = self._docs[hit.doc_id].story_id
                    return Assignment(doc.id, story, "near_duplicate", hit.score, hit.doc_id)
        for link in doc.links:
            target = self._links.get(link)
            if target is not None:
                return Assignment(doc.id, self._docs[target].story_id, "linked", 1.0, target)
        best = self._best_story(doc, sig, ents, nums, title)
        if best is not None:
            reason, score, via = best
            return Assignment(doc.id, self._docs[via].story_id, reason, score, via)
        return Assignment(doc.id, doc.id, "new", 1.0, None)

    def _best_story(
        self,
        doc: StoryDoc,
        sig: array[int] | None,
        ents: list[frozenset[str]],
        nums: frozenset[str],
        title: str,
    ) -> tuple[Reason, float, int] | None:
        """The best candidate sharing names with ``doc``: a copy (a headline alike and some
        text alike: a short summary with a syndicator's footer), else the best-scoring
        same-story candidate reaching the threshold; None when there is neither."""
        p = self.params
        best: tuple[Reason, float, int] | None = None
        for cand in self._candidates(ents):
            entry = self._docs[cand]
            heads = _heads(title, entry.title)
            other = self.near.signature(cand)
            if sig is not None and other is not None and heads >= p.near_title:
                jaccard = similarity(sig, other)
                if jaccard >= p.near_low:
                    return ("near_duplicate", jaccard, cand)
            score = self.score(doc, ents, nums, heads, entry)
            if score >= p.min_score and (best is None or score > best[1]):
                best = ("same_story", score, cand)
        return best

    def score(
        self,
        doc: StoryDoc,
        ents: list[frozenset[str]],
        nums: frozenset[str],
        heads: float,
        entry: _Entry,
    ) -> float:
        """How surely ``doc`` reports the event of ``entry``'s article, 0..1 (0 below the
        minimum of shared names): the share of the rarer side's name weight that is
        shared, the headlines' likeness (``heads``, 0..1) and shared numbers."""
        p = self.params
        if entry.key_set is None:
            entry.key_set = frozenset(entry.keys)
        keys = entry.key_set
        shared = 0.0
        total = 0.0
        found = 0
        for ent in ents:
            idf = max(self._idf(h) for h in map(hash, ent))
            total += idf
            hit = [self._idf(h) for h in map(hash, ent) if h in keys]
            if hit:
                shared += max(hit)
                found += 1
        if found < p.min_shared:
            return 0.0
        theirs = entry.weight if entry.weight > 0 else total
        names = shared / max(min(total, theirs), 1e-9)
        shared_nums = len(nums & entry.nums)
        score = 0.45 * min(1.0, names) + 0.4 * heads + 0.15 * min(1.0, shared_nums / 2)
        gap_h = abs((doc.published - entry.published).total_seconds()) / 3600
        return score * (p.far_discount if gap_h > p.close_h else 1.0)

    def _idf(self, key: int) -> float:
        n = max(len(self._docs), _MIN_WINDOW_DOCS)
        return math.log((n + 1) / (self._df.get(key, 0) + 0.5))

    def _candidates(self, ents: list[frozenset[str]]) -> list[int]:
        """Articles of the window sharing one of the query's rarest name keys."""
        p = self.params
        common = max(50, int(p.common_df * len(self._docs)))
        keys = {hash(k) for ent in ents for k in ent}
        rare = sorted((self._df.get(k, 0), k) for k in keys)
        hits: Counter[int] = Counter()
        for df, key in rare[: p.rare_keys]:
            if df == 0 or df > common:
                continue
            hits.update(d for d in self._postings.get(key, ()) if d in self._docs)
        return [d for d, _ in hits.most_common(p.max_candidates)]

    def _index(
        self,
        doc: StoryDoc,
        sig: array[int] | None,
        ents: list[frozenset[str]],
        nums: frozenset[str],
        title: str,
        story: int,
    ) -> None:
        keys = array("q", sorted({hash(k) for ent in ents for k in ent}))
        weight = sum(max(self._idf(hash(k)) for k in ent) for ent in ents if ent)
        self._docs[doc.id] = _Entry(keys, nums, title, doc.published, story, weight)
        heapq.heappush(self._expiry, (doc.published, doc.id))
        for key in keys:
            self._df[key] += 1
            self._postings.setdefault(key, []).append(doc.id)
        if doc.link and doc.link not in self._links:
            self._links[doc.link] = doc.id
            self._link_of[doc.id] = doc.link
        if sig is not None:
            self.near.add(doc.id, sig, doc.published)

    def _evict(self, now: datetime) -> None:
        """Forget the articles published before the window (their stories stay theirs)."""
        if self._clock is None or now > self._clock:
            self._clock = now
        horizon = self._clock - self.params.window
        self.near.evict(now)
        while self._expiry and self._expiry[0][0] < horizon:
            _, doc_id = heapq.heappop(self._expiry)
            self._forget(doc_id)

    def _forget(self, doc_id: int) -> None:
        entry = self._docs.pop(doc_id)
        link = self._link_of.pop(doc_id, None)
        if link is not None:
            del self._links[link]
        for key in entry.keys:
            self._df[key] -= 1
            postings = self._postings[key]
            if self._df[key] <= 0:
                del self._df[key], self._postings[key]
            elif len(postings) > 2 * self._df[key] + 8:  # compact the dead ids away
                self._postings[key] = [d for d in postings if d in self._docs]


def _heads(a: str, b: str) -> float:
    """How alike two folded headlines are, 0..1 (0 when either is missing)."""
    return fuzz.token_set_ratio(a, b) / 100.0 if a and b else 0.0
