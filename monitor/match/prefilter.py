"""A lossless prefilter for scanning stored articles: index keys per article, and the
keys a compiled matcher can possibly hit. No I/O.

The matcher decides per token: a token's hits depend only on its normalised spelling
and on whether it starts with a capital (:meth:`monitor.match.index.WordIndex.lookup`),
and every query needs a present term (:func:`monitor.match.query.is_anchored`), so an
article none of whose tokens hits any rule word cannot match. :func:`document_keys`
gives each token the keys through which *any* matcher could see it:

* ``n`` + its normalised spelling (the inflected forms, exact words and prefixes of
  rule words are compared with that), and
* ``p`` + each phonetic name key of a capitalised token (whole key, case stems,
  English plural keys), and of any token of at most 6 letters (the particles of names:
  ``bin``, ``von``).

:func:`query_expression` reads a compiled matcher's tables and gives, per rule word,
the keys that reach it: every form, every name key, every prefix (as a prefix look-up),
and for the one-edit name keys every string one edit away over the phonetic alphabet
(phonetic keys are ``[a-z]*``); then the rules' trees over those words (a phrase needs
all its words, AND needs both sides, NOT is dropped). A stored index of :func:`document_keys` looked up with those
keys returns a superset of the articles that can match; the matcher then decides, so a
prefilter never changes what is found, only what is skipped
(``tests/test_backtest.py`` proves the two equal on the end-to-end corpus).

The keys are for SQLite FTS5's ``ascii`` tokenizer: every non-ASCII character is part
of a token and ASCII punctuation separates them, so the ASCII punctuation a normalised
spelling may hold (``'``, ``_``, or what NFKC makes of ``⑴``) is moved to the private
use plane, which normalised text never holds. Keys are cut to :data:`MAX_KEY_CHARS`;
a longer query key becomes a prefix look-up of its cut.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Iterable
from typing import cast

from monitor.match.bounds import bound_document
from monitor.match.compiled import AllOf, AnyOf, AnyTerm, Bound, Close, TermRef
from monitor.match.index import TermSpec, WordIndex
from monitor.match.keys import name_keys, plural_keys
from monitor.match.matcher import Matcher
from monitor.match.tokens import TOKEN_RE, normalize_token
from monitor.records import Document

VERSION = 2  # of the key scheme: a stored index of another version is rebuilt
MAX_KEY_CHARS = 48
_PARTICLE_CHARS = 6  # WordIndex._MAX_PARTICLE_TOKEN
_ALPHABET = string.ascii_lowercase  # what phonetic keys are made of
_ENCODE = {ord(c): chr(0xF0000 + ord(c)) for c in map(chr, range(128)) if not c.isalnum()}
_CACHE_LIMIT = 200_000


def _norm_key(norm: str) -> str:
    return ("n" + norm.translate(_ENCODE))[:MAX_KEY_CHARS]


def _name_key(key: str) -> str:
    return ("p" + key)[:MAX_KEY_CHARS]


class KeyMaker:
    """:func:`token_keys` with a bounded cache by raw spelling (news repeats its words)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, ...]] = {}

    def document_keys(self, title: str, text: str) -> set[str]:
        """The index keys of an article's title and text (of what the matcher reads:
        the bounded prefix, :func:`~monitor.match.bounds.bound_document`)."""
        doc, _ = bound_document(Document(title=title, text=text))
        raws = {*TOKEN_RE.findall(doc.title), *TOKEN_RE.findall(doc.text)}
        cache = self._cache
        found = list(map(cache.get, raws))  # a C loop: news repeats its words
        if None in found:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            for i, raw in enumerate(raws):
                if found[i] is None:
                    found[i] = cache[raw] = tuple(token_keys(raw))
        return set().union(*cast("list[tuple[str, ...]]", found))


def token_keys(raw: str) -> set[str]:
    """The index keys of one raw token as :data:`TOKEN_RE` finds it (see the module)."""
    norm = normalize_token(raw)
    keys = {_norm_key(norm)}
    if raw[:1].isupper():
        names = name_keys(norm)
        keys.update(_name_key(k) for k in names.all if k)
        keys.update(_name_key(k) for k in plural_keys(norm))
    elif len(norm) <= _PARTICLE_CHARS:
        whole = name_keys(norm, inflected=False).whole
        if whole:
            keys.add(_name_key(whole))
    return keys


MAX_EXPRESSION_CHARS = 4_000_000  # past this, scan every article instead


class _Always:
    """The expression of a subtree any article may satisfy (NOT x): no filter."""


