"""Rule matching across scripts and languages. No I/O.

``compile_rules(rules, terms) -> Matcher`` once at config load;
``Matcher.match(Document) -> list[Match]`` per article; ``detect_language(text)``.
See docs/rules.md for the query language.
"""

from monitor.match.language import detect_language
from monitor.match.matcher import Matcher, compile_rules

__all__ = ["Matcher", "compile_rules", "detect_language"]
