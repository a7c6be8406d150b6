"""Names evaluation (issue 11): is a name written once found however the press renders it?

Usage: python bench/names_eval.py [--written PATH] [--real PATH] [--reveal] [--json]

Cases come from two files under ``bench/names/`` in one shared format:

- ``written.toml``: hand-written sentences (``[[case]]`` tables: ``name``, ``rule``,
  ``origin``, ``kind``, ``lang``, ``text``, ``expect``, optional ``form`` and ``note``);
- ``real.jsonl``: real mentions located in ``../shared`` (``source`` relative to
  ``../shared``, ``entry`` = the entry's link/id or the eval article's url, ``surface`` =
  the exact substring); the text matched is the sentence around ``surface`` (at most 150
  characters either side, cut at word boundaries), from the entry's title and text as the
  daemon makes them. The real part is skipped, saying so, when the file or ../shared is absent.

Each distinct ``name`` becomes one rule (its ``rule`` query); all are compiled once and a
case counts as found when its name's rule is among the matches. Positives give TP/FN,
negatives (look-alikes) FP/TN. A fifth of the names is held out, fixed by hash
(:func:`is_holdout`): their per-name lines and misses are printed only with ``--reveal``,
so whoever tunes the matcher sees the held-out figure but not what it misses.

Prints per-name lines, recall per origin group, recall on case forms (cases with a
``form``) and overall precision, each as tuned / held-out / all, plus the counts against the
issue's minimums. Exit 0 with figures; 2 when a label is broken (the message names it).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.match import compile_rules  # noqa: E402
from monitor.records import Document, RuleConfig  # noqa: E402
from monitor.text import html_to_text, repair_mojibake  # noqa: E402

WRITTEN_PATH = ROOT / "bench" / "names" / "written.toml"
REAL_PATH = ROOT / "bench" / "names" / "real.jsonl"
SHARED = ROOT.parent / "shared"

ORIGINS = (
    "english",
    "german",
    "french",
    "polish",
    "turkish",
    "arabic",
    "ukrainian",
    "russian",
    "other",
    "place",
)
KINDS = ("person", "place", "organisation")
SCOPES = ("tuned", "heldout", "all")
# The minimums and targets.
MIN_REAL_MENTIONS = 300
MIN_NAMES = 60
MIN_NEGATIVES = 100
TARGET_ORIGIN_RECALL = 0.90
TARGET_FORM_RECALL = 0.95
TARGET_PRECISION = 0.98

CONTEXT_CHARS = 150  # a real case's text: the sentence, at most this much either side
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”)\]]*\s+|\n")
_REQUIRED = ("name", "rule", "origin", "kind", "lang", "expect")


class LabelError(ValueError):
    """A case that cannot be evaluated: a missing field, an unknown source or entry, or a
    surface that is not in the entry. The message names the file and line or case."""


@dataclass(frozen=True)
class Case:
    """One labelled sentence: does rule ``rule`` (watching ``name``) match ``text``?"""

    name: str
    rule: str
    origin: str
    kind: str
    lang: str
    text: str
    expect: bool
    form: str | None = None
    note: str | None = None
    title: str = ""  # a real mention found in the entry's title is matched as a title
    source: str = "written"  # "written" or "real"
    where: str = ""  # "written.toml case 12" / "real.jsonl line 3", for messages
    surface: str | None = None  # real cases: the labelled substring

    @property
    def holdout(self) -> bool:
        """Whether this case's name is held out (:func:`is_holdout`)."""
        return is_holdout(self.name)

    def shown(self) -> str:
        """What a miss line shows: the surface of a real case, else the sentence."""
        what = f"«{self.surface}» in {self.where}" if self.surface else f"«{self.text}»"
        tag = self.form or self.note
        return f"[{tag}] {what}" if tag else what


