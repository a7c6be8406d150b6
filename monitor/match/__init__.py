"""Rule matching across scripts and languages. No I/O.

``compile_rules(rules, terms) -> Matcher`` once at config load;
``Matcher.match(Document) -> list[Match]`` per article (on its bounded prefix);
``bound_document(doc) -> (doc, was_cut)`` says what of an article is matched;
``detect_language(text)``. See docs/rules.md for the query language and its limits.
"""

from monitor.match.bounds import MAX_MATCH_CHARS, MAX_TITLE_CHARS, bound_document
from monitor.match.language import detect_language
from monitor.match.matcher import Matcher, compile_rules

__all__ = [
    "MAX_MATCH_CHARS",
    "MAX_TITLE_CHARS",
    "Matcher",
    "bound_document",
    "compile_rules",
    "detect_language",
]
