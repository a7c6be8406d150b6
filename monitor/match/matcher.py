"""The compiled rule set: ``compile_rules(rules, terms) -> Matcher``. No I/O.

Matching one document: bound it (:func:`monitor.match.bounds.bound_document`) ->
tokens -> cached pattern hits -> term occurrences (phrase index) -> only the rules that
use a hit term, and have all their required terms, evaluate their compiled query
(:mod:`monitor.match.compiled`; every query needs a present term, see
:func:`monitor.match.query.is_anchored`, so a rule none of whose terms occur cannot
match), in one pass that also gathers the evidence (:mod:`monitor.match.evaluate`).
The cost per article grows with its bounded length, not with the number of rules, and
NEAR is a sorted merge of positions, never every pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from monitor.match.bounds import bound_document
from monitor.match.compiled import Bound, bind, required, term_refs
from monitor.match.evaluate import Run
from monitor.match.evidence import Surfaces
from monitor.match.index import Hit, TermIndex, TokenOffsets, WordIndex
from monitor.match.keys import Lexicon, name_keys
from monitor.match.language import detect_language
from monitor.match.places import PLACES, place_phrases
from monitor.match.places import prefetch as prefetch_places
from monitor.match.query import Near, Node, Not, Term, parse_query
from monitor.match.sound import capitalised, prefetch, prefetch_spellings
from monitor.match.tokens import TOKEN_RE, is_cyrillic, normalize_token
from monitor.records import Document, Evidence, EvidenceField, Match, RuleConfig

_LANGUAGE_SAMPLE = 4_000  # what detect_language reads of title + text


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    tree: Bound
    languages: frozenset[str]
    required: tuple[int, ...]  # term ids that must all be present (checked first: cheap)


@dataclass(frozen=True, slots=True)
class RuleReport:
    """What :meth:`Matcher.explain` finds out about one rule and one document."""

    rule: str
    matched: bool
    language: str | None  # the document's language, given or detected
    languages: tuple[str, ...]  # the rule's restriction; empty = any
    terms: tuple[tuple[str, tuple[Evidence, ...]], ...]  # each term and where it was found


class Matcher:
    """Rules compiled into shared indexes.

    Thread-safe for concurrent ``match`` calls: the compiled rules never change, all
    per-document state is local to the call, and the token cache is a plain dict whose
    single get/set operations are atomic.
    """

    def __init__(self, rules: list[_Rule], terms: TermIndex, term_rules: dict[int, list[int]]):
        self._rules = rules
        self._terms = terms
        self._term_rules = term_rules
        self._labels = tuple(spec.label for spec in terms.specs)

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of the compiled rules, in config order."""
        return tuple(r.name for r in self._rules)

    @property
    def cached_tokens(self) -> int:
        """Distinct token spellings analysed and cached so far (bounded)."""
        return self._terms.words.cache_size

    def _scan(self, doc: Document) -> tuple[dict[int, list[Hit]], Surfaces]:
        """Term occurrences of ``doc`` (bounded first), and where to build evidence from."""
        doc, _ = bound_document(doc)
        found: dict[int, list[Hit]] = {}
        offsets: dict[EvidenceField, TokenOffsets] = {
            "title": self._terms.scan("title", doc.title, found),
            "text": self._terms.scan("text", doc.text, found),
        }
        return found, Surfaces(offsets, found, self._labels)

    def match(self, doc: Document) -> list[Match]:
        """The rules that match ``doc``, each with its evidence, in config order.

        Only the bounded prefix of ``doc`` is matched (:func:`bound_document`).
        """
        found, surfaces = self._scan(doc)
        candidates: set[int] = set()
        for tid in found:
            candidates.update(self._term_rules.get(tid, ()))
        language = _base_language(doc.language)
        detected = False
        run = Run(found, surfaces)
        matches = []
        for index in sorted(candidates):
            rule = self._rules[index]
            if not all(map(found.__contains__, rule.required)):
                continue
            if rule.languages:
                if language is None and not detected:
                    language, detected = _detect(doc), True
                if language not in rule.languages:
                    continue
            if run.holds(rule.tree):  # a rule that does not hold leaves no evidence behind
                matches.append(Match(rule.name, surfaces.evidence(run.terms, run.parts)))
                run.reset()
        return matches

    def explain(self, doc: Document, rule_name: str) -> RuleReport:
        """Why ``rule_name`` does or does not match ``doc``: language and every term's hits."""
        rule = next((r for r in self._rules if r.name == rule_name), None)
        if rule is None:
            raise KeyError(rule_name)
        found, surfaces = self._scan(doc)
        language = _base_language(doc.language) or _detect(doc)
        terms = []
        for ref in term_refs(rule.tree):
            present = ref.tid in found and (not ref.title_only or found[ref.tid][0][0] == "title")
            evidence = surfaces.evidence([(ref.tid, ref.title_only)] if present else [], [])
            terms.append((ref.label, evidence))
        language_ok = not rule.languages or language in rule.languages
        return RuleReport(
            rule=rule.name,
            matched=language_ok and Run(found, surfaces).holds(rule.tree),
            language=language,
            languages=tuple(sorted(rule.languages)),
            terms=tuple(terms),
        )


