"""Story clustering across outlets and languages, over a time window. No I/O.

An article joins a story through the strongest of these, in order:

1. the same canonical link as an article of the window ("same_link");
2. a near-duplicate text (:mod:`monitor.stories.near`: banded MinHash), or a copy
   whose headline is alike and whose text is partly alike: a short feed summary with a
   syndicator's footer ("near_duplicate");
3. a link to an article of the window ("linked");
4. the same event ("same_story"): names shared across scripts
   (:mod:`monitor.stories.entities`), word stems shared, both weighted by how rare they
   are in the window; headlines alike; numbers shared; published close together.

Otherwise it starts a story of its own. Precision first: a later article never merges
two stories, fewer than ``min_shared`` shared names never join one, a round-up is never
joined through, and an explainer (a question, a guide, an analysis:
:func:`monitor.stories.roundup.is_explainer`) joins another outlet's article, or is
joined by one, only at ``min_score + explainer_extra``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from monitor.stories.doc import Assignment, Reason, StoryDoc
from monitor.stories.features import (
    Features,
    cross_likeness,
    features,
    headline_likeness,
    heads_keys,
)
from monitor.stories.fingerprint import similarity
from monitor.stories.near import DEFAULT_WINDOW, NEAR_THRESHOLD, NearIndex


@dataclass(frozen=True, slots=True)
class StoryParams:
    """The thresholds of the decisions (tuned on bench/stories_eval.py's tuned part)."""

    window: timedelta = DEFAULT_WINDOW
    near_threshold: float = NEAR_THRESHOLD
    near_title: float = 0.9  # headlines this alike make a lower text similarity a copy
    near_low: float = 0.3  # the text similarity that suffices with such headlines
    min_score: float = 0.355  # a candidate's score must reach this to join its story
    w_words: float = 1.0  # the score's weights: the leads' words, the headlines
    w_heads: float = 0.5
    cross_extra: float = 0.3  # what a pair in two languages needs beyond min_score
    close_h: float = 24.0  # beyond this gap the score fades, to far_discount at twice it
    far_discount: float = 0.5
    max_candidates: int = 64
    rare_keys: int = 12  # candidates come from the query's rarest name keys
    rare_words: int = 6  # and from its lead's rarest word stems
    common_df: float = 0.02  # a key in more than this share of the window finds none
    min_shared: int = 2  # fewer distinct names shared by the leads need both of these:
    few_heads: float = 0.6  # headlines this alike
    min_words: int = 8  # and leads of this many word stems
    cross_heads: bool = True  # headlines also compared by their words' keys
    own_copy_heads: float = 0.8  # one outlet's copy of its own article: headlines this alike
    explainer_extra: float = 0.2  # what a pair with an explainer needs beyond min_score


_MAX_OUTLET = 2_048  # an outlet is a feed's URL: the window keeps one string of each
_MIN_WINDOW_DOCS = 2_000  # idf as if the window held at least this many (small windows)


def _interned(language: str | None) -> str | None:
    """One string object per language for 50,000 entries (a feed's tag is hostile: cut)."""
    return sys.intern(language[:16]) if language else None


class _Entry:
    """What the clusterer keeps of one article of the window (50,000 of them): its key
    hashes in one packed array (name keys, lead word stems, numbers, lead name keys,
    headline word keys), the headline, the time, the story."""

    __slots__ = (
        "data",
        "ends",
        "title",
        "published",
        "story_id",
        "outlet",
        "roundup",
        "explainer",
        "language",
        "wnorm",
        "nnorm",
        "xnorm",
    )

    def __init__(
        self, f: Features, published: datetime, story: int, outlet: str, language: str | None
    ) -> None:
        lead_keys = set().union(*f.lead_names) if f.lead_names else set()
        parts = (sorted(f.name_of), sorted(f.words), sorted(f.nums), sorted(lead_keys))
        self.data = array("I", [x for part in parts for x in part])
        self.data.extend(heads_keys(f.heads))
        ends = list(itertools.accumulate(map(len, parts)))
        self.ends = (*ends, len(f.heads))  # where each part ends; the headline's words
        self.title = f.title
        self.published = published
        self.story_id = story
        self.outlet = outlet  # its outlet's name (one string per outlet: interned)
        self.language = language
        self.roundup = f.roundup
        self.explainer = f.explainer
        self.wnorm = 0.0  # its lead words' squared idf weight when added
        self.nnorm = 0.0  # its lead names' squared idf weight when added
        self.xnorm = 0.0  # and its lead's lexicon concepts'

    @property
    def keys(self) -> array[int]:
        """Its name key hashes (postings and df on eviction)."""
        return self.data[: self.ends[0]]

    @property
    def words(self) -> array[int]:
        """Its headline's and lead's word stem hashes."""
        return self.data[self.ends[0] : self.ends[1]]

    @property
    def nums(self) -> array[int]:
        """The numbers it states."""
        return self.data[self.ends[1] : self.ends[2]]

    @property
    def lead_keys(self) -> array[int]:
        """The key hashes of its headline's and lead's names."""
        return self.data[self.ends[2] : self.ends[3]]

    @property
    def heads(self) -> array[int]:
        """Every key of its headline's words."""
        return self.data[self.ends[3] :]

    @property
    def n_heads(self) -> int:
        """How many words its headline has (of those compared)."""
        return self.ends[4]


class StoryClusterer:
    """Assigns each article to a story of the window. Feed articles in (roughly)
    publication order: the window ends at the newest time seen. Not thread-safe: one
    clusterer, fed by one thread (the poll cycle).

    After a restart, :meth:`restore` the window's stored articles with their stored
    story ids (oldest first); :meth:`assign` then goes on as before the restart.
    """

    def __init__(self, params: StoryParams | None = None) -> None:
        self.params = params or StoryParams()
        self.near = NearIndex(self.params.window, self.params.near_threshold)
        self._docs: dict[int, _Entry] = {}
        self._links: dict[str, int] = {}
        self._link_of: dict[int, str] = {}
        self._postings: dict[int, list[int]] = {}  # name key -> articles
        self._wpostings: dict[int, list[int]] = {}  # lead word stem -> articles
        self._df: Counter[int] = Counter()  # name key -> articles of the window
        self._wdf: Counter[int] = Counter()  # word stem -> articles of the window
        self._expiry: list[tuple[datetime, int]] = []
        self._clock: datetime | None = None

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def assign(self, doc: StoryDoc) -> Assignment:
        """Put ``doc`` in a story of the window (or a new one), index it and return why.
        An id already in the window gets its story back (reason "same_link", via itself)."""
        self._evict(doc.published)
        known = self._docs.get(doc.id)
        if known is not None:
            return Assignment(doc.id, known.story_id, "same_link", 1.0, doc.id)
        f = features(doc)
        found = self._decide(doc, f)
        self._index(doc, f, found.story_id)
        return found

    def restore(self, doc: StoryDoc, story_id: int) -> None:
        """Index ``doc`` as a member of ``story_id`` without deciding (a stored article
        replayed at start); a known id or an article older than the window is skipped."""
        self._evict(doc.published)
        assert self._clock is not None  # _evict set it
        if doc.id not in self._docs and doc.published >= self._clock - self.params.window:
            self._index(doc, features(doc), story_id)

    def _decide(self, doc: StoryDoc, f: Features) -> Assignment:
        via = self._links.get(doc.link) if doc.link else None
        if via is not None:
            return self._join(doc, "same_link", 1.0, via)
        for hit in self.near.query(f.sig) if f.sig is not None else ():
            entry = self._docs.get(hit.doc_id)
            if entry is not None and not self._own_footer(doc, f, entry):
                return self._join(doc, "near_duplicate", hit.score, hit.doc_id)
        for link in doc.links:
            target = self._links.get(link)
            if target is not None:
                return self._join(doc, "linked", 1.0, target)
        best = self._best(doc, f)
        if best is not None:
            return self._join(doc, *best)
        return Assignment(doc.id, doc.id, "new", 1.0, None)

    def _own_footer(self, doc: StoryDoc, f: Features, entry: _Entry) -> bool:
        """Whether a near-duplicate text is only one outlet's long footer under two short
        entries of its own (two videos of a channel sharing its promotion): one outlet's
        copy of its own article keeps a headline alike."""
        if entry.outlet != doc.outlet[:_MAX_OUTLET]:
            return False
        # not token_set_ratio: "Однажды в России: …" would make any two episodes alike
        return fuzz.ratio(f.title, entry.title) / 100 < self.params.own_copy_heads

    def _join(self, doc: StoryDoc, reason: Reason, score: float, via: int) -> Assignment:
        return Assignment(doc.id, self._docs[via].story_id, reason, score, via)

    def _best(self, doc: StoryDoc, f: Features) -> tuple[Reason, float, int] | None:
        """The first copy among the candidates, else the best-scoring same-story
        candidate reaching the threshold; None when there is neither."""
        p = self.params
        best: tuple[Reason, float, int] | None = None
        outlet = doc.outlet[:_MAX_OUTLET]
        for cand in self._candidates(f):
            entry = self._docs[cand]
            heads = headline_likeness(f.title, entry.title)
            other = self.near.signature(cand)
            if f.sig is not None and other is not None and heads >= p.near_title:
                jaccard = similarity(f.sig, other)
                if jaccard >= p.near_low:
                    return ("near_duplicate", jaccard, cand)
            if entry.roundup:
                # A round-up shares the words of every event it lists: through it each
                # later report of any of them would join one story (one alert for all).
                continue
            if entry.outlet == outlet:
                # One outlet's two reports of an event are two articles it chose to
                # write (a follow-up, another angle, the next part of a series), and a
                # feed naming the same people in every entry must not fold them into one
                # story: within an outlet only copies join.
                continue
            if p.cross_heads:
                cross = cross_likeness(f.heads, frozenset(entry.heads), entry.n_heads)
                heads = max(heads, cross)
            score = self.score(doc, f, heads, entry)
            # An explainer ("Why is the Strait of Hormuz so crucial?", "Winter Olympics:
            # what you need to know") is about a topic: it shares the rare words of the
            # topic's news that day, not an event.
            bar = p.min_score + (p.explainer_extra if f.explainer or entry.explainer else 0.0)
            if score >= bar and (best is None or score > best[1]):
                best = ("same_story", score, cand)
        return best

    def score(self, doc: StoryDoc, f: Features, heads: float, entry: _Entry) -> float:
        """How surely ``doc`` reports the event of ``entry``'s article, 0..1.

        Mostly the cosine of their headlines' and leads' word stems, each weighted by the
        square of its rarity in the window: two reports of one event share its rare
        words (a dart frog, guiding principles), two articles of one topic its common
        ones, and a lead says what happened where a whole text names everyone. Across
        languages few words meet, so there the cosine is of what can (names by their
        cross-script keys, the lexicon's concepts) and must reach further. Then how
        alike the headlines are. 0 when the leads share fewer than ``min_shared`` names
        and the headlines are not alike over leads long enough to compare."""
        p = self.params
        theirs = frozenset(entry.lead_keys)
        common = [keys for keys in f.lead_names if not keys.isdisjoint(theirs)]
        if len(common) < p.min_shared and (
            heads < p.few_heads or min(len(f.words), len(entry.words)) < p.min_words
        ):  # a footer shared under two summaries, two bare headlines naming one person
            return 0.0
        if doc.language != entry.language and None not in (doc.language, entry.language):
            shared = sum(self._widf(w) ** 2 for w in f.concepts.intersection(entry.words))
            shared += sum(max(map(self._idf, keys)) ** 2 for keys in common)
            mine = self._words_norm(f.concepts) + self._names_norm(f.lead_names)
            other = entry.xnorm + entry.nnorm
            extra = p.cross_extra  # names and concepts alone: the same people meet often
        else:
            shared = sum(self._widf(w) ** 2 for w in f.words.intersection(entry.words))
            mine, other, extra = self._words_norm(f.words), entry.wnorm, 0.0
        words = shared / math.sqrt(max(mine * (other or mine), 1e-9)) - extra
        # A missing headline is no evidence either way: the score is then the text's.
        w_heads = p.w_heads if f.title and entry.title else 0.0
        score = (p.w_words * min(1.0, words) + w_heads * heads) / (p.w_words + w_heads)
        # Reports of one event come within a day or so; the same people meeting again
        # two days later read alike: the score fades from close_h to twice that.
        gap_h = abs((doc.published - entry.published).total_seconds()) / 3600
        fade = min(1.0, max(0.0, (gap_h - p.close_h) / p.close_h))
        return score * (1.0 - (1.0 - p.far_discount) * fade)

    def _idf(self, key: int) -> float:
        n = max(len(self._docs), _MIN_WINDOW_DOCS)
        return math.log((n + 1) / (self._df.get(key, 0) + 0.5))

    def _widf(self, key: int) -> float:
        n = max(len(self._docs), _MIN_WINDOW_DOCS)
        return math.log((n + 1) / (self._wdf.get(key, 0) + 0.5))

    def _names_norm(self, names: Iterable[frozenset[int]]) -> float:
        return sum(max(map(self._idf, keys)) ** 2 for keys in names if keys)

    def _words_norm(self, words: Iterable[int]) -> float:
        return sum(self._widf(w) ** 2 for w in words)

    def _candidates(self, f: Features) -> list[int]:
        """Articles of the window sharing one of the query's rarest name keys or lead
        word stems, those sharing most first."""
        p = self.params
        common = max(50, int(p.common_df * len(self._docs)))
        # The rarest keys the window holds: a key no article has yet finds none, and
        # must not take a place of the few that do.
        rare = sorted((df, k) for k in f.name_of if 0 < (df := self._df.get(k, 0)) <= common)
        hits: Counter[int] = Counter()
        for _, key in rare[: p.rare_keys]:
            hits.update(d for d in self._postings.get(key, ()) if d in self._docs)
        if p.rare_words:
            # a lead shares one rare word with many articles by chance, two seldom
            rare = sorted((df, w) for w in f.words if 0 < (df := self._wdf.get(w, 0)) <= common)
            by_words: Counter[int] = Counter()
            for _, word in rare[: p.rare_words]:
                by_words.update(d for d in self._wpostings.get(word, ()) if d in self._docs)
            hits.update(d for d, n in by_words.items() if n >= 2)
        return [d for d, _ in hits.most_common(p.max_candidates)]

    def _index(self, doc: StoryDoc, f: Features, story: int) -> None:
        entry = _Entry(
            f, doc.published, story, sys.intern(doc.outlet[:_MAX_OUTLET]), _interned(doc.language)
        )
        entry.wnorm = self._words_norm(f.words)
        entry.nnorm = self._names_norm(f.lead_names)
        entry.xnorm = self._words_norm(f.concepts)
        self._docs[doc.id] = entry
        heapq.heappush(self._expiry, (doc.published, doc.id))
        self._wdf.update(f.words)
        for word in entry.words:
            self._wpostings.setdefault(word, []).append(doc.id)
        for key in entry.keys:
            self._df[key] += 1
            self._postings.setdefault(key, []).append(doc.id)
        if doc.link and doc.link not in self._links:
            self._links[doc.link] = doc.id
            self._link_of[doc.id] = doc.link
        if f.sig is not None:
            self.near.add(doc.id, f.sig, doc.published)

    def _evict(self, now: datetime) -> None:
        """Forget the articles published before the window (their stories stay theirs)."""
        if self._clock is None or now > self._clock:
            self._clock = now
        horizon = self._clock - self.params.window
        self.near.evict(now)
        while self._expiry and self._expiry[0][0] < horizon:
            published, doc_id = heapq.heappop(self._expiry)
            entry = self._docs.get(doc_id)
            if entry is not None and entry.published == published:  # not forgotten since
                self._forget(doc_id)

    def forget(self, doc_id: int) -> None:
        """Drop ``doc_id`` from the window now: its article was assigned but never stored
        (the transaction failed), and its id may be given to another article."""
        if doc_id in self._docs:
            self._forget(doc_id)
        self.near.forget(doc_id)

    def _forget(self, doc_id: int) -> None:
        entry = self._docs.pop(doc_id)
        link = self._link_of.pop(doc_id, None)
        if link is not None:
            del self._links[link]
        for word in entry.words:
            self._wdf[word] -= 1
            if self._wdf[word] <= 0:
                del self._wdf[word], self._wpostings[word]
            elif len(self._wpostings[word]) > 2 * self._wdf[word] + 8:  # drop the dead ids
                self._wpostings[word] = [d for d in self._wpostings[word] if d in self._docs]
        for key in entry.keys:
            self._df[key] -= 1
            if self._df[key] <= 0:
                del self._df[key], self._postings[key]
            elif len(self._postings[key]) > 2 * self._df[key] + 8:  # drop the dead ids
                self._postings[key] = [d for d in self._postings[key] if d in self._docs]
