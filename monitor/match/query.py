"""Query language parser: rule text -> AST. No I/O.

Grammar (operators are upper-case; juxtaposition means AND)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := "NOT" unary | near
    near    := primary ("NEAR/" n primary)*
    primary := ["title:"] ( "(" query ")" | term | "@"group )
    term    := ["="] ( word["*"] | '"' phrase '"' )

Regular expressions are deliberately not part of the language.

A query nests at most :data:`MAX_DEPTH` levels (parentheses, ``NOT``, ``NEAR`` chained
on ``NEAR``), so that nothing downstream recurses deeper than that; long flat lists
(``a OR b OR ...``, a 5,000-entry ``@group``) are fine at any length.

A query must be *anchored*: every way it can match needs at least one term present
in the article (``NOT x`` alone, or ``a OR NOT b``, would match almost every article
with no evidence), so such queries are refused when the config loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from monitor.errors import QueryError
from monitor.match.lint import lint_word, suggest_group
from monitor.match.tokens import SENTENCE_BREAK_RE, TOKEN_RE, tokenize


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term: normalised text, and how it may match."""

    text: str  # normalised
    name: bool = False  # capitalised in the rule: matched by name keys across scripts
    exact: bool = False  # leading '=': no inflection, no fuzz
    prefix: bool = False  # trailing '*': any word starting with ``text``
    proper: bool = False  # a name in a term of capitalised words: capitalised tokens only
    particle: bool = False  # a short lower-case word of a name: its keys meet any token


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase (words in order); ``label`` is how the rule wrote it."""

    words: tuple[Word, ...]
    label: str
    title_only: bool = False
    # Per gap between consecutive words: True when the rule itself puts a sentence break
    # there (``"U.S. sanctions"``), so the article may too. Empty = no breaks anywhere.
    breaks: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class And:
    """All children must match."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child must match."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child must not match."""

    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides match in the same field with at most ``distance`` words between them."""

    left: Node
    right: Node
    distance: int


Node = Term | And | Or | Not | Near

_LEX = re.compile(
    r'\s+|(?P<lp>\()|(?P<rp>\))|(?P<phrase>=?"[^"]*"?)|(?P<bare>[^\s()"]+(?:"[^"]*"?)?)'
)
_NEAR = re.compile(r"NEAR/(\d+)$")
_MAX_PARTICLE = 4  # letters: bin, ibn, von, van, der, de, al, du, dos
_MIN_PREFIX = 2
_MAX_NEAR = 100
MAX_DEPTH = 64  # levels of nesting: "(", NOT and NEAR-on-NEAR each add one