def is_holdout(name: str) -> bool:
    """A fifth of the names, fixed by hash, never hand-picked."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 5 == 0


# ---------------------------------------------------------------------------------- loading


def _fields(raw: dict[str, Any], where: str) -> dict[str, Any]:
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise LabelError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(raw["expect"], bool):
        raise LabelError(f"{where}: expect must be true or false")
    for key in ("name", "rule", "origin", "kind", "lang"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise LabelError(f"{where}: {key} must be a non-empty string")
    return raw


def load_written(path: Path = WRITTEN_PATH) -> list[Case]:
    """The hand-written cases of ``path`` (a TOML file of ``[[case]]`` tables)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    cases = []
    for number, raw in enumerate(data.get("case", []), start=1):
        where = f"{path.name} case {number}"
        raw = _fields(raw, where)
        if not isinstance(raw.get("text"), str) or not raw["text"].strip():
            raise LabelError(f"{where}: text must be a non-empty string")
        cases.append(_case(raw, where, "written", text=raw["text"]))
    return cases


def _case(raw: dict[str, Any], where: str, source: str, **found: Any) -> Case:
    """A :class:`Case` from one checked label (``found``: its text, title, surface)."""
    return Case(
        name=raw["name"],
        rule=raw["rule"],
        origin=raw["origin"],
        kind=raw["kind"],
        lang=raw["lang"],
        expect=raw["expect"],
        form=raw.get("form"),
        note=raw.get("note"),
        source=source,
        where=where,
        **found,
    )


@dataclass
class _Sources:
    """Parsed sources under ``shared``, each read once: (title, text) by entry locator."""

    shared: Path
    cache: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def entry(self, source: str, entry: str, where: str) -> tuple[str, str]:
        if source not in self.cache:
            self.cache[source] = self._read(source, where)
        found = self.cache[source].get(entry)
        if found is None:
            raise LabelError(f"{where}: no entry {entry!r} in {source}")
        return found

    def _read(self, source: str, where: str) -> dict[str, tuple[str, str]]:
        path = (self.shared / source).resolve()
        if not path.is_relative_to(self.shared.resolve()) or not path.is_file():
            raise LabelError(f"{where}: source {source!r} is not a file under {self.shared}")
        if path.suffix == ".jsonl":
            return _read_articles(path)
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        return _read_feed(body, str(path), where)