def _detect(doc: Document) -> str | None:
    """The language of ``doc`` from the sample detect_language reads (no 10 MiB copy)."""
    return detect_language(doc.title[:_LANGUAGE_SAMPLE] + "\n" + doc.text[:_LANGUAGE_SAMPLE])


def _base_language(language: str | None) -> str | None:
    """``"uk-UA"`` -> ``"uk"``; None stays None."""
    return language.split("-")[0].split("_")[0].lower() if language else None


def compile_rules(rules: Sequence[RuleConfig], terms: Mapping[str, Sequence[str]]) -> Matcher:
    """Compile every rule's query into one :class:`Matcher`; raises :class:`QueryError`."""
    trees = [parse_query(rule.query, terms, rule=rule.name) for rule in rules]
    _prefetch(rules, terms, trees)
    index = TermIndex(WordIndex(Lexicon()))
    compiled: list[_Rule] = []
    term_rules: dict[int, list[int]] = defaultdict(list)
    shared: dict[Bound, Bound] = {}
    for number, (rule, tree) in enumerate(zip(rules, trees, strict=True)):
        used: set[int] = set()
        bound = bind(tree, index, used, shared)
        languages = frozenset(lang.lower() for lang in rule.languages)
        compiled.append(_Rule(rule.name, bound, languages, tuple(required(bound))))
        for tid in used:
            term_rules[tid].append(number)
    return Matcher(compiled, index, dict(term_rules))


def _prefetch(
    rules: Sequence[RuleConfig], terms: Mapping[str, Sequence[str]], trees: Sequence[Node]
) -> None:
    """Read what the rules' names need from each data file in one pass, before the words
    are indexed: the dictionary pronunciations of their capitalised Latin words, the
    Latin words that sound like their Cyrillic names, and the other names of every
    place a capitalised word or proper-name phrase names."""
    texts = [rule.query for rule in rules] + [value for group in terms.values() for value in group]
    words = {
        normalize_token(token)
        for text in texts
        for token in TOKEN_RE.findall(text)
        if token[:1].isupper()
    }
    phrases = {
        term.label
        for tree in trees
        for term in _terms(tree)
        if len(term.words) > 1 and all(w.proper or w.particle for w in term.words)
    }
    if not words:
        return
    prefetch_places({capitalised(w) for w in words} | phrases)
    # The names of several words of those places become terms too («Санкт-Петербург»).
    more = {
        normalize_token(token)
        for phrase in phrases
        for name in place_phrases(phrase)
        for token in TOKEN_RE.findall(name)
        if token[:1].isupper()
    } - words
    if more:  # they are a place's names already: not looked up as places themselves
        PLACES.skip({capitalised(w) for w in more})
        words |= more
    prefetch({w for w in words if w.isascii()})
    prefetch_spellings({name_keys(w, inflected=False).whole for w in words if is_cyrillic(w[:1])})


def _terms(node: Node) -> Iterator[Term]:
    """Every term of a query tree."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _terms(node.child)
    elif isinstance(node, Near):
        yield from _terms(node.left)
        yield from _terms(node.right)
    else:
        for child in node.children:
            yield from _terms(child)
