"""Query linting: bare words that parse but surely mean something else. No I/O.

The parser (:mod:`monitor.match.query`) calls :func:`lint_word` on every bare word of a
rule query (never on a quoted phrase, nor on a ``[terms]`` entry, which are phrases):
each of these would otherwise compile into a rule that quietly searches for other
words than the user meant, so it is a :class:`QueryError` with a suggestion instead
(issue 11):

* ``-Putin`` (a web-search exclusion) searches for ``Putin``: did you mean ``NOT Putin``?
  A hyphen inside a word (``Jean-Noël``, ``Ле-Бурже``) or in a phrase (``"-"``) is fine.
* ``NEAR`` without ``/n`` searches for the word "near": ``NEAR/5``.
* ``near/5``, ``and``, ``or``, ``not`` standing alone are the words, not the operators,
  which are upper-case. To search for the word, quote it: ``"and"``.
* ``text:``, ``body:``, ``TITLE:`` are not field scopes (``title:`` is the only one);
  ``text:Witkoff`` would be the phrase "text Witkoff"; ``title:title:`` is given twice.
* ``!Putin``, ``+Putin``, ``~Putin`` (other search engines' operators) and a lone ``-``
  before ``(`` search for the word or fail: NOT, AND (implied) and ``[terms]`` groups.
* ``NEAR5``, ``NEAR-5``, ``W/5`` are proximity in other tools: ``NEAR/5``.

:func:`suggest_group` names the closest ``[terms]`` group for an unknown ``@group``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from monitor.errors import QueryError

SCOPES = ("title:",)
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
# "word:" at the start of a bare word, but not a URL scheme ("https://").
_SCOPE_RE = re.compile(r"([^\W\d_]+):(?!//)")
_NEAR_RE = re.compile(r"near/(\d+)$", re.IGNORECASE)
# NEAR5, NEAR-5, NEAR:5, and other tools' W/5: proximity written another way.
_GLUED_NEAR_RE = re.compile(r"(?:near[-:_]?|w/)(\d+)$", re.IGNORECASE)
_WORD_OPERATORS = ("and", "or", "not")


def lint_word(text: str, pos: int, rule: str | None) -> None:
    """Raise :class:`QueryError` (at ``pos``, the word's first character) when the bare
    query word ``text`` surely means something else than the words it would search for."""
    if text.startswith(SCOPES[0]):
        text, pos = text[len(SCOPES[0]) :], pos + len(SCOPES[0])
        if text.startswith(SCOPES[0]):
            raise QueryError("title: is given twice", rule=rule, position=pos)
    problem = _problem(text)
    if problem is not None:
        raise QueryError(problem, rule=rule, position=pos)


def _problem(text: str) -> str | None:
    scope = _SCOPE_RE.match(text)
    if scope:
        return _scope_problem(scope.group(1), text[scope.end() :])
    if text[:1] in _DASHES and text.lstrip(_DASHES):
        rest = text.lstrip(_DASHES)
        return f"{text!r} is not an exclusion here (it searches for {rest!r}): did you mean NOT {rest}?"
    if text and not text.strip(_DASHES):
        return f"{text!r} alone is not an operator: to exclude, write NOT (…)"
    if text[:1] == "!" and text[1:]:
        return f"{text!r} is not an exclusion here: did you mean NOT {text[1:]}?"
    if text[:1] == "+" and text[1:]:
        return (
            f"'+' is not an operator: words side by side must all be found (AND): "
            f"did you mean {text[1:]}?"
        )
    if text[:1] == "~" and text[1:]:
        return (
            f"'~' (synonyms) is not supported: list the spellings of {text[1:]} in a "
            "[terms] group and use @group"
        )
    if text == "NEAR":
        return "NEAR needs a distance: NEAR/5 (at most 5 words between the two terms)"
    glued = _GLUED_NEAR_RE.match(text)
    if glued:
        return f"did you mean NEAR/{glued.group(1)}?"
    near = _NEAR_RE.match(text)
    if near and text != text.upper():
        return f"operators are upper-case: did you mean NEAR/{near.group(1)}?"
    if text.casefold() in _WORD_OPERATORS and text != text.upper():
        word = text.casefold()
        return (
            f"operators are upper-case: did you mean {word.upper()}? "
            f'(to search for the word, quote it: "{word}")'
        )
    return None


def _scope_problem(scope: str, rest: str) -> str:
    if scope.casefold() == "title":
        return f"field scopes are lower-case: did you mean title:{rest}?"
    valid = ", ".join(SCOPES)
    return (
        f"unknown field scope {scope}: (valid: {valid}; a term without a scope is "
        "searched in the title and the text)"
    )


def suggest_group(name: str, groups: Iterable[str]) -> str:
    """``"; did you mean @coalition?"`` for the defined group closest to ``name``, or ``""``."""
    by_folded = {g.casefold(): g for g in groups}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean @{by_folded[close[0]]}?" if close else ""