TokenKind = Literal["(", ")", "AND", "OR", "NOT", "NEAR", "TITLE", "TERM"]
_OPERATORS: dict[str, TokenKind] = {"(": "(", ")": ")", "AND": "AND", "OR": "OR", "NOT": "NOT"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: TokenKind
    text: str
    pos: int
    distance: int = 0


def _lex(query: str, rule: str | None) -> list[_Tok]:
    toks = []
    for m in _LEX.finditer(query):
        if m.lastgroup is None:
            continue
        text, pos = m.group(), m.start()
        if m.lastgroup in ("lp", "rp") or text in ("AND", "OR", "NOT"):
            toks.append(_Tok(_OPERATORS[text], text, pos))
        elif text.startswith("NEAR/"):
            near = _NEAR.match(text)
            if not near or not 0 <= int(near.group(1)) <= _MAX_NEAR:
                raise QueryError(
                    f"NEAR needs a distance 0-{_MAX_NEAR}: NEAR/5", rule=rule, position=pos
                )
            toks.append(_Tok("NEAR", text, pos, int(near.group(1))))
        elif text == "title:":
            toks.append(_Tok("TITLE", text, pos))
        else:
            if m.lastgroup == "bare":
                lint_word(text, pos, rule)
            toks.append(_Tok("TERM", text, pos))
    return toks


class _Parser:
    def __init__(self, query: str, rule: str | None, groups: Mapping[str, Sequence[str]]) -> None:
        # Typographic quotes in a query delimit phrases like '"'.
        self.query = query.translate(str.maketrans("«»“”„", '"' * 5))
        self.rule = rule
        self.groups = groups
        self.toks = _lex(self.query, rule)
        self.i = 0
        self.depth = 0  # open parentheses, NOTs and chained NEARs around the current token
        self.starts: dict[int, int] = {}  # id(node) -> character where it starts

    def error(self, message: str, pos: int | None = None) -> QueryError:
        if pos is None:
            pos = self.toks[self.i].pos if self.i < len(self.toks) else len(self.query)
        return QueryError(message, rule=self.rule, position=pos)

    def deeper(self, pos: int) -> None:
        """Enter one more level of nesting (at character ``pos``); refuse a query that goes
        past the limit. Checked before recursing, so no query string exhausts Python's stack.
        """
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"the query nests more than {MAX_DEPTH} levels deep (parentheses, NOT, "
                f"NEAR on NEAR); the limit is {MAX_DEPTH} — flatten it",
                pos,
            )

    def peek(self) -> str | None:
        return self.toks[self.i].kind if self.i < len(self.toks) else None

    def parse(self) -> Node:
        if not self.toks:
            raise self.error("the query is empty", 0)
        node = self.parse_or()
        if self.i < len(self.toks):
            raise self.error(f"unexpected {self.toks[self.i].text!r}")
        self.check_anchored(node)
        return node

    def start(self) -> int:
        return self.toks[self.i].pos if self.i < len(self.toks) else len(self.query)

    def parse_or(self) -> Node:
        pos = self.start()
        children = [self.parse_and()]
        while self.peek() == "OR":
            self.i += 1
            children.append(self.parse_and())
        return self.placed(children[0] if len(children) == 1 else Or(tuple(children)), pos)

    def parse_and(self) -> Node:
        pos = self.start()
        children = [self.parse_unary()]
        while self.peek() in ("AND", "NOT", "(", "TERM", "TITLE"):
            if self.peek() == "AND":
                self.i += 1
            children.append(self.parse_unary())
        return self.placed(children[0] if len(children) == 1 else And(tuple(children)), pos)

    def placed(self, node: Node, pos: int) -> Node:
        """Remember where ``node`` starts (the first position recorded wins)."""
        self.starts.setdefault(id(node), pos)
        return node

    def check_anchored(self, root: Node) -> None:
        """Refuse a query that can match with no term present (see the module doc)."""
        if is_anchored(root):
            return
        node = root
        while True:
            if isinstance(node, And):  # no child anchored: blame the first OR, if any
                node = next((c for c in node.children if isinstance(c, Or)), node)
                if isinstance(node, And):
                    break
            if not isinstance(node, Or):
                break
            branch = next(c for c in node.children if not is_anchored(c))
            if isinstance(branch, Not) or (
                isinstance(branch, And) and not any(isinstance(c, Or) for c in branch.children)
            ):
                raise self.error(
                    "every OR alternative needs a term that must be present "
                    "(an alternative with only NOT matches almost every article)",
                    self.starts.get(id(branch), 0),
                )
            node = branch
        raise self.error(
            "a rule needs at least one term that must be present (NOT alone matches everything)",
            self.starts.get(id(node), 0),
        )

    def parse_unary(self) -> Node:
        if self.peek() == "NOT":
            pos = self.start()
            self.i += 1
            self.deeper(pos)
            node = self.placed(Not(self.parse_unary()), pos)
            self.depth -= 1
            return node
        return self.parse_near()

    def parse_near(self) -> Node:
        node = self.parse_primary()
        chained = 0
        while self.peek() == "NEAR":
            tok = self.toks[self.i]
            if chained:  # the left side is a NEAR already: one level deeper
                self.deeper(tok.pos)
            chained += 1
            self.i += 1
            right = self.parse_primary()
            for side in (node, right):
                if not _is_positional(side):
                    raise self.error("NEAR joins terms, phrases or groups, not AND/NOT", tok.pos)
            node = Near(node, right, tok.distance)
        self.depth -= max(0, chained - 1)
        return node

    def parse_primary(self) -> Node:
        title_only = False
        while self.peek() == "TITLE":  # a loop: "title: title: ... x" is still one scope
            title_only = True
            self.i += 1
        kind = self.peek()
        if kind is None:
            raise self.error("a term is missing at the end of the query")
        tok = self.toks[self.i]
        self.i += 1
        if kind == "(":
            self.deeper(tok.pos)
            node = self.parse_or()
            if self.peek() != ")":
                raise self.error("missing ')'", tok.pos)
            self.i += 1
            self.depth -= 1
            return _scoped(node) if title_only else node
        if kind == "TERM":
            return self.parse_term(tok, title_only)
        raise self.error(f"unexpected {tok.text!r}", tok.pos)

    def parse_term(self, tok: _Tok, title_only: bool) -> Node:
        text, pos = tok.text, tok.pos
        while text.startswith("title:"):
            text, pos, title_only = text[6:], pos + 6, True
        if text.startswith("@"):
            return self.parse_group(text[1:], pos, title_only)
        return parse_term_text(text, pos, self.rule, title_only)

    def parse_group(self, name: str, pos: int, title_only: bool) -> Node:
        entries = self.groups.get(name)
        if entries is None:
            folded = {k.casefold(): v for k, v in self.groups.items()}
            entries = folded.get(name.casefold())
        if entries is None:
            hint = suggest_group(name, self.groups)
            raise self.error(f"unknown group @{name} (define it under [terms]){hint}", pos)
        if not entries:
            raise self.error(f"group @{name} is empty", pos)
        terms = tuple(parse_term_text(e, pos, self.rule, title_only, quoted=True) for e in entries)
        return terms[0] if len(terms) == 1 else Or(terms)