def _read_articles(path: Path) -> dict[str, tuple[str, str]]:
    """eval/articles.jsonl: (title, text) by the article's url."""
    found: dict[str, tuple[str, str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                article = json.loads(line)
                found.setdefault(article["url"], (article["title"] or "", article["text"] or ""))
    return found


def _read_feed(body: bytes, name: str, where: str) -> dict[str, tuple[str, str]]:
    """A feed file through the daemon's parser (feedparser, bytes in), title and text made
    plain as the daemon makes them; keyed by each entry's link and by its id."""
    from monitor.errors import FetchError
    from monitor.parse.feed import parse_feed

    ctype = "application/json" if name.endswith(".json") else None
    try:
        parsed = parse_feed(body, ctype, name)
    except FetchError as exc:
        raise LabelError(f"{where}: {name} does not parse: {exc}") from exc
    found: dict[str, tuple[str, str]] = {}
    for e in parsed.entries:
        title = html_to_text(repair_mojibake(e.title)).replace("\n", " ")
        text = html_to_text(repair_mojibake(e.summary_html))
        for key in (e.link, e.guid):
            if key:
                found.setdefault(key, (title, text))
    return found


def find_surface(text: str, surface: str) -> int:
    """Where ``surface`` occurs in ``text`` (case-sensitive), preferring an occurrence
    that is a whole word; -1 when absent."""
    whole = re.search(rf"(?<!\w){re.escape(surface)}(?!\w)", text)
    return whole.start() if whole else text.find(surface)


def cut_sentence(text: str, start: int, end: int, width: int = CONTEXT_CHARS) -> str:
    """The sentence of ``text`` holding ``text[start:end]``, at most ``width`` characters
    either side, cut at a word boundary when the sentence is longer."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    ends = list(_SENTENCE_END.finditer(text, lo, start))
    if ends:
        begin = ends[-1].end()
    elif lo == 0:
        begin = 0
    else:
        space = text.find(" ", lo, start)
        begin = space + 1 if space >= 0 else start
    stop_match = _SENTENCE_END.search(text, end, hi)
    if stop_match:
        stop = stop_match.start() + len(stop_match.group().rstrip())
    elif hi == len(text):
        stop = hi
    else:
        space = text.rfind(" ", end, hi)
        stop = space if space >= 0 else end
    return text[begin:stop].strip()


def load_real(path: Path = REAL_PATH, shared: Path = SHARED) -> list[Case]:
    """The real cases of ``path`` (JSON lines) with their sentences from ``shared``;
    raises :class:`LabelError` naming the line of a broken label."""
    sources = _Sources(shared)
    cases = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelError(f"{where}: not JSON: {exc}") from exc
            raw = _fields(raw, where)
            for key in ("source", "entry", "surface"):
                if not isinstance(raw.get(key), str) or not raw[key]:
                    raise LabelError(f"{where}: {key} must be a non-empty string")
            title, body = sources.entry(raw["source"], raw["entry"], where)
            surface = raw["surface"]
            if (at := find_surface(title, surface)) >= 0:
                doc_title, text = title, ""
            elif (at := find_surface(body, surface)) >= 0:
                doc_title, text = "", cut_sentence(body, at, at + len(surface))
            else:
                raise LabelError(
                    f"{where}: surface {surface!r} is not in the title or text of {raw['entry']}"
                )
            cases.append(_case(raw, where, "real", text=text, title=doc_title, surface=surface))
    return cases


def check_cases(cases: Iterable[Case]) -> list[str]:
    """Problems with the labels (empty when well-formed): a name with two rules, origins
    or kinds; an origin or kind outside the fixed vocabularies; a negative without a note."""
    problems: list[str] = []
    seen: dict[str, tuple[str, str, str, str]] = {}
    for case in cases:
        if case.origin not in ORIGINS:
            problems.append(f"{case.where}: origin {case.origin!r} is not one of {ORIGINS}")
        if case.kind not in KINDS:
            problems.append(f"{case.where}: kind {case.kind!r} is not one of {KINDS}")
        if (case.kind == "place") != (case.origin == "place"):
            problems.append(f"{case.where}: a place has origin 'place', and only a place")
        if not case.expect and not (case.note or "").strip():
            problems.append(f"{case.where}: a negative names its look-alike in `note`")
        key = (case.rule, case.origin, case.kind)
        first = seen.setdefault(case.name, (*key, case.where))
        if first[:3] != key:
            problems.append(
                f"{case.where}: {case.name!r} has rule/origin/kind {key}, "
                f"but {first[3]} gives {first[:3]}"
            )
    return problems


# ---------------------------------------------------------------------------------- scoring


@dataclass
class Counts:
    """Confusion counts and the cases behind FN and FP."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    misses: list[Case] = field(default_factory=list)

    def add(self, case: Case, matched: bool) -> None:
        if case.expect and matched:
            self.tp += 1
        elif case.expect:
            self.fn += 1
            self.misses.append(case)
        elif matched:
            self.fp += 1
            self.misses.append(case)
        else:
            self.tn += 1

    @property
    def recall(self) -> float | None:
        """TP / (TP + FN); None when nothing was to be found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when the rule never fired."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


@dataclass
class Report:
    """Everything the runner prints: per name, and per group in each scope."""

    names: dict[str, Counts]  # name -> counts
    origin: dict[str, dict[str, Counts]]  # scope -> origin -> counts
    forms: dict[str, dict[str, Counts]]  # scope -> "uk ins" ... and "ALL" -> counts
    overall: dict[str, Counts]  # scope -> counts
    by_source: dict[str, dict[str, Counts]]  # scope -> "written"/"real" -> counts
    name_origin: dict[str, str]
    cases: list[Case]
    seconds: float = 0.0

    def scope_names(self, scope: str) -> list[str]:
        """The names of ``scope``, sorted."""
        return sorted(n for n in self.names if _in_scope(scope, is_holdout(n)))


def _in_scope(scope: str, holdout: bool) -> bool:
    return scope == "all" or (scope == "heldout") == holdout


def form_group(form: str) -> str:
    """``"uk ins sg masc"`` -> ``"uk ins"`` (language and case)."""
    return " ".join(form.split()[:2])


def evaluate(cases: Sequence[Case]) -> Report:
    """Compile one rule per name (all at once) and score every case."""
    started = time.perf_counter()
    rules: dict[str, str] = {}
    for case in cases:
        rules.setdefault(case.name, case.rule)
    matcher = compile_rules([RuleConfig(name=n, query=q) for n, q in rules.items()], {})
    names: dict[str, Counts] = defaultdict(Counts)
    origin: dict[str, dict[str, Counts]] = {s: defaultdict(Counts) for s in SCOPES}
    forms: dict[str, dict[str, Counts]] = {s: defaultdict(Counts) for s in SCOPES}
    overall: dict[str, Counts] = {s: Counts() for s in SCOPES}
    by_source: dict[str, dict[str, Counts]] = {s: defaultdict(Counts) for s in SCOPES}
    for case in cases:
        doc = Document(title=case.title, text=case.text, language=case.lang)
        matched = case.name in {m.rule for m in matcher.match(doc)}
        names[case.name].add(case, matched)
        for scope in SCOPES:
            if not _in_scope(scope, case.holdout):
                continue
            overall[scope].add(case, matched)
            by_source[scope][case.source].add(case, matched)
            if case.expect:
                origin[scope][case.origin].add(case, matched)
            if case.form and case.expect:
                forms[scope]["ALL"].add(case, matched)
                forms[scope][form_group(case.form)].add(case, matched)
    return Report(
        names=dict(names),
        origin={s: dict(v) for s, v in origin.items()},
        forms={s: dict(v) for s, v in forms.items()},
        overall=overall,
        by_source={s: dict(v) for s, v in by_source.items()},
        name_origin={c.name: c.origin for c in cases},
        cases=list(cases),
        seconds=time.perf_counter() - started,
    )


def worst_names(report: Report, origin: str | None = None, scope: str = "tuned") -> list[str]:
    """Names of ``scope`` (never held-out ones unless asked) by recall, worst first, as
    ``"Name 3/7"`` strings; only names that missed something."""
    rows = []
    for name in report.scope_names(scope):
        c = report.names[name]
        if (origin is None or report.name_origin[name] == origin) and c.fn:
            rows.append((c.recall if c.recall is not None else 1.0, name, c))
    return [f"{n} {c.tp}/{c.tp + c.fn}" for _, n, c in sorted(rows)]


def counts_summary(cases: Sequence[Case]) -> dict[str, int]:
    """The counts the issue sets minimums for (and a few more)."""
    real = [c for c in cases if c.source == "real"]
    return {
        "cases": len(cases),
        "names": len({c.name for c in cases}),
        "real_mentions": sum(c.expect for c in real),
        "real_names": len({c.name for c in real if c.expect}),
        "negatives": sum(not c.expect for c in cases),
        "written_cases": len(cases) - len(real),
        "form_cases": sum(bool(c.form) and c.expect for c in cases),
        "heldout_names": len({c.name for c in cases if c.holdout}),
    }


def shortfalls(counts: dict[str, int]) -> list[str]:
    """Warnings for the counts under the issue's minimums."""
    wanted = (
        ("real_mentions", MIN_REAL_MENTIONS, "real mentions"),
        ("names", MIN_NAMES, "distinct names"),
        ("negatives", MIN_NEGATIVES, "look-alike negatives"),
    )
    return [
        f"only {counts[key]} {what}: the issue asks for at least {least}"
        for key, least, what in wanted
        if counts[key] < least
    ]


# ---------------------------------------------------------------------------------- output


def _figure(c: Counts | None, attr: str) -> float | None:
    return None if c is None else getattr(c, attr)


def figures(report: Report, reveal: bool = False) -> dict[str, Any]:
    """The figures as plain data (what ``--json`` prints); per-name rows of held-out names
    only with ``reveal``."""

    def cell(c: Counts | None, attr: str) -> dict[str, Any]:
        if c is None:
            return {"value": None, "n": 0}
        n = c.tp + c.fn if attr == "recall" else c.tp + c.fp
        return {"value": _figure(c, attr), "n": n}

    groups = sorted({g for s in SCOPES for g in report.forms[s]})
    rows = []
    for name in sorted(report.names):
        holdout = is_holdout(name)
        if holdout and not reveal:
            continue
        c = report.names[name]
        rows.append(
            {
                "name": name,
                "origin": report.name_origin[name],
                "holdout": holdout,
                "tp": c.tp,
                "fn": c.fn,
                "fp": c.fp,
                "tn": c.tn,
                "misses": [m.shown() for m in c.misses],
            }
        )
    return {
        "counts": counts_summary(report.cases),
        "warnings": shortfalls(counts_summary(report.cases)),
        "origin_recall": {
            o: {s: cell(report.origin[s].get(o), "recall") for s in SCOPES} for o in ORIGINS
        },
        "form_recall": {
            g: {s: cell(report.forms[s].get(g), "recall") for s in SCOPES} for g in groups
        },
        "precision": {s: cell(report.overall[s], "precision") for s in SCOPES},
        "recall": {s: cell(report.overall[s], "recall") for s in SCOPES},
        "names": rows,
        "seconds": round(report.seconds, 2),
    }


def _pct(c: Counts | None, attr: str) -> str:
    value = _figure(c, attr)
    if c is None or value is None:
        return f"{'-':>14}"
    n = c.tp + c.fn if attr == "recall" else c.tp + c.fp
    return f"{value:7.3f} {f'({n})':>6}"


def render(report: Report, reveal: bool = False) -> str:
    """The text report."""
    out: list[str] = []
    hidden = 0
    out.append(f"{'name':24} {'origin':10} {'H':1} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4}")
    for name in sorted(report.names, key=lambda n: (report.name_origin[n], n)):
        holdout = is_holdout(name)
        if holdout and not reveal:
            hidden += 1
            continue
        c = report.names[name]
        flag = "H" if holdout else " "
        out.append(
            f"{name:24} {report.name_origin[name]:10} {flag} {c.tp:4} {c.fn:4} {c.fp:4} {c.tn:4}"
        )
        for miss in c.misses:
            out.append(f"    {'FN' if miss.expect else 'FP'} {miss.shown()}")
    if hidden:
        out.append(f"({hidden} held-out names not shown: --reveal shows them)")
    head = f"{'':18} {'tuned':>14} {'held-out':>14} {'all':>14}"
    out += ["", "Recall per origin group", head]
    for o in ORIGINS:
        cells = " ".join(_pct(report.origin[s].get(o), "recall") for s in SCOPES)
        out.append(f"{o:18} {cells}")
    out += ["", "Recall on case forms", head]
    for g in sorted({g for s in SCOPES for g in report.forms[s]}, key=lambda g: (g != "ALL", g)):
        cells = " ".join(_pct(report.forms[s].get(g), "recall") for s in SCOPES)
        out.append(f"{g:18} {cells}")
    out += ["", "Overall", head]
    out.append(
        f"{'precision':18} " + " ".join(_pct(report.overall[s], "precision") for s in SCOPES)
    )
    out.append(f"{'recall':18} " + " ".join(_pct(report.overall[s], "recall") for s in SCOPES))
    for source in ("written", "real"):
        for attr in ("recall", "precision"):
            cells = " ".join(_pct(report.by_source[s].get(source), attr) for s in SCOPES)
            out.append(f"{source + ' ' + attr:18} {cells}")
    counts = counts_summary(report.cases)
    out += [
        "",
        "Counts: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        + f"; {report.seconds:.1f} s",
    ]
    out += [f"WARNING: {w}" for w in shortfalls(counts)]
    return "\n".join(out)


def load_all(
    written: Path = WRITTEN_PATH, real: Path = REAL_PATH, shared: Path = SHARED
) -> tuple[list[Case], list[str]]:
    """Every case, and notes on what was skipped (the real part without its file or
    without ../shared)."""
    notes: list[str] = []
    cases = load_written(written)
    if not real.exists():
        notes.append(f"{real} is absent: real mentions skipped")
    elif not shared.is_dir():
        notes.append(f"{shared} is absent: real mentions skipped (the shared data lives there)")
    else:
        cases += load_real(real, shared)
    return cases, notes


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures; 0 always, 2 when a label is broken."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--written", type=Path, default=WRITTEN_PATH)
    parser.add_argument("--real", type=Path, default=REAL_PATH)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--reveal", action="store_true", help="show held-out names and misses")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        cases, notes = load_all(args.written, args.real, args.shared)
    except LabelError as exc:
        print(f"broken label: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"NOTE: {note}", file=sys.stderr)
    problems = check_cases(cases)
    for problem in problems:
        print(f"LABEL PROBLEM: {problem}", file=sys.stderr)
    report = evaluate(cases)
    if args.json:
        data = figures(report, reveal=args.reveal)
        data["notes"], data["label_problems"] = notes, problems
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print(render(report, reveal=args.reveal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
