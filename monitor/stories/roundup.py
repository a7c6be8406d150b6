"""Headline forms that say an article is not one event's report. No I/O.

Round-ups: one article reporting several events (a morning briefing, a live blog, a
war's "key events, day 1,455", a «дайджест»).

Such an article shares the names and rare words of every event it lists, so each later
report of any of them would find it the best match, and through it every one of those
events would become one story (one alert for all of them). A round-up is therefore
never the article a later one joins a story through; it may itself join the story it
is most like, and copies of it (same link, near-duplicate text) are still its copies.

Told by its headline, in uk, ru and en: the labels outlets give them, or a list of three
or more items after a colon (``Morning briefing: Witkoff to Moscow, Umerov to Miami,
storms in Asia``). A headline is bounded by the caller (:data:`MAX_TITLE_CHARS`).

Explainers (:func:`is_explainer`): a question, a guide, "what you need to know", an
analysis or opinion piece. Such an article is about a topic (the Strait of Hormuz, the
Winter Olympics), not one event: it shares the topic's rare words with the topic's news
in other outlets the same day ("Why is the Strait of Hormuz so crucial?" beside "Iran
holds exercises in the Strait of Hormuz"), so the clusterer joins it to another outlet's
article, or another outlet's article to it, only on much stronger evidence.
"""

from __future__ import annotations

import re

from monitor.match.tokens import fold_text
from monitor.stories.entities import MAX_TITLE_CHARS

# Labels, matched on the folded headline (lower case, apostrophes and dashes folded),
# at word bounds. Each was seen in the feeds of ../shared/corpus or is a standard label
# of the same kind; a bare "live" is not one (a live stream of one event is one event).
_LABELS = (
    r"briefing",
    r"round-?up",
    r"digest",
    r"key events",
    r"what we know",
    r"live updates",
    r"live blog",
    r"as it happened",
    r"[-\u2013|:] live!?$",
    r"^live:",
    r"news in brief",
    r"headlines",
    r"дайджест",
    r"головне",
    r"главное за",
    r"главное к",
    r"хроніка",
    r"хроника",
    r"новини дня",
    r"новости дня",
    r"підсумки дня",
    r"итоги дня",
    r"онлайн-трансляц",
    r"live$",
    # newsletter and desk formats: "Five things to know on Thursday", "Today's top
    # stories", "The world in 90 seconds", "Evening Update: …", "Ukraine updates: …"
    r"things to know",
    r"top stories",
    r"in \d+ seconds",
    r"in \d+ minutes",
    r"news quiz",
    r"what in the world",
    r"(?:morning|evening|midday|weekend|daily|week(?:ly)?) (?:update|edition|report|wrap|digest)",
    r"^\w+ updates?:",
    r"новини за",
    r"новости за",
)
_LABEL_RE = re.compile(r"(?<!\w)(?:" + "|".join(_LABELS) + r")(?!\w)")
_ITEMS_RE = re.compile(r"[,;]")
# "Iran shuts the Strait of Hormuz. And, Russia and Ukraine swap 300 prisoners": two
# stories in one headline (a radio or newsletter brief)
_AND_RE = re.compile(r"[.;!?]\s+(?:And|Also|Plus|Meanwhile|А також|А ещё|Также)\b[,:]?")
_NAME_RE = re.compile(r"(?<!\w)[^\W\d_][\w'\u2019-]*")


def is_roundup(title: str) -> bool:
    """True when the headline names the article a round-up of several events."""
    title = title[:MAX_TITLE_CHARS]
    if _LABEL_RE.search(fold_text(title).strip()) or _AND_RE.search(title):
        return True
    # "label: a, b, c": three items or more, two of them naming someone or somewhere
    # (a list of nouns, "torture, rape, forced labour", is one event's description);
    # an item of one word counts when it is a name ("Thursday's news: Iran, Ukraine,
    # Greenland")
    _, colon, tail = title.partition(":")
    items = [i.strip() for i in _ITEMS_RE.split(tail)] if colon else []
    named = sum(any(w[0].isupper() for w in _NAME_RE.findall(i)) for i in items)
    return len(items) >= 3 and named >= 2


# Explainer forms, matched on the folded headline. A question: "?" that does not close a
# quotation («Как доказать, что я не брала взятки?» — a report quoting someone), or a
# headline opening with a question word (a capital first: "WHO says" is the agency).
_QUESTION_RE = re.compile(r"\?[?!.\u2026]*+(?![\s.]*[\"'])")
_ASKS_RE = re.compile(
    r"(?:Why|How|What|Who|Where|When|Which|Whose|Чому|Почему|Як|Как|Зачем|Навіщо)(?!\w)"
)
_EXPLAINERS = (
    r"what you need to know",
    r"what to know",
    r"need to know",
    r"explainer",
    r"explained",
    r"(?:your |a |the )?guide to",
    r"fun facts",
    r"facts about",
    r"q ?& ?a",
    r"fact-?check(?:ing|ed)?",
    r"fact check(?:ing|ed)?",
    r"^analysis",
    r"^opinion",
    r"^op-ed",
    r"^editorial",
    r"^comment:",
    # a listicle, a service piece: "10 Fun Facts About Milan", "The Five Ways Europe
    # Could Respond", "See the Olympics schedule"
    r"^(?:the )?(?:\d+|three|four|five|six|seven|eight|nine|ten|\d+ of the) (?:\w+ ){0,2}"
    r"(?:ways|things|reasons|facts|questions|lessons|charts|maps|myths|most)",
    r"^see (?:the|how|what|where|which|who)",
    r"що відомо",
    r"что известно",
    r"що (?:потрібно|треба|варто) знати",
    r"что (?:нужно|надо|стоит) знать",
    r"пояснюємо",
    r"объясняем",
    r"що таке",
    r"что такое",
)
_EXPLAINER_RE = re.compile(r"(?<!\w)(?:" + "|".join(_EXPLAINERS) + r")(?!\w)")


def is_explainer(title: str) -> bool:
    """True when the headline is a question, a guide or explainer, an analysis or an
    opinion: an article about a topic rather than one event's report."""
    title = title[:MAX_TITLE_CHARS].strip()
    folded = fold_text(title)
    return bool(
        _QUESTION_RE.search(folded) or _ASKS_RE.match(title) or _EXPLAINER_RE.search(folded)
    )
