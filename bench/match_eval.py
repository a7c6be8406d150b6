"""Precision and recall of the matcher on labelled real articles.

Usage: python bench/match_eval.py [PATH]   (default: ../shared/eval/articles.jsonl)

Each line of the file is an article with labels: ``has_witkoff``,
``has_coalition_of_the_willing`` and ``mentions`` (entity ``kushner``). Prints one
line per rule with TP/FP/FN, precision and recall, and the misses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.match import compile_rules  # noqa: E402
from monitor.records import Document, RuleConfig  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "eval" / "articles.jsonl"
TERMS = {
    "coalition": [
        "coalition of the willing",
        "коаліція рішучих",
        "коалиция желающих",
        "коалиция решительных",
    ]
}


def _has_kushner(article: dict) -> bool:
    return any(m.get("entity") == "kushner" for m in article.get("mentions", ()))


def _has_both(article: dict) -> bool:
    return bool(article["has_witkoff"] and article["has_coalition_of_the_willing"])


# rule name -> (query, label of an article)
EVAL_RULES: dict[str, tuple[str, Callable[[dict], bool]]] = {
    "witkoff": ("Witkoff", lambda a: bool(a["has_witkoff"])),
    "kushner": ("Kushner", _has_kushner),
    "coalition": ("@coalition", lambda a: bool(a["has_coalition_of_the_willing"])),
    "witkoff_and_coalition": ("Witkoff AND @coalition", _has_both),
}


@dataclass(frozen=True)
class Score:
    """Confusion counts of one rule; ``misses`` are (kind, url) pairs."""

    rule: str
    tp: int
    fp: int
    fn: int
    misses: tuple[tuple[str, str], ...]

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when the rule never fired."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when nothing was to be found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_articles(path: Path) -> list[dict]:
    """The labelled articles of a JSON-lines file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(articles: Iterable[dict]) -> list[Score]:
    """Score every evaluation rule on ``articles`` (language left to detection)."""
    rules = [RuleConfig(name=name, query=q) for name, (q, _) in EVAL_RULES.items()]
    matcher = compile_rules(rules, TERMS)
    counts = {name: [0, 0, 0, []] for name in EVAL_RULES}
    for article in articles:
        doc = Document(title=article["title"], text=article["text"])
        fired = {m.rule for m in matcher.match(doc)}
        for name, (_, label) in EVAL_RULES.items():
            c = counts[name]
            truth, got = label(article), name in fired
            if truth and got:
                c[0] += 1
            elif got:
                c[1] += 1
                c[3].append(("FP", article["url"]))
            elif truth:
                c[2] += 1
                c[3].append(("FN", article["url"]))
    return [Score(n, c[0], c[1], c[2], tuple(c[3])) for n, c in counts.items()]


def main(argv: list[str]) -> int:
    """Print the score table; exit 1 when a rule misses its targets."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    scores = evaluate(load_articles(path))
    ok = True
    print(f"{'rule':24} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}")
    for s in scores:
        print(f"{s.rule:24} {s.tp:4} {s.fp:4} {s.fn:4} {s.precision:10.3f} {s.recall:8.3f}")
        for kind, url in s.misses:
            print(f"    {kind} {url}")
        ok &= s.precision >= 0.98 and s.recall >= 0.95
    print("targets (precision >= 0.98, recall >= 0.95):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