def is_anchored(node: Node) -> bool:
    """True when ``node`` can only hold if some term of it is present in the article.

    A term or NEAR is anchored; NOT never is; AND is when one of its parts is; OR only
    when every alternative is. No I/O.
    """
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_anchored(c) for c in node.children)
    return all(is_anchored(c) for c in node.children)


def _is_positional(node: Node) -> bool:
    if isinstance(node, Term | Near):
        return True
    return isinstance(node, Or) and all(_is_positional(c) for c in node.children)


def _scoped(node: Node) -> Node:
    """The same expression with every term restricted to the title."""
    if isinstance(node, Term):
        return Term(node.words, node.label, True, node.breaks)
    if isinstance(node, Not):
        return Not(_scoped(node.child))
    if isinstance(node, Near):
        return Near(_scoped(node.left), _scoped(node.right), node.distance)
    return type(node)(tuple(_scoped(c) for c in node.children))


def parse_term_text(
    text: str, pos: int, rule: str | None, title_only: bool = False, quoted: bool = False
) -> Term:
    """One term (bare word, ``"phrase"``, ``=exact``, ``prefix*``) -> :class:`Term`."""
    label = text
    exact = text.startswith("=")
    body = text[1:] if exact else text
    if body.startswith('"'):
        if len(body) < 2 or not body.endswith('"'):
            raise QueryError('a quoted phrase is missing its closing "', rule=rule, position=pos)
        body = body[1:-1]
        label = body if not exact else "=" + body
    elif not quoted and '"' in body:
        raise QueryError('a " inside a word', rule=rule, position=pos)
    words: list[Word] = []
    breaks: list[bool] = []
    prev_end = 0
    for raw in TOKEN_RE.finditer(body + " "):
        after = body[raw.end() : raw.end() + 1]
        new = _words(raw.group(), after == "*", exact, rule, pos)
        if new and words:
            breaks.append(bool(SENTENCE_BREAK_RE.search(body, prev_end, raw.start())))
        if new:
            words.extend(new)
            prev_end = raw.end()
    if not words:
        raise QueryError(f"{text!r} has no words", rule=rule, position=pos)
    if body.count("*") != sum(w.prefix for w in words):
        raise QueryError("'*' is only allowed at the end of a word", rule=rule, position=pos)
    return Term(tuple(_as_name(words)), label, title_only, tuple(breaks) if any(breaks) else ())


def _as_name(words: list[Word]) -> list[Word]:
    """Mark the words of a proper name: a term whose words are all capitalised but for
    short particles (``Козак``, ``"Steve Witkoff"``, ``"Mohammed bin Salman"``). Its
    names then match capitalised words only (lower-case «козак» is the Cossack, "trump"
    a card), and its particles («бін», «фон дер») match in either script and case. A
    term with a longer lower-case word (``"Coalition of the willing"``) is no name."""
    if not any(w.name for w in words) or any(
        not w.name and len(w.text) > _MAX_PARTICLE for w in words
    ):
        return words
    return [
        replace(w, proper=True)
        if w.name
        else replace(w, particle=True)
        if not (w.exact or w.prefix)
        else w
        for w in words
    ]


def _words(raw: str, prefix: bool, exact: bool, rule: str | None, pos: int) -> list[Word]:
    norms = tokenize(raw)
    out = []
    for k, norm in enumerate(norms):
        is_prefix = prefix and k == len(norms) - 1
        if is_prefix and len(norm) < _MIN_PREFIX:
            raise QueryError(
                f"a wildcard needs at least {_MIN_PREFIX} letters before '*'",
                rule=rule,
                position=pos,
            )
        name = raw[:1].isupper() and not exact and not is_prefix
        out.append(Word(norm, name=name, exact=exact, prefix=is_prefix))
    return out


def parse_query(query: str, groups: Mapping[str, Sequence[str]], rule: str | None = None) -> Node:
    """Parse a rule query into an AST; raises :class:`QueryError` with the position."""
    return _Parser(query, rule, groups).parse()