ALWAYS = _Always()
Expression = str | _Always | None  # None: no article can satisfy it


def query_expression(matcher: Matcher) -> Expression:
    """An FTS5 query over :func:`document_keys` that every article ``matcher`` can match
    satisfies: each rule's tree with every term replaced by the AND of its words' keys
    (each word: the OR of the keys that reach it), AND, OR and NEAR kept, NOT dropped
    (it only narrows), the rules OR-ed. :data:`ALWAYS` when it would not narrow (or is
    too long to be worth it), None when no article can match."""
    terms = matcher._terms  # the compiled tables: read, never changed
    keys = _pattern_keys(terms.words)
    built = _Builder(keys, terms.specs)
    expr = _or([built.node(rule.tree) for rule in matcher._rules])
    if isinstance(expr, str) and len(expr) > MAX_EXPRESSION_CHARS:
        return ALWAYS
    return expr


def _pattern_keys(words: WordIndex) -> dict[int, set[str]]:
    """Each pattern id and the FTS5 terms (quoted; a prefix with ``*``) that reach it."""
    out: dict[int, set[str]] = defaultdict(set)

    def add(pids: Iterable[int], key: str, *, prefix: bool = False) -> None:
        term = _quoted(key[:MAX_KEY_CHARS]) + (" *" if prefix or len(key) >= MAX_KEY_CHARS else "")
        for pid in pids:
            out[pid].add(term)

    for table in (words.forms, words.name_forms):
        for form, pids in table.items():
            add(pids, _norm_key(form))
    for prefix, pids in words.prefixes.items():
        add(pids, _norm_key(prefix), prefix=True)
    for names in (
        words.names,
        words.stems,
        words.sound,
        words.sound_stems,
        words.plural_names,
        words.particles,
    ):
        for key, pids in names.items():
            add(pids, _name_key(key))
    for whole in {w for wholes in words.fuzzy.values() for w in wholes}:
        pids = words.names.get(whole, [])
        for near in one_edit(whole):
            add(pids, _name_key(near))
    return out


class _Builder:
    """Bound query trees to expressions, each term and word built once."""

    def __init__(self, keys: dict[int, set[str]], specs: list[TermSpec]) -> None:
        self.keys, self.specs = keys, specs
        self.words: dict[int, Expression] = {}
        self.terms: dict[int, Expression] = {}

    def word(self, pid: int) -> Expression:
        if pid not in self.words:
            self.words[pid] = _or(sorted(self.keys.get(pid, ())))
        return self.words[pid]

    def term(self, tid: int) -> Expression:
        if tid not in self.terms:
            patterns = dict.fromkeys(self.specs[tid].patterns)
            self.terms[tid] = _and([self.word(p) for p in patterns])
        return self.terms[tid]

    def node(self, node: Bound) -> Expression:
        if isinstance(node, TermRef):
            return self.term(node.tid)
        if isinstance(node, AnyTerm):
            return _or([self.term(r.tid) for r in node.refs])
        if isinstance(node, AllOf):
            return _and([self.node(c) for c in node.children])
        if isinstance(node, AnyOf):
            return _or([self.node(c) for c in node.children])
        if isinstance(node, Close):
            return _and([self.node(node.left), self.node(node.right)])
        return ALWAYS  # NoneOf: NOT only narrows what the rest allows


def _or(parts: Iterable[Expression]) -> Expression:
    kept = []
    for part in parts:
        if isinstance(part, _Always):
            return ALWAYS
        if part is not None:
            kept.append(part)
    if not kept:
        return None
    unique = list(dict.fromkeys(kept))
    return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"


def _and(parts: Iterable[Expression]) -> Expression:
    kept = []
    for part in parts:
        if part is None:
            return None
        if isinstance(part, str):
            kept.append(part)
    if not kept:
        return ALWAYS
    unique = list(dict.fromkeys(kept))
    return unique[0] if len(unique) == 1 else "(" + " AND ".join(unique) + ")"


def _quoted(key: str) -> str:
    return '"' + key.replace('"', '""') + '"'


def one_edit(key: str, alphabet: Iterable[str] = _ALPHABET) -> set[str]:
    """Every string at most one edit (deletion, insertion, substitution) from ``key``."""
    letters = tuple(alphabet)
    out = {key}
    for i in range(len(key) + 1):
        head, tail = key[:i], key[i:]
        out.update(head + c + tail for c in letters)
        if tail:
            out.add(head + tail[1:])
            out.update(head + c + tail[1:] for c in letters)
    return out
