"""Clustering speed: a new article against a 72 h window of 50,000 articles.

Usage: python bench/stories_speed.py [--window 50000] [--queries 2000] [--tracemalloc]

Generates realistic uk/ru/en articles (names of people and places from small lists,
numbers, sentences of common words, about 600 characters each, one every 5 s so the
window spans 70 h), fills the clusterer's window, then times assigning new articles on
one core. Prints articles/s, ms per article and the index's memory: the growth of the
process's resident set while the window fills (the articles themselves were generated
before), or with ``--tracemalloc`` what Python allocated for it (slower: 3x).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.stories.cluster import StoryClusterer  # noqa: E402
from monitor.stories.doc import StoryDoc  # noqa: E402

NAMES = {
    "en": [
        "Witkoff",
        "Putin",
        "Zelensky",
        "Trump",
        "Macron",
        "Kushner",
        "Rubio",
        "Orban",
        "Kyiv",
        "Moscow",
        "Geneva",
        "Paris",
        "Kharkiv",
        "Odesa",
        "Brussels",
        "Merz",
    ],
    "uk": [
        "Віткофф",
        "Путін",
        "Зеленський",
        "Трамп",
        "Макрон",
        "Кушнер",
        "Рубіо",
        "Орбан",
        "Київ",
        "Москва",
        "Женева",
        "Париж",
        "Харків",
        "Одеса",
        "Брюссель",
        "Мерц",
    ],
    "ru": [
        "Уиткофф",
        "Путин",
        "Зеленский",
        "Трамп",
        "Макрон",
        "Кушнер",
        "Рубио",
        "Орбан",
        "Киев",
        "Москва",
        "Женева",
        "Париж",
        "Харьков",
        "Одесса",
        "Брюссель",
        "Мерц",
    ],
}
WORDS = {
    "en": [
        "the",
        "of",
        "and",
        "to",
        "in",
        "said",
        "talks",
        "meeting",
        "on",
        "with",
        "for",
        "as",
        "was",
        "at",
        "by",
        "from",
        "security",
        "war",
        "peace",
        "plan",
        "minister",
        "officials",
        "week",
        "new",
        "after",
        "government",
        "president",
        "deal",
    ],
    "uk": [
        "і",
        "в",
        "на",
        "що",
        "з",
        "до",
        "про",
        "за",
        "як",
        "це",
        "у",
        "після",
        "зустріч",
        "переговори",
        "заявив",
        "мир",
        "план",
        "безпека",
        "уряд",
        "тиждень",
        "новий",
        "президент",
        "угода",
        "міністр",
        "війна",
    ],
    "ru": [
        "и",
        "в",
        "на",
        "что",
        "с",
        "до",
        "о",
        "за",
        "как",
        "это",
        "у",
        "после",
        "встреча",
        "переговоры",
        "заявил",
        "мир",
        "план",
        "безопасность",
        "правительство",
        "неделя",
        "новый",
        "президент",
        "соглашение",
        "министр",
        "война",
    ],
}


def _split(words: str) -> list[str]:
    return words.split()


SYLLABLES = {
    "en": _split("ba ce di fo gu ha je ki lo mu na pe ri so tu va we xi yo ze an er in on st th"),
    "uk": _split("ба ве ги до же зі ко ла ми но пе ро сі ту фе ха ці че ша ню ів ен ри ск ст"),
    "ru": _split("ба ве ги до же зи ко ла ми но пе ро си ту фе ха це че ша ню ов ен ры ск ст"),
}


def _vocabulary(rng: random.Random, lang: str, size: int = 20_000) -> list[str]:
    """Common words, then ``size`` made-up words of 2-4 syllables (news has a long tail)."""
    made = {"".join(rng.choices(SYLLABLES[lang], k=rng.randint(2, 4))) for _ in range(size)}
    return WORDS[lang] + sorted(made)


def _word(rng: random.Random, vocabulary: list[str]) -> str:
    """A Zipf-like draw: the common words often, the tail rarely."""
    return vocabulary[int(len(vocabulary) * rng.random() ** 4)]


VOCABULARY: dict[str, list[str]] = {}


def article(rng: random.Random, i: int, start: datetime) -> StoryDoc:
    """One generated article: a headline and five sentences with names and numbers."""
    lang = rng.choice(("en", "uk", "ru"))
    if lang not in VOCABULARY:
        VOCABULARY[lang] = _vocabulary(random.Random(lang), lang)
    names, vocabulary = NAMES[lang], VOCABULARY[lang]
    surname = rng.choice(names) + ("а" if lang != "en" and rng.random() < 0.3 else "")
    extra = f"X{rng.randrange(5000)}"  # a rare name: most stories have one of their own
    title = " ".join(
        [surname, *(_word(rng, vocabulary) for _ in range(5)), rng.choice(names), extra.title()]
    )
    sentences = []
    for _ in range(5):
        body = [_word(rng, vocabulary) for _ in range(12)]
        body += [rng.choice(names), str(rng.randrange(10, 999))]
        rng.shuffle(body)
        sentence = " ".join(body)
        sentences.append(f"{sentence[0].upper()}{sentence[1:]} {extra.title()}.")
    return StoryDoc(
        id=i,
        outlet=f"outlet{rng.randrange(300)}",
        language=lang,
        title=title,
        text=" ".join(sentences),
        link=f"https://outlet.example/{i}",
        published=start + timedelta(seconds=5 * i),
    )


def _rss_mb() -> float:
    """This process's resident set in MB (Linux /proc; 0 elsewhere)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return 0.0

    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    """Fill the window, then time assignments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--tracemalloc", action="store_true", help="count allocations")
    args = parser.parse_args()
    rng = random.Random(12)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    docs = [article(rng, i, start) for i in range(args.window + args.queries)]
    if args.tracemalloc:
        tracemalloc.start()
    rss_before = _rss_mb()
    clusterer = StoryClusterer()
    t0 = time.perf_counter()
    for doc in docs[: args.window]:
        clusterer.assign(doc)
    fill_s = time.perf_counter() - t0
    if args.tracemalloc:
        memory = f"{tracemalloc.get_traced_memory()[0] / 1e6:.0f} MB (tracemalloc)"
        tracemalloc.stop()
    else:
        memory = f"{_rss_mb() - rss_before:.0f} MB (resident set growth)"
    t0 = time.perf_counter()
    for doc in docs[args.window :]:
        clusterer.assign(doc)
    query_s = time.perf_counter() - t0
    per_ms = query_s / args.queries * 1000
    print(f"window: {len(clusterer)} articles, filled in {fill_s:.1f} s")
    print(f"index memory, window full: {memory}")
    print(f"new articles: {args.queries / query_s:.0f} articles/s, {per_ms:.2f} ms per article")
    # what a restart (and every `run --once`) pays: the stored window replayed with the
    # stories it had, features computed again, no decisions
    stories = {doc.id: clusterer.assign(doc).story_id for doc in docs[: args.window]}
    replay = StoryClusterer()
    t0 = time.perf_counter()
    for doc in docs[: args.window]:
        replay.restore(doc, stories[doc.id])
    restore_s = time.perf_counter() - t0
    print(f"restore after a restart: {len(replay)} articles in {restore_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
