"""The records of the stories stage: an article in (:class:`StoryDoc`), its story out
(:class:`Assignment`). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# Why an article joined a story: "new" starts one; the others name the evidence.
Reason = Literal["new", "same_link", "near_duplicate", "linked", "same_story"]


@dataclass(frozen=True, slots=True)
class StoryDoc:
    """One article as the clusterer sees it (every string straight from a feed)."""

    id: int  # the stored article's id: a story's id is the id of its first article
    outlet: str  # the feed or source it came through
    language: str | None
    title: str
    text: str
    link: str | None  # canonical link (monitor.normalize.urls.canonical_url)
    published: datetime  # UTC: the feed's date, else when we first saw it
    links: tuple[str, ...] = ()  # canonical links the article points to


@dataclass(frozen=True, slots=True)
class Assignment:
    """The story an article was put in, and why."""

    doc_id: int
    story_id: int  # the id of the story's first article (``doc_id`` for a new story)
    reason: Reason
    score: float  # the evidence's strength, 0..1 (1.0 for "new", "same_link", "linked")
    via: int | None  # the article it was joined through; None for a new story
