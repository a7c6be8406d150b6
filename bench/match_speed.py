"""Matcher speed and memory against 1,000 generated rules, with a naive baseline.

Usage: python bench/match_speed.py [--rules 1000] [--articles 2000] [--baseline 40]

Articles (~3 KB, mixed uk/ru/en) are assembled from sentences of the real feeds in
../shared/corpus/real-feeds and ../shared/eval (a small built-in text when absent),
so the vocabulary is realistic (the per-token cache is not flattered by repetition).
Rules are generated from real names (Latin and Cyrillic) and uk/ru/en phrases with
every operator. Prints: compile time, RSS delta of the compiled matcher (language
dictionaries + indexes, and again after matching fills the token cache), articles/s
on one core (cold and warm cache), and the same run with a naive per-rule regex loop.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.match import compile_rules  # noqa: E402
from monitor.match.query import And, Near, Not, Or, Term, parse_query  # noqa: E402
from monitor.records import Document, RuleConfig  # noqa: E402

SHARED = ROOT.parent / "shared"
NAMES_LATIN = [
    "Witkoff",
    "Kushner",
    "Zelensky",
    "Putin",
    "Macron",
    "Starmer",
    "Merz",
    "Scholz",
    "Rutte",
    "Tusk",
    "Orban",
    "Erdogan",
    "Netanyahu",
    "Biden",
    "Harris",
    "Vance",
    "Rubio",
    "Hegseth",
    "Kellogg",
    "Dmitriev",
    "Lavrov",
    "Peskov",
    "Shoigu",
    "Gerasimov",
    "Budanov",
    "Umerov",
    "Yermak",
    "Sybiha",
    "Shmyhal",
    "Svyrydenko",
    "Klitschko",
    "Poroshenko",
    "Tymoshenko",
    "Zaluzhnyi",
    "Syrskyi",
    "Kuleba",
    "Stefanchuk",
    "Meloni",
    "Sanchez",
    "Costa",
    "Kallas",
    "Leyen",
    "Borrell",
    "Stoltenberg",
    "Guterres",
    "Grossi",
    "Xi",
    "Modi",
    "Lula",
    "Milei",
    "Trudeau",
    "Carney",
    "Albanese",
    "Sunak",
    "Johnson",
    "Truss",
    "Cameron",
    "Lammy",
    "Healey",
    "Reeves",
    "Barrot",
    "Pistorius",
    "Baerbock",
    "Wadephul",
    "Sikorski",
    "Nauseda",
    "Karis",
    "Stubb",
    "Rinkevics",
    "Fico",
    "Babis",
    "Vucic",
    "Lukashenko",
    "Tokayev",
    "Aliyev",
    "Pashinyan",
    "Kobakhidze",
    "Sandu",
    "Musk",
    "Bezos",
    "Altman",
    "Zuckerberg",
    "Gates",
    "Soros",
    "Whitaker",
    "Waltz",
    "Gabbard",
    "Ratcliffe",
    "Patel",
    "Bondi",
]
NAMES_CYRILLIC = [
    "Віткофф",
    "Кушнер",
    "Зеленський",
    "Путін",
    "Макрон",
    "Стармер",
    "Мерц",
    "Шольц",
    "Рютте",
    "Туск",
    "Орбан",
    "Ердоган",
    "Нетаньягу",
    "Байден",
    "Венс",
    "Рубіо",
    "Келлог",
    "Дмитрієв",
    "Лавров",
    "Пєсков",
    "Шойгу",
    "Герасимов",
    "Буданов",
    "Умєров",
    "Єрмак",
    "Сибіга",
    "Шмигаль",
    "Свириденко",
    "Кличко",
    "Порошенко",
    "Тимошенко",
    "Залужний",
    "Сирський",
    "Уиткофф",
    "Зеленский",
    "Путин",
    "Лавров",
    "Песков",
    "Дмитриев",
    "Келлог",
    "Рубио",
    "Умеров",
    "Ермак",
    "Кличко",
]
PHRASES = [
    "coalition of the willing",
    "security guarantees",
    "peace plan",
    "ceasefire talks",
    "energy infrastructure",
    "prisoner exchange",
    "sanctions package",
    "frozen assets",
    "air defense",
    "drone attack",
    "nuclear power plant",
    "grain corridor",
    "коаліція рішучих",
    "гарантії безпеки",
    "мирний план",
    "перемир'я",
    "обмін полоненими",
    "енергетична інфраструктура",
    "атака дронів",
    "протиповітряна оборона",
    "заморожені активи",
    "пакет санкцій",
    "атомна електростанція",
    "зернова угода",
    "коалиция желающих",
    "коалиция решительных",
    "гарантии безопасности",
    "мирный план",
    "обмен пленными",
    "энергетическая инфраструктура",
    "атака беспилотников",
    "противовоздушная оборона",
    "замороженные активы",
    "пакет санкций",
    "прекращение огня",
    "Верховна Рада",
    "Государственная дума",
    "Європейський Союз",
    "European Union",
]
PREFIXES = ["санкці*", "sanction*", "переговор*", "negotiat*", "дрон*", "ракет*", "missil*"]
FALLBACK_TEXT = (
    "Спецпредставник президента США Стів Віткофф прибув до Парижа на засідання коаліції "
    "рішучих. Спецпредставитель президента США Стив Уиткофф прибыл в Париж. "
    "Trump's envoy Steve Witkoff met European leaders to discuss security guarantees. "
)
_TAG = re.compile(r"<[^>]+>")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences_by_language() -> dict[str, list[str]]:
    """Sentences of real uk/ru/en text from ../shared (or a small built-in text)."""
    pool: dict[str, list[str]] = {"uk": [], "ru": [], "en": []}
    feeds = SHARED / "corpus" / "real-feeds"
    if feeds.exists():
        import feedparser

        from monitor.match import detect_language

        for path in sorted(feeds.glob("*/*")):
            if path.suffix not in (".xml", ".rss", ".atom") and not path.name.endswith(".xml"):
                continue
            for entry in feedparser.parse(path.read_bytes()).entries:
                body = " ".join(c.get("value", "") for c in entry.get("content", []))
                text = f"{entry.get('title', '')}. {entry.get('summary', '')} {body}"
                text = html.unescape(_TAG.sub(" ", text))
                lang = detect_language(text)
                if lang in pool:
                    pool[lang].extend(s.strip() for s in _SENTENCE.split(text) if len(s) > 30)
    evals = SHARED / "eval" / "articles.jsonl"
    if evals.exists():
        for line in evals.read_text(encoding="utf-8").splitlines():
            art = json.loads(line)
            pool[art["language"]].extend(_SENTENCE.split(art["text"]))
    for lang in pool:
        if not pool[lang]:
            pool[lang] = _SENTENCE.split(FALLBACK_TEXT)
    return pool


def make_articles(count: int, rng: random.Random) -> list[Document]:
    """``count`` documents of ~3 KB, cycling uk/ru/en, language left to detection."""
    pool = _sentences_by_language()
    docs = []
    for i in range(count):
        sentences = pool[("uk", "ru", "en")[i % 3]]
        title = rng.choice(sentences)[:150]
        parts: list[str] = []
        while sum(len(p) for p in parts) < 3000:
            parts.append(rng.choice(sentences))
        docs.append(Document(title=title, text=" ".join(parts)))
    return docs


def make_rules(count: int, rng: random.Random) -> list[RuleConfig]:
    """``count`` rules over real names and phrases using every operator."""
    names = NAMES_LATIN + NAMES_CYRILLIC

    def phrase() -> str:
        return f'"{rng.choice(PHRASES)}"'

    shapes = [
        lambda: rng.choice(names),
        lambda: f"{rng.choice(names)} AND {phrase()}",
        lambda: f"({rng.choice(names)} OR {rng.choice(names)}) {phrase()}",
        lambda: f"{rng.choice(names)} NEAR/5 {rng.choice(names)}",
        lambda: f"title:{rng.choice(names)} OR {rng.choice(PREFIXES)}",
        lambda: f"{phrase()} NOT {rng.choice(names)}",
        lambda: f"={rng.choice(names)} {rng.choice(PREFIXES)}",
        lambda: f"{rng.choice(names)} @coalition",
    ]
    return [RuleConfig(name=f"r{i}", query=rng.choice(shapes)()) for i in range(count)]


TERMS = {"coalition": ["coalition of the willing", "коаліція рішучих", "коалиция желающих"]}


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class NaiveMatcher:
    """The baseline: for every rule, run one compiled regex per term over the text."""

    def __init__(self, rules: list[RuleConfig]) -> None:
        self.rules = [(r.name, self._compile(parse_query(r.query, TERMS, r.name))) for r in rules]

    def _compile(self, node: object) -> object:
        if isinstance(node, Term):
            words = [re.escape(w.text) + (r"\w*" if w.prefix else "") for w in node.words]
            pattern = r"\b" + r"\W+".join(words) + r"\b"
            return re.compile(pattern, re.IGNORECASE)
        if isinstance(node, Not):
            return ("not", self._compile(node.child))
        if isinstance(node, Near):
            return ("and", [self._compile(node.left), self._compile(node.right)])
        kind = "and" if isinstance(node, And) else "or"
        assert isinstance(node, And | Or)
        return (kind, [self._compile(c) for c in node.children])

    def _eval(self, node: object, text: str) -> bool:
        if isinstance(node, re.Pattern):
            return node.search(text) is not None
        kind, arg = node  # type: ignore[misc]
        if kind == "not":
            return not self._eval(arg, text)
        results = (self._eval(c, text) for c in arg)
        return all(results) if kind == "and" else any(results)

    def match(self, doc: Document) -> list[str]:
        """Names of the rules whose regexes fire on the document."""
        text = doc.title + "\n" + doc.text
        return [name for name, tree in self.rules if self._eval(tree, text)]


def main() -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=40, help="articles for the naive loop")
    args = parser.parse_args()
    rng = random.Random(20260227)
    docs = make_articles(args.articles, rng)
    rules = make_rules(args.rules, rng)
    avg_kb = sum(len(d.title) + len(d.text) for d in docs) / len(docs) / 1024
    print(f"articles: {len(docs)} (avg {avg_kb:.1f} KB, uk/ru/en); rules: {len(rules)}")

    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    matcher = compile_rules(rules, TERMS)
    compile_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    print(f"compile: {compile_s:.2f} s for {len(rules)} rules (target < 2 s)")
    print(f"memory: matcher RSS delta {rss1 - rss0:.1f} MB after compile (dictionaries + indexes)")

    t0 = time.perf_counter()
    hits = sum(len(matcher.match(d)) for d in docs)
    cold = len(docs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for d in docs:
        matcher.match(d)
    warm = len(docs) / (time.perf_counter() - t0)
    gc.collect()
    rss2 = rss_mb()
    print(
        f"memory: RSS delta {rss2 - rss0:.1f} MB after matching (token cache filled; target <= 100 MB)"
    )
    print(f"matcher: {cold:.0f} articles/s first pass (cold cache), {warm:.0f} articles/s warm")
    print(f"matches: {hits} rule hits over {len(docs)} articles")
    print(f"token cache: {matcher.cached_tokens} distinct spellings (bounded at 200,000)")

    naive = NaiveMatcher(rules)
    sample = docs[: args.baseline]
    t0 = time.perf_counter()
    for d in sample:
        naive.match(d)
    base = len(sample) / (time.perf_counter() - t0)
    print(f"baseline: naive per-rule regex loop {base:.1f} articles/s ({len(sample)} articles)")
    print(
        f"speed-up: {cold / base:.0f}x (cold) / {warm / base:.0f}x (warm); target >= 2000 articles/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
