"""Stories on labelled real articles from ../shared: pairwise precision/recall targets
on the tuned part (bench/stories_eval.py; the held-out fifth is reported, not asserted)."""

from __future__ import annotations

import pytest

from bench import stories_eval
from tests.support import shared_path


@pytest.fixture(scope="module")
def scores() -> dict[tuple[str, str], stories_eval.Score]:
    """Scores of the clusterer on the evaluation set, by (kind, part)."""
    shared_path("eval", "articles.jsonl")
    shared_path("corpus", "real-feeds")
    items = stories_eval.load_items()
    return {(s.kind, s.part): s for s in stories_eval.score(items, stories_eval.run(items))}


def test_near_duplicates_meet_their_targets(scores: dict) -> None:
    """Copies with footers, quote styles, no headline, AMP links: P >= 0.99, R >= 0.95."""
    s = scores[("near", "tuned")]
    assert s.tp >= 15
    assert s.precision >= 0.99, s.misses
    assert s.recall >= 0.95, s.misses


def test_same_story_precision_meets_its_target(scores: dict) -> None:
    """Articles of other events about the same people stay apart: P >= 0.97 (the
    target is 0.95; recall work must not buy its gains with precision)."""
    s = scores[("story", "tuned")]
    assert s.tp >= 100
    assert s.precision >= 0.97, s.misses


def test_same_story_recall_meets_its_target(scores: dict) -> None:
    """Reports of one event in other outlets and languages join its story: R >= 0.85
    (the target is 0.80; 0.87 measured)."""
    s = scores[("story", "tuned")]
    assert s.recall >= 0.85, s.misses


def test_joins_between_unlabelled_real_articles_are_mostly_right() -> None:
    """The joins an earlier clusterer made between real articles no label covers were
    read and judged (bench/stories/join_judgements.tsv): one event, or two events of one
    topic (the Greenland tariff week, the Olympics guides). 0.43 of the judged joins were
    right before the leads' rare-word cosine, 0.79 before explainers needed more; now
    >= 0.95 must be (1.0 measured, 11 joins)."""
    items = stories_eval.load_items()
    judged = stories_eval.judged(items, stories_eval.run(items), stories_eval.load_judgements())
    tuned = next(j for j in judged if j.part == "tuned")
    assert tuned.same_together + tuned.different_together >= 10
    assert tuned.precision >= 0.95, tuned.wrong


DW = "corpus:en/dw_english_rdf_2026.xml#https://www.dw.com/en/"
# A topic's explainer in one outlet and that day's news of the topic in others: judged
# two events (join_judgements.tsv), joined by the clusterer before explainers needed more.
EXPLAINER_PAIRS = [
    (  # Why is the Strait of Hormuz off Iran so crucial? | Iran temporarily closed it …
        f"{DW}why-is-the-strait-of-hormuz-off-iran-so-crucial/a-72952336?maca=en-rss-en-all-1573-rdf",
        "corpus:en/abcnews_international_2026.xml#https://abcnews.com/International/wireStory/"
        "us-iran-hold-round-nuclear-talks-geneva-130223204",
    ),
    (  # … | Iran Holds Exercises in Strait of Hormuz After Trump Threatens (a copy)
        f"{DW}why-is-the-strait-of-hormuz-off-iran-so-crucial/a-72952336?maca=en-rss-en-all-1573-rdf",
        "c:copy-of-nyt-iran",
    ),
    (  # 2026 Winter Olympics: What you need to know | 10 Fun Facts About Milan and Cortina
        f"{DW}2026-winter-olympics-what-you-need-to-know/a-75716782?maca=en-rss-en-all-1573-rdf",
        "corpus:en/time_world_2026.xml#https://time.com/?p=7326904",
    ),
]


def test_a_topics_explainer_stays_apart_from_the_days_news_in_other_outlets() -> None:
    items = stories_eval.load_items()
    story = {a.doc_id: a.story_id for a in stories_eval.run(items)}
    by_key = {i.key: i.doc.id for i in items}
    for a, b in EXPLAINER_PAIRS:
        assert story[by_key[a]] != story[by_key[b]], (a, b)
