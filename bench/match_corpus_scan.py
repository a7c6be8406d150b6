"""Precision check on feeds nobody labelled: which surfaces each rule finds in the real feeds.

Runs every file of ../shared/corpus/real-feeds through parse -> normalise -> match with a few
name and phrase rules and prints, per rule, the article count and every distinct surface
with its count, for a person to inspect (a false surface such as `Whitaker` for `Witkoff`
stands out). Usage: python bench/match_corpus_scan.py
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.errors import FetchError  # noqa: E402
from monitor.match import compile_rules  # noqa: E402
from monitor.normalize.entries import normalize_entries  # noqa: E402
from monitor.parse.feed import parse_feed  # noqa: E402
from monitor.records import Document, FeedConfig, RuleConfig  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
TERMS = {
    "coalition": [
        "coalition of the willing",
        "коаліція рішучих",
        "коалиция желающих",
        "коалиция решительных",
    ]
}
RULES = [
    ("witkoff", "Witkoff"),
    ("kushner", "Kushner"),
    ("coalition", "@coalition"),
    ("zelensky", "Zelensky"),
    ("putin", "Putin"),
    ("rubio", "Rubio"),
    ("vance", "Vance"),
]


def main() -> int:
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: nothing to scan")
        return 1
    matcher = compile_rules([RuleConfig(n, q) for n, q in RULES], TERMS)
    surfaces: dict[str, Counter] = defaultdict(Counter)
    articles: Counter = Counter()
    scanned = 0
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".tsv"):
        try:
            parsed = parse_feed(path.read_bytes(), None, str(path))
        except FetchError:
            continue
        for article in normalize_entries(parsed, FeedConfig(str(path)), datetime.now(UTC)):
            scanned += 1
            for match in matcher.match(Document(article.title, article.text)):
                articles[match.rule] += 1
                surfaces[match.rule].update(e.surface for e in match.evidence)
    print(f"scanned {scanned} articles from {CORPUS}")
    for name, _query in RULES:
        found = ", ".join(f"{s} ×{n}" for s, n in surfaces[name].most_common())
        print(f"{name:<10} {articles[name]:>4} articles  surfaces: {found or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
