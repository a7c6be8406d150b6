"""Pairwise precision and recall of near-duplicates and story clusters on labelled data.

Usage: python bench/stories_eval.py [--misses] [--held-out]

Data (labels and locators only, never the texts of others; see docs/stories-eval.md):
- ``../shared/eval/articles.jsonl``: 16 real articles; its ``parallel:*`` groups are
  stories; ``bench/stories/eval_labels.tsv`` adds ambiguous groups (left out of the
  figures). All 16 are placed within three hours, so articles of different events about
  the same people (Witkoff, Putin, the coalition) fall in one window: the hard negatives.
- ``../shared/corpus/real-feeds/``: every entry of the feeds named in
  ``bench/stories/corpus_labels.tsv`` at its own date; that file labels the same events
  in several outlets (read by hand) and the same entries in two feeds (near-duplicates).
- ``bench/stories/constructed.jsonl``: copies built here from a real article by named
  transforms (boilerplate, headline dropped, quote styles, AMP link) and hard negatives
  (one outlet's footer on different stories).

A pair is positive when both articles share a ``story:`` or ``near:`` group (``near:``
only for near-duplicates), left out when they share only an ``ambiguous:`` group,
negative otherwise, for the pairs of judged articles (the eval set, the constructed
ones, the labelled corpus entries; the other corpus entries are distractors in the
window: a join to one is not scored, since not every event they share was labelled).
A fifth of the pairs (by a hash of the pair's groups) is held out:
figures are printed for the tuned part and the held-out part side by side.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.normalize.entries import normalize_entries  # noqa: E402
from monitor.normalize.urls import canonical_url  # noqa: E402
from monitor.parse.feed import parse_feed  # noqa: E402
from monitor.records import FeedConfig  # noqa: E402
from monitor.stories.cluster import StoryClusterer, StoryParams  # noqa: E402
from monitor.stories.doc import Assignment, StoryDoc  # noqa: E402
from monitor.stories.roundup import is_explainer, is_roundup  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = ROOT / "bench" / "stories"
EVAL_BASE = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)  # the 16 articles arrive 7 min apart
UNDATED_BASE = datetime(2031, 1, 1, tzinfo=UTC)  # undated corpus entries: a window of their own
TARGETS = {"near": (0.99, 0.95), "story": (0.95, 0.80)}

FOOTERS = {
    "en": "Follow us on Telegram and X for the latest news. Subscribe to our newsletter to "
    "get the top stories of the day delivered to your inbox every morning.",
    "uk": "Читайте також: головні новини дня. Підписуйтесь на наш Telegram-канал, щоб "
    "першими дізнаватися найважливіші новини України та світу.",
    "ru": "Читайте также: главные новости дня. Подписывайтесь на наш Telegram-канал, чтобы "
    "первыми узнавать самые важные новости Украины и мира.",
}
TEMPLATES = {
    "en": "This article was produced by our newsroom. All rights reserved. Reproduction "
    "in whole or in part without written permission is prohibited. For corrections and "
    "tips write to the desk. Download our app for breaking news alerts and live updates "
    "from our correspondents around the world, every day of the week.",
    "uk": "Матеріал підготувала редакція. Усі права захищено. Використання матеріалів "
    "дозволяється лише за умови посилання на наш сайт. Помітили помилку? Виділіть її та "
    "натисніть Ctrl+Enter. Завантажуйте наш застосунок, щоб отримувати термінові новини "
    "від наших кореспондентів щодня.",
}


@dataclass
class Item:
    """One article of the evaluation with its groups (the labels)."""

    key: str  # its locator
    doc: StoryDoc
    groups: set[str] = field(default_factory=set)


def load_judgements(data: Path = DATA) -> dict[frozenset[str], bool | None]:
    """Pairs of unlabelled articles a person read and judged (``join_judgements.tsv``):
    True for one event, False for two, None for unsure (left out of the figures)."""
    out: dict[frozenset[str], bool | None] = {}
    for line in (data / "join_judgements.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        verdict, a, b = line.split("\t")[:3]
        out[frozenset((a, b))] = None if verdict == "unsure" else verdict == "same"
    return out


def load_items(shared: Path = SHARED, data: Path = DATA) -> list[Item]:
    """Every article of the evaluation, in publication order, ids 1..n in that order."""
    raw: list[tuple[str, dict[str, object]]] = []
    raw += _eval_articles(shared / "eval" / "articles.jsonl")
    raw += _corpus_articles(shared / "corpus" / "real-feeds", data / "corpus_labels.tsv")
    by_key = {k: a for k, a in raw}
    _add_groups(by_key, data / "eval_labels.tsv", prefix="eval:")
    raw += _constructed(by_key, data / "constructed.jsonl")
    raw.sort(key=lambda ka: (ka[1]["published"], ka[0]))
    items = []
    for i, (key, a) in enumerate(raw, start=1):
        link = a.get("link")
        doc = StoryDoc(
            id=i,
            outlet=str(a["outlet"]),
            language=a.get("language"),  # type: ignore[arg-type]
            title=str(a["title"]),
            text=str(a["text"]),
            link=canonical_url(link) if isinstance(link, str) else None,
            published=a["published"],  # type: ignore[arg-type]
        )
        items.append(Item(key, doc, set(a["groups"])))  # type: ignore[call-overload]
    return items


def _eval_articles(path: Path) -> list[tuple[str, dict[str, object]]]:
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        a = json.loads(line)
        group = a.get("group") or ""
        groups = {"story:" + group.split(":", 1)[1]} if group.startswith("parallel:") else set()
        out.append(
            (
                f"eval:{a['url']}",
                {
                    # the daemon's outlet is a feed: a site's uk and ru editions are two
                    "outlet": f"{urlsplit(a['url']).hostname} {a['language']}",
                    "language": a["language"],
                    "title": a["title"],
                    "text": a["text"],
                    "link": a["url"],
                    "published": EVAL_BASE + timedelta(minutes=7 * i),
                    "groups": groups,
                },
            )
        )
    return out


def _corpus_articles(root: Path, labels: Path) -> list[tuple[str, dict[str, object]]]:
    groups: dict[str, set[str]] = defaultdict(set)
    files: list[str] = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        group, name, guid = line.split("\t")
        groups[f"corpus:{name}#{guid}"].add(group)
        if name not in files:
            files.append(name)
    out = []
    for name in files:
        body = (root / name).read_bytes()
        if name.endswith(".gz"):
            body = gzip.decompress(body)
        parsed = parse_feed(body, None, str(root / name))
        feed = FeedConfig(url=str(root / name))
        for n, art in enumerate(normalize_entries(parsed, feed, datetime(2040, 1, 1, tzinfo=UTC))):
            key = f"corpus:{name}#{art.guid}"
            when = art.published or UNDATED_BASE + timedelta(minutes=n)
            out.append(
                (
                    key,
                    {
                        "outlet": parsed.title or name,
                        "language": "ru" if name.startswith("uk-ru/") else "en",
                        "title": art.title,
                        "text": art.text,
                        "link": art.link,
                        "published": when,
                        "groups": groups.pop(key, set()),
                    },
                )
            )
    if groups:
        raise ValueError(f"labelled entries not found in the corpus: {sorted(groups)}")
    return out


def _constructed(
    by_key: dict[str, dict[str, object]], path: Path
) -> list[tuple[str, dict[str, object]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = json.loads(line)
        source = _find(by_key, spec["from"])
        copy = dict(source)
        for name in spec["transforms"]:
            copy = TRANSFORMS[name](copy, spec)
        if spec["group"]:
            source["groups"] = set(source["groups"]) | {spec["group"]}  # type: ignore[arg-type]
            copy["groups"] = set(source["groups"])  # type: ignore[arg-type]
        else:
            copy["groups"] = set()
        copy["outlet"] = spec["outlet"]
        copy["published"] = source["published"] + timedelta(hours=spec["offset_h"])  # type: ignore[operator]
        if "amp_link" not in spec["transforms"]:
            copy["link"] = f"https://{spec['outlet']}.example/{spec['id'][2:]}"
        out.append((spec["id"], copy))
    return out


def _find(by_key: dict[str, dict[str, object]], locator: str) -> dict[str, object]:
    hits = [k for k in by_key if k == locator or k.startswith(locator)]
    if len(hits) != 1:
        raise ValueError(f"{locator!r} names {len(hits)} articles")
    return by_key[hits[0]]


def _add_groups(by_key: dict[str, dict[str, object]], path: Path, prefix: str) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        group, url = line.split("\t")
        art = _find(by_key, prefix + url)
        art["groups"] = set(art["groups"]) | {group}  # type: ignore[arg-type]


def _swap(table: dict[str, str]) -> object:
    def apply(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
        out = dict(a)
        for k in ("title", "text"):
            s = str(out[k])
            for old, new in table.items():
                s = s.replace(old, new)
            out[k] = s
        return out

    return apply


def _boilerplate(lang: str) -> object:
    def apply(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
        source = f"{spec['outlet']}." if lang == "en" else f"Джерело: {spec['outlet']}."
        return {**a, "text": f"{source}\n{a['text']}\n\n{FOOTERS[lang]}"}

    return apply


def _template(lang: str) -> object:
    def apply(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
        return {**a, "text": f"{a['text']}\n\n{TEMPLATES[lang]}"}

    return apply


def _no_headline(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
    text = str(a["text"]).lstrip()
    title = str(a["title"])
    if text.startswith(title[:40]):
        text = text.split("\n", 1)[1] if "\n" in text else text[len(title) :]
    return {**a, "text": text.strip(), "title": ""}


def _retitle(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
    return {**a, "title": f"{a['title']} | {spec['outlet']}"}


def _amp_link(a: dict[str, object], spec: dict[str, object]) -> dict[str, object]:
    link = str(a["link"])
    return {**a, "link": link.replace("https://www.", "https://").rstrip("/") + "/amp/"}


TRANSFORMS = {
    "straight_quotes": _swap({"\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-"}),
    "curly_quotes": _swap({"'": "\u2019", '"': "\u201d", " - ": " \u2014 "}),
    "boilerplate_en": _boilerplate("en"),
    "boilerplate_uk": _boilerplate("uk"),
    "boilerplate_ru": _boilerplate("ru"),
    "template_en": _template("en"),
    "template_uk": _template("uk"),
    "no_headline": _no_headline,
    "retitle": _retitle,
    "amp_link": _amp_link,
}


@dataclass(frozen=True)
class Score:
    """Pairwise confusion counts of one kind (near / story) on one part (tuned / held-out)."""

    kind: str
    part: str
    tp: int
    fp: int
    fn: int
    misses: tuple[str, ...]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def run(items: list[Item], params: StoryParams | None = None) -> list[Assignment]:
    """Cluster the items in publication order."""
    clusterer = StoryClusterer(params)
    return [clusterer.assign(item.doc) for item in items]


def is_held_out(groups: Iterable[str]) -> bool:
    """True for the fifth of pairs (by a hash of their groups) kept aside while tuning."""
    digest = hashlib.sha256("|".join(sorted(groups)).encode()).digest()
    return digest[0] % 5 == 0


def score(items: list[Item], assigned: list[Assignment]) -> list[Score]:
    """Pairwise scores for near-duplicates and stories, tuned and held-out parts."""
    near = _components(items, assigned)
    story = {a.doc_id: a.story_id for a in assigned}
    out = []
    for kind, predicted in (("near", near), ("story", story)):
        prefixes = ("near:",) if kind == "near" else ("near:", "story:")
        for part in ("tuned", "held-out"):
            out.append(_score(kind, part, items, predicted, prefixes))
    return out


def _components(items: list[Item], assigned: list[Assignment]) -> dict[int, int]:
    """Near-duplicate components: articles joined by near_duplicate or same_link edges."""
    parent = {i.doc.id: i.doc.id for i in items}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in assigned:
        if a.reason in ("near_duplicate", "same_link") and a.via is not None:
            parent[root(a.doc_id)] = root(a.via)
    return {d: root(d) for d in parent}


def _label(a: Item, b: Item, prefixes: tuple[str, ...]) -> tuple[bool | None, list[str]]:
    """(True/False/None for left out, the groups that name the pair for the split)."""
    shared = a.groups & b.groups
    positive = sorted(g for g in shared if g.startswith(prefixes))
    if positive:
        return True, positive[:1]
    if any(g.startswith(("ambiguous:", "story:", "near:")) for g in shared):
        return None, []
    if not _judged(a) or not _judged(b):
        return None, []
    return False, [a.key, b.key]


def _judged(item: Item) -> bool:
    """True when every pair of ``item`` with another judged article was read: the eval
    set and the constructed articles, and the corpus entries that carry a label (an
    unlabelled corpus entry is a distractor: the events it shares were not all found)."""
    return not item.key.startswith("corpus:") or bool(item.groups)


def _score(
    kind: str,
    part: str,
    items: list[Item],
    predicted: dict[int, int],
    prefixes: tuple[str, ...],
) -> Score:
    held = part == "held-out"
    tp = fp = fn = 0
    misses = []
    by_id = {i.doc.id: i for i in items}
    # positives: every labelled pair; false positives: predicted pairs labelled negative
    members: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        for g in item.groups:
            if g.startswith(prefixes):
                members[g].append(item)
    seen: set[tuple[int, int]] = set()
    for group in members.values():
        for a, b in itertools.combinations(group, 2):
            pair = (min(a.doc.id, b.doc.id), max(a.doc.id, b.doc.id))
            label, key = _label(a, b, prefixes)
            if pair in seen or label is not True or is_held_out(key) != held:
                continue
            seen.add(pair)
            if predicted[a.doc.id] == predicted[b.doc.id]:
                tp += 1
            else:
                fn += 1
                misses.append(f"FN {a.key} ~ {b.key}")
    clusters: dict[int, list[int]] = defaultdict(list)
    for doc_id, cluster in predicted.items():
        clusters[cluster].append(doc_id)
    for ids in clusters.values():
        for x, y in itertools.combinations(sorted(ids), 2):
            a, b = by_id[x], by_id[y]
            label, key = _label(a, b, prefixes)
            if label is False and is_held_out(key) == held:
                fp += 1
                misses.append(f"FP {a.key} ~ {b.key}")
    return Score(kind, part, tp, fp, fn, tuple(misses))


@dataclass(frozen=True)
class Judged:
    """The judged pairs of one part: how many of each verdict ended in one story, and
    the joins between unlabelled articles nobody has judged yet (to read next)."""

    part: str
    same_together: int  # one event, one story
    same_apart: int
    different_together: int  # two events in one story: a wrong join
    different_apart: int
    unjudged: tuple[str, ...]
    wrong: tuple[str, ...] = ()  # "X": judged different, together; "-": judged same, apart

    @property
    def precision(self) -> float:
        """The share of the judged pairs in one story that are one event."""
        together = self.same_together + self.different_together
        return self.same_together / together if together else 1.0


def judged(
    items: list[Item], assigned: list[Assignment], judgements: dict[frozenset[str], bool | None]
) -> list[Judged]:
    """The judged pairs' outcome, tuned and held-out parts (a pair's part by the hash of
    its two locators). The judgements were made on joins an earlier clusterer made, so
    they measure precision (how many joins are right), not recall."""
    by_key = {i.key: i for i in items}
    story = {a.doc_id: a.story_id for a in assigned}
    by_id = {i.doc.id: i for i in items}
    out = []
    for part in ("tuned", "held-out"):
        counts = {(v, t): 0 for v in (True, False) for t in (True, False)}
        wrong = []
        for pair, verdict in judgements.items():
            a, b = sorted(pair)
            if (
                verdict is None
                or a not in by_key
                or b not in by_key
                or is_held_out([a, b]) != (part == "held-out")
            ):
                continue
            together = story[by_key[a].doc.id] == story[by_key[b].doc.id]
            counts[(verdict, together)] += 1
            if verdict != together:
                ta, tb = by_key[a].doc.title[:60], by_key[b].doc.title[:60]
                wrong.append(f"{'-' if verdict else 'X'}  {a}\t{b}\t# {ta} | {tb}")
        unjudged = []
        for x in assigned:
            if x.reason != "same_story" or x.via is None:
                continue
            a, b = by_id[x.doc_id], by_id[x.via]
            pair = frozenset((a.key, b.key))
            if pair in judgements or is_held_out(sorted(pair)) != (part == "held-out"):
                continue
            if _label(a, b, ("near:", "story:"))[0] is None:
                unjudged.append(f"?  {a.key}\t{b.key}\t# {a.doc.title[:60]} | {b.doc.title[:60]}")
        out.append(
            Judged(
                part,
                counts[(True, True)],
                counts[(True, False)],
                counts[(False, True)],
                counts[(False, False)],
                tuple(unjudged),
                tuple(sorted(wrong)),
            )
        )
    return out


def main() -> int:
    """Print the tuned part's figures (with --held-out the held-out part's too; with
    --misses every wrong pair of the tuned part)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the wrong pairs (tuned)")
    parser.add_argument(
        "--held-out", action="store_true", help="also print the held-out part (not while tuning)"
    )
    args = parser.parse_args()
    items = load_items()
    assigned = run(items)
    print(f"{len(items)} articles, {len({a.story_id for a in assigned})} stories")
    roundups = [i.doc.title for i in items if is_roundup(i.doc.title)]
    print(f"round-ups (never joined through): {len(roundups)}")
    if args.misses:
        for title in roundups:
            print("   ", title[:100])
    explainers = [i.doc.title for i in items if is_explainer(i.doc.title)]
    print(f"explainers (joined across outlets only on stronger evidence): {len(explainers)}")
    if args.misses:
        for title in explainers:
            print("   ", title[:100])
    print(f"{'kind':6} {'part':9} {'TP':>4} {'FP':>4} {'FN':>4} {'P':>6} {'R':>6}  target P/R")
    for s in score(items, assigned):
        if s.part == "held-out" and not args.held_out:
            continue
        p, r = TARGETS[s.kind]
        print(
            f"{s.kind:6} {s.part:9} {s.tp:4} {s.fp:4} {s.fn:4} "
            f"{s.precision:6.3f} {s.recall:6.3f}  {p}/{r}"
        )
        if args.misses and s.part == "tuned":
            for m in s.misses:
                print("   ", m)
    print("joins judged by reading (unlabelled real articles; precision of joins only):")
    print(
        f"{'part':9} {'same: together/apart':>21} {'different: together/apart':>26} {'P':>6}  unjudged"
    )
    for j in judged(items, assigned, load_judgements()):
        if j.part == "held-out" and not args.held_out:
            continue
        print(
            f"{j.part:9} {j.same_together:>12}/{j.same_apart:<8} "
            f"{j.different_together:>17}/{j.different_apart:<8} {j.precision:6.3f}  {len(j.unjudged)}"
        )
        if args.misses and j.part == "tuned":
            for m in (*j.wrong, *j.unjudged):
                print("   ", m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
