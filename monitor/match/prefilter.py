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

:func:`query_keys` reads a compiled matcher's tables and gives the keys that reach a
hit: every form, every name key, every prefix (as a prefix look-up), and for the
one-edit name keys every string one edit away over the phonetic alphabet (phonetic
keys are ``[a-z]*``). A stored index of :func:`document_keys` looked up with those
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
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.match.bounds import bound_document
from monitor.match.keys import name_keys, plural_keys
from monitor.match.matcher import Matcher
from monitor.match.tokens import TOKEN_RE, normalize_token
from monitor.records import Document

VERSION = 1  # of the key scheme: a stored index of another version is rebuilt
MAX_KEY_CHARS = 48
MAX_QUERY_KEYS = 50_000  # beyond this the prefilter is not worth it: scan every article
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
        keys: set[str] = set()
        cache = self._cache
        for raw in {*TOKEN_RE.findall(doc.title), *TOKEN_RE.findall(doc.text)}:
            found = cache.get(raw)
            if found is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                found = cache[raw] = tuple(token_keys(raw))
            keys.update(found)
        return keys


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


@dataclass(frozen=True, slots=True)
class QueryKeys:
    """What to look up: exact keys and prefixes (both already encoded)."""

    exact: frozenset[str]
    prefixes: frozenset[str]

    def __len__(self) -> int:
        return len(self.exact) + len(self.prefixes)


def query_keys(matcher: Matcher) -> QueryKeys | None:
    """The keys through which ``matcher`` can hit a token, or None when they are more
    than :data:`MAX_QUERY_KEYS` (then every article of the window is matched)."""
    words = matcher._terms.words  # the compiled tables: read, never changed
    exact: set[str] = set()
    prefixes: set[str] = set()

    def add(key: str, *, prefix: bool = False) -> None:
        if prefix or len(key) >= MAX_KEY_CHARS:
            prefixes.add(key[:MAX_KEY_CHARS])
        else:
            exact.add(key)

    for form in (*words.forms, *words.name_forms):
        add(_norm_key(form))
    for prefix in words.prefixes:
        add(_norm_key(prefix), prefix=True)
    for table in (
        words.names,
        words.stems,
        words.sound,
        words.sound_stems,
        words.plural_names,
        words.particles,
    ):
        for key in table:
            add(_name_key(key))
    fuzzy = {whole for wholes in words.fuzzy.values() for whole in wholes}
    for whole in fuzzy:
        for near in one_edit(whole):
            add(_name_key(near))
        if len(exact) + len(prefixes) > MAX_QUERY_KEYS:
            return None
    if len(exact) + len(prefixes) > MAX_QUERY_KEYS:
        return None
    return QueryKeys(frozenset(exact), frozenset(prefixes))


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
