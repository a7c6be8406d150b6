"""The compiled rule set: ``compile_rules(rules, terms) -> Matcher``. No I/O.

Matching one document: tokens -> cached pattern hits -> term occurrences (phrase
index) -> only the rules that use a hit term evaluate their boolean structure
(every query needs a present term, see :func:`monitor.match.query.is_anchored`, so
a rule none of whose terms occur cannot match). The cost per article grows with its
length, not with the number of rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from monitor.match.index import Hit, TermIndex, TokenOffsets, WordIndex
from monitor.match.keys import Lexicon
from monitor.match.language import detect_language
from monitor.match.query import And, Near, Node, Not, Term, parse_query
from monitor.records import Document, Evidence, EvidenceField, Match, RuleConfig

# A part of the evidence: (label, field, first token, end token, score).
Part = tuple[str, EvidenceField, int, int, int]
# A positional result: (field, first token, end token, parts).
Span = tuple[EvidenceField, int, int, tuple[Part, ...]]


@dataclass(frozen=True, slots=True)
class _TermRef:
    tid: int
    label: str
    title_only: bool


# A compiled query: the parsed tree (monitor.match.query) with each Term replaced by a
# _TermRef into the shared TermIndex.


@dataclass(frozen=True, slots=True)
class _And:
    children: tuple[_Bound, ...]


@dataclass(frozen=True, slots=True)
class _Or:
    children: tuple[_Bound, ...]


@dataclass(frozen=True, slots=True)
class _Not:
    child: _Bound


@dataclass(frozen=True, slots=True)
class _Near:
    left: _Bound
    right: _Bound
    distance: int


_Bound = _TermRef | _And | _Or | _Not | _Near


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    tree: _Bound
    languages: frozenset[str]
    test: Callable[[Mapping[int, list[Hit]]], bool]  # fast yes/no; spans only when yes


@dataclass(frozen=True, slots=True)
class RuleReport:
    """What :meth:`Matcher.explain` finds out about one rule and one document."""

    rule: str
    matched: bool
    language: str | None  # the document's language, given or detected
    languages: tuple[str, ...]  # the rule's restriction; empty = any
    terms: tuple[tuple[str, tuple[Evidence, ...]], ...]  # each term and where it was found


class Matcher:
    """Rules compiled into shared indexes. Thread-safe for concurrent ``match`` calls."""

    def __init__(self, rules: list[_Rule], terms: TermIndex, term_rules: dict[int, list[int]]):
        self._rules = rules
        self._terms = terms
        self._term_rules = term_rules

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of the compiled rules, in config order."""
        return tuple(r.name for r in self._rules)

    @property
    def cached_tokens(self) -> int:
        """Distinct token spellings analysed and cached so far (bounded)."""
        return self._terms.words.cache_size

    def _scan(self, doc: Document) -> tuple[dict[int, list[Hit]], _Surfaces]:
        """Term occurrences of ``doc``, and where to build their evidence from."""
        found: dict[int, list[Hit]] = {}
        offsets = {
            "title": self._terms.scan("title", doc.title, found),
            "text": self._terms.scan("text", doc.text, found),
        }
        return found, _Surfaces(offsets)

    def match(self, doc: Document) -> list[Match]:
        """The rules that match ``doc``, each with its evidence, in config order."""
        found, surfaces = self._scan(doc)
        candidates: set[int] = set()
        for tid in found:
            candidates.update(self._term_rules.get(tid, ()))
        language = _base_language(doc.language)
        detected = False
        matches = []
        for index in sorted(candidates):
            rule = self._rules[index]
            if rule.languages:
                if language is None and not detected:
                    language, detected = detect_language(doc.title + "\n" + doc.text), True
                if language not in rule.languages:
                    continue
            if rule.test(found):  # cheap yes/no first; evidence only for the matches
                spans = _evaluate(rule.tree, found) or []
                matches.append(Match(rule.name, _evidence(spans, surfaces)))
        return matches

    def explain(self, doc: Document, rule_name: str) -> RuleReport:
        """Why ``rule_name`` does or does not match ``doc``: language and every term's hits."""
        rule = next((r for r in self._rules if r.name == rule_name), None)
        if rule is None:
            raise KeyError(rule_name)
        found, surfaces = self._scan(doc)
        language = _base_language(doc.language) or detect_language(doc.title + "\n" + doc.text)
        terms = []
        for ref in _term_refs(rule.tree):
            spans = _evaluate(ref, found) or []
            terms.append((ref.label, _evidence(spans, surfaces)))
        language_ok = not rule.languages or language in rule.languages
        return RuleReport(
            rule=rule.name,
            matched=language_ok and rule.test(found),
            language=language,
            languages=tuple(sorted(rule.languages)),
            terms=tuple(terms),
        )


def _base_language(language: str | None) -> str | None:
    """``"uk-UA"`` -> ``"uk"``; None stays None."""
    return language.split("-")[0].split("_")[0].lower() if language else None


def compile_rules(rules: Sequence[RuleConfig], terms: Mapping[str, Sequence[str]]) -> Matcher:
    """Compile every rule's query into one :class:`Matcher`; raises :class:`QueryError`."""
    index = TermIndex(WordIndex(Lexicon()))
    compiled: list[_Rule] = []
    term_rules: dict[int, list[int]] = defaultdict(list)
    for number, rule in enumerate(rules):
        tree = parse_query(rule.query, terms, rule=rule.name)
        used: set[int] = set()
        bound = _bind(tree, index, used)
        languages = frozenset(lang.lower() for lang in rule.languages)
        compiled.append(_Rule(rule.name, bound, languages, _tester(bound)))
        for tid in used:
            term_rules[tid].append(number)
    return Matcher(compiled, index, dict(term_rules))


def _bind(node: Node, index: TermIndex, used: set[int]) -> _Bound:
    """The AST with each :class:`Term` replaced by a reference into ``index``."""
    if isinstance(node, Term):
        tid = index.add(node.words, node.label, node.breaks)
        used.add(tid)
        return _TermRef(tid, node.label, node.title_only)
    if isinstance(node, Not):
        return _Not(_bind(node.child, index, used))
    if isinstance(node, Near):
        return _Near(_bind(node.left, index, used), _bind(node.right, index, used), node.distance)
    children = tuple(_bind(c, index, used) for c in node.children)
    return _And(children) if isinstance(node, And) else _Or(children)


def _term_refs(node: _Bound) -> list[_TermRef]:
    """The term references of a bound tree, left to right."""
    if isinstance(node, _TermRef):
        return [node]
    if isinstance(node, _Not):
        return _term_refs(node.child)
    if isinstance(node, _Near):
        return _term_refs(node.left) + _term_refs(node.right)
    return [ref for child in node.children for ref in _term_refs(child)]


def _tester(node: _Bound) -> Callable[[Mapping[int, list[Hit]]], bool]:
    """A closure answering "does ``node`` hold?" without building evidence."""
    if isinstance(node, _TermRef):
        tid = node.tid
        if node.title_only:
            return lambda found: any(h[0] == "title" for h in found.get(tid, ()))
        return lambda found: tid in found
    if isinstance(node, _Not):
        child = _tester(node.child)
        return lambda found: not child(found)
    if isinstance(node, _Near):
        return lambda found: _near(node, found) is not None
    return _chain([_tester(c) for c in node.children], isinstance(node, _And))


def _chain(
    testers: list[Callable[[Mapping[int, list[Hit]]], bool]], conjunction: bool
) -> Callable[[Mapping[int, list[Hit]]], bool]:
    """``a and b and ...`` (or ``or``) as nested closures: cheaper than all()/any()."""
    first = testers[0]
    if len(testers) == 1:
        return first
    rest = _chain(testers[1:], conjunction)
    if conjunction:
        return lambda found: first(found) and rest(found)
    return lambda found: first(found) or rest(found)


def _evaluate(node: _Bound, found: Mapping[int, list[Hit]]) -> list[Span] | None:
    """Spans supporting ``node`` (possibly empty, for NOT), or None when it is false."""
    spans: list[Span]
    if isinstance(node, _TermRef):
        spans = [
            (field, s, e, ((node.label, field, s, e, score),))
            for field, s, e, score in found.get(node.tid, ())
            if not node.title_only or field == "title"
        ]
        return spans or None
    if isinstance(node, _Or):
        spans = []
        hit = False
        for child in node.children:
            result = _evaluate(child, found)
            if result is not None:
                hit = True
                spans.extend(result)
        return spans if hit else None
    if isinstance(node, _And):
        spans = []
        for child in node.children:
            result = _evaluate(child, found)
            if result is None:
                return None
            spans.extend(result)
        return spans
    if isinstance(node, _Not):
        return [] if _evaluate(node.child, found) is None else None
    if isinstance(node, _Near):
        return _near(node, found)
    raise TypeError(f"unknown node {node!r}")


def _near(node: _Near, found: Mapping[int, list[Hit]]) -> list[Span] | None:
    left = _evaluate(node.left, found)
    right = _evaluate(node.right, found) if left else None
    if not left or not right:
        return None
    spans: list[Span] = []
    for lf, ls, le, lp in left:
        for rf, rs, re_, rp in right:
            if lf != rf or not (le <= rs or re_ <= ls):
                continue
            if max(rs - le, ls - re_) <= node.distance:
                spans.append((lf, min(ls, rs), max(le, re_), lp + rp))
    return spans or None


class _Surfaces:
    """Evidence for the term occurrences of one document, each built once.

    Many rules share a term (``Putin`` in fifteen rules), so an occurrence's offsets,
    surface and :class:`Evidence` are computed the first time a rule needs them.
    """

    def __init__(self, offsets: Mapping[str, TokenOffsets]) -> None:
        self.offsets = offsets
        self.cache: dict[Part, tuple[Evidence, tuple[str, str, str]]] = {}

    def evidence(self, part: Part) -> tuple[Evidence, tuple[str, str, str]]:
        """The evidence of one occurrence and its dedup key (term, folded surface, field)."""
        built = self.cache.get(part)
        if built is None:
            label, field, s, e, score = part
            tokens = self.offsets[field]
            start, end = tokens.span(s)[0], tokens.span(e - 1)[1]
            surface = tokens.text[start:end]
            ev = Evidence(
                term=label, surface=surface, field=field, score=score, start=start, end=end
            )
            built = self.cache[part] = (ev, (label, surface.casefold(), field))
        return built


def _evidence(spans: list[Span], surfaces: _Surfaces) -> tuple[Evidence, ...]:
    """Evidence from spans, one per distinct (term, surface, field), in text order."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    parts = sorted({p for span in spans for p in span[3]}, key=lambda p: (p[1] != "title", p[2]))
    for part in parts:
        ev, key = surfaces.evidence(part)
        if key not in seen:
            seen.add(key)
            out.append(ev)
    return tuple(out)
