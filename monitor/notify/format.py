"""Turn alerts into messages, one template per channel kind. No I/O except reading templates.

Templates are Jinja2 files rendered in a :class:`SandboxedEnvironment`; HTML kinds
(telegram, email) autoescape every value, so a feed title holding ``<script>`` or
``{{ 7*7 }}`` is shown, never run. A template defines the blocks ``subject``, ``body``,
``digest_subject`` and ``digest_body``; an override (``ChannelConfig.template``) may
define only some, the rest come from the default of its kind. An override that cannot be
read, compiled or rendered (a sandbox violation too) is logged as ``template.failed`` and
the message is rendered with the default template of the kind instead: a broken template
never stops an alert.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from anyascii import anyascii
from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from monitor.log import event
from monitor.notify.snippet import Segment, make_snippet, matched_terms
from monitor.records import Alert, ChannelConfig, ChannelKind, Evidence

BodyFormat = Literal["html", "text"]
T = TypeVar("T")

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATES = {"telegram": "telegram.html", "email": "email.html", "generic": "generic.txt"}
TELEGRAM_LIMIT = 4096  # characters after entity parsing, counted in UTF-16 code units
SUBJECT_MAX = 200
# (snippet chars, title chars) tried in order until a Telegram message fits.
_FIT_STEPS = ((300, 1000), (150, 1000), (60, 500), (0, 300), (0, 100))


@dataclass(frozen=True, slots=True)
class Message:
    """What is sent: ``body_format`` is "html" or "text"; ``short_body`` is a fallback
    (title and link only) for a channel that rejects the message as too long."""

    title: str
    body: str
    body_format: BodyFormat
    short_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reply_to: str | None = None  # Telegram: "chat:message_id,..." this message answers


def _template_kind(kind: ChannelKind) -> ChannelKind:
    return "generic" if kind == "console" else kind


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=autoescape, keep_trailing_newline=False)


@lru_cache(maxsize=64)
def _compile(path: str, autoescape: bool, mtime_ns: int) -> Template:
    return _environment(autoescape).from_string(Path(path).read_text(encoding="utf-8"))


def _load(path: str, autoescape: bool) -> Template:
    """A compiled template, recompiled when the file changes (edits apply on reload)."""
    return _compile(path, autoescape, Path(path).stat().st_mtime_ns)


def _templates(kind: ChannelKind, override: str | None) -> list[Template]:
    """The override (if any) first, then the default template of the kind."""
    kind = _template_kind(kind)
    autoescape = kind != "generic"
    default = _load(str(TEMPLATES_DIR / DEFAULT_TEMPLATES[kind]), autoescape)
    return ([_load(override, autoescape)] if override else []) + [default]


def _render(templates: list[Template], block: str, values: dict[str, object]) -> str:
    for tmpl in templates:
        if block in tmpl.blocks:
            return "".join(tmpl.blocks[block](tmpl.new_context(values))).strip()
    return ""


def _with_fallback(render: Callable[[ChannelConfig], T], channel: ChannelConfig) -> T:
    """``render(channel)``; when the channel's override template fails (unreadable, does
    not compile, breaks the sandbox), log ``template.failed`` and render again with the
    default template of the kind. A failing default template is a bug: it propagates."""
    try:
        return render(channel)
    except (TemplateError, OSError) as exc:
        if channel.template is None:
            raise
        event(
            log,
            "template.failed",
            level=logging.WARNING,
            channel=channel.name,
            template=channel.template,
            error=f"{type(exc).__name__}: {exc}",
        )
        return render(replace(channel, template=None))


def format_time(at: datetime | None, tz: str) -> str | None:
    """``at`` as "YYYY-MM-DD HH:MM TZ" in the config time zone."""
    if at is None:
        return None
    try:
        local = at.astimezone(ZoneInfo(tz))
    except (OverflowError, ValueError):  # year 1 or 9999 from a feed: no local time exists
        local = at
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def one_line(text: str, limit: int) -> str:
    """Collapse whitespace and cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def telegram_length(body: str) -> int:
    """Length Telegram counts: tags removed, entities decoded, in UTF-16 code units."""
    visible = html.unescape(re.sub(r"<[^>]*>", "", body)).strip()
    return len(visible.encode("utf-16-le")) // 2


def rules_of(alerts: Sequence[Alert]) -> tuple[str, ...]:
    """The distinct rules of ``alerts``, in order."""
    return tuple(dict.fromkeys(a.rule for a in alerts))


def _evidence(alerts: Sequence[Alert]) -> tuple[Evidence, ...]:
    """Every rule's evidence for one article, each (term, surface, field) once."""
    return tuple(dict.fromkeys(ev for a in alerts for ev in a.evidence))


def paragraphs(segments: Sequence[Segment]) -> tuple[tuple[Segment, ...], ...]:
    """``segments`` cut at their line breaks: one tuple per paragraph of the article."""
    out: list[list[Segment]] = [[]]
    for seg in segments:
        lines = seg.text.split("\n")
        for i, line in enumerate(lines):
            if i:
                out.append([])
            if line.strip():
                out[-1].append(Segment(line, seg.hit))
    return tuple(tuple(p) for p in out if p)


def _alert_values(
    alerts: Sequence[Alert], tz: str, snippet_chars: int, title_chars: int
) -> dict[str, object]:
    alert = alerts[0]  # every alert of a message is about this article
    rules = rules_of(alerts)
    evidence = _evidence(alerts)
    snippet = make_snippet(alert.text, evidence, snippet_chars)
    return {
        "rule": ", ".join(rules),
        "rules": rules,
        "title": one_line(alert.title or "(no title)", title_chars),
        "source": alert.source,
        "published": format_time(alert.published or alert.created_at, tz),
        "link": alert.link,
        "terms": matched_terms(evidence),
        "snippet": snippet,
        "paragraphs": paragraphs(snippet),
        "priority": "high" if any(a.priority == "high" for a in alerts) else alert.priority,
        "also": also_reported(alert),
        "updated": alert.kind == "update",  # an edited article: matched again
        "updated_from": alert.title_before if alert.kind == "update" else None,
    }


def also_reported(alert: Alert) -> str:
    """ "also reported by 2 outlets (uk, ru, en)" — the story's other outlets — or ""."""
    n = len(alert.story_sources)
    if not n:
        return ""
    languages = f" ({', '.join(alert.story_languages)})" if alert.story_languages else ""
    return f"also reported by {n} outlet{'s' if n > 1 else ''}{languages}"


def render_alert(alert: Alert | Sequence[Alert], channel: ChannelConfig, tz: str) -> Message:
    """The message announcing one article on ``channel``: ``alert``, or the alerts of every
    rule that matched it (named together). A broken override template falls back to the
    default."""
    alerts = (alert,) if isinstance(alert, Alert) else tuple(alert)
    if not alerts or len({a.article_id for a in alerts}) != 1:
        raise ValueError("render_alert: the alerts of exactly one article")
    return _with_fallback(lambda c: _render_alert(alerts, c, tz), channel)


def _render_alert(alerts: Sequence[Alert], channel: ChannelConfig, tz: str) -> Message:
    kind = channel.kind
    templates = _templates(kind, channel.template)
    for snippet_chars, title_chars in _FIT_STEPS:
        values = _alert_values(alerts, tz, snippet_chars, title_chars)
        body = _render(templates, "body", values)
        if kind != "telegram" or telegram_length(body) <= TELEGRAM_LIMIT:
            break
    subject = one_line(_render(templates, "subject", values), SUBJECT_MAX)
    return _message(kind, subject, body, rules_of(alerts), _short(kind, alerts))


def _short(kind: ChannelKind, alerts: Sequence[Alert]) -> str:
    """Title and link only: the fallback when a channel says the message is too long."""
    alert, rule = alerts[0], ", ".join(rules_of(alerts))
    title = one_line(alert.title or "(no title)", 300)
    if kind == "telegram":
        link = f'\n<a href="{html.escape(alert.link)}">link</a>' if alert.link else ""
        return f"<b>[{html.escape(rule)}]</b> {html.escape(title)}{link}"
    return f"[{rule}] {title}\n{alert.link or ''}".strip()


def rule_slug(name: str) -> str:
    """A rule's name as an email list id: ASCII (Cyrillic transliterated: "Україна & ЄС"
    -> "ukraina-es"), lower case, words joined by "-", at most 60 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(name).lower()).strip("-")[:60].strip("-")
    return slug or "alerts"


def _message(
    kind: ChannelKind,
    subject: str,
    body: str,
    rules: Sequence[str],
    short: str | None,
    list_id: str | None = None,
) -> Message:
    """The message of ``kind``; email gets a List-Id (the one rule's, or "digest" for a
    digest of several) and ``X-Press-Monitor-Rules`` naming every rule's list id, so a
    filter on any rule of a message sent for several finds it."""
    if kind == "telegram":
        return Message(title=subject, body=body, body_format="html", short_body=short)
    if kind == "email":
        slugs = list(dict.fromkeys(rule_slug(r) for r in rules)) or ["alerts"]
        slug = list_id or slugs[0]
        headers = {
            "List-Id": f"press-monitor {slug} <{slug}.press-monitor.invalid>",
            "X-Press-Monitor-Rules": " ".join(slugs),
        }
        return Message(
            title=subject, body=body, body_format="html", short_body=short, headers=headers
        )
    return Message(title=subject, body=body, body_format="text", short_body=short)


DIGEST_SNIPPET = 160  # characters of text under each digest line


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One line of a digest: one article, with every rule of the message that matched it."""

    title: str
    link: str | None
    source: str
    published: str | None
    terms: tuple[str, ...]
    rules: tuple[str, ...] = ()
    snippet: tuple[Segment, ...] = ()
    also: str = ""  # "also reported by 2 outlets (uk, ru)"


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """The digest lines of one rule (``rule``: the names joined, when the articles of the
    group matched several rules together)."""

    rule: str
    items: tuple[DigestItem, ...]


def group_by_rule(alerts: Sequence[Alert], tz: str) -> tuple[DigestGroup, ...]:
    """One item per article, grouped by the rules that matched it (groups in first-seen
    order, articles by time)."""
    articles: dict[int, list[Alert]] = {}
    for a in sorted(alerts, key=lambda a: (a.published or a.created_at, a.id)):
        articles.setdefault(a.article_id, []).append(a)
    groups: dict[tuple[str, ...], list[DigestItem]] = {}
    for rows in articles.values():
        a, rules, evidence = rows[0], rules_of(rows), _evidence(rows)
        item = DigestItem(
            title=one_line(a.title or "(no title)", 200),
            link=a.link,
            source=a.source,
            published=format_time(a.published or a.created_at, tz),
            terms=matched_terms(evidence),
            rules=rules,
            snippet=make_snippet(" ".join(a.text.split()), evidence, DIGEST_SNIPPET),
            also=also_reported(a),
        )
        groups.setdefault(rules, []).append(item)
    return tuple(DigestGroup(", ".join(rules), tuple(items)) for rules, items in groups.items())


def render_digest(
    alerts: Sequence[Alert], channel: ChannelConfig, tz: str, heading: str
) -> Message:
    """One message listing ``alerts`` grouped by rule (a digest or a burst summary; a
    broken override template falls back to the default)."""
    return _with_fallback(lambda c: _render_digest(alerts, c, tz, heading), channel)


def _render_digest(
    alerts: Sequence[Alert], channel: ChannelConfig, tz: str, heading: str
) -> Message:
    kind = channel.kind
    templates = _templates(kind, channel.template)
    groups = group_by_rule(alerts, tz)
    count = sum(len(g.items) for g in groups)
    rules = rules_of(alerts)
    values = {"heading": heading, "groups": groups, "count": count, "rules": rules}
    subject = one_line(_render(templates, "digest_subject", values), SUBJECT_MAX)
    body = _render(templates, "digest_body", values)
    list_id = "digest" if len(rules) > 1 else None  # one rule: that rule's List-Id
    return _message(kind, subject, body, rules, None, list_id)


def fits(message: Message, channel: ChannelConfig) -> bool:
    """True unless the channel is Telegram and the message is over its length limit."""
    return channel.kind != "telegram" or telegram_length(message.body) <= TELEGRAM_LIMIT


def render_digest_parts(
    alerts: Sequence[Alert], channel: ChannelConfig, tz: str, heading: str
) -> list[tuple[tuple[Alert, ...], Message]]:
    """Like :func:`render_digest`, split into as many messages as needed to fit;
    several parts get "(1/3)" after the heading. A broken override template falls back
    to the default for every part (logged once)."""
    return _with_fallback(lambda c: _render_digest_parts(alerts, c, tz, heading), channel)


def _render_digest_parts(
    alerts: Sequence[Alert], channel: ChannelConfig, tz: str, heading: str
) -> list[tuple[tuple[Alert, ...], Message]]:
    parts = _split(tuple(alerts), channel, tz, f"{heading} (00/00)")
    if len(parts) == 1:
        return [(parts[0], _render_digest(parts[0], channel, tz, heading))]
    n = len(parts)
    return [
        (part, _render_digest(part, channel, tz, f"{heading} ({i}/{n})"))
        for i, part in enumerate(parts, 1)
    ]


def _split(
    alerts: tuple[Alert, ...], channel: ChannelConfig, tz: str, heading: str
) -> list[tuple[Alert, ...]]:
    """``alerts`` in as few parts as fit, never parting the rows of one article."""
    articles: dict[int, list[Alert]] = {}
    for a in alerts:
        articles.setdefault(a.article_id, []).append(a)
    return [
        tuple(a for group in part for a in group)
        for part in _halve([tuple(g) for g in articles.values()], channel, tz, heading)
    ]


def _halve(
    groups: list[tuple[Alert, ...]], channel: ChannelConfig, tz: str, heading: str
) -> list[list[tuple[Alert, ...]]]:
    flat = [a for group in groups for a in group]
    if len(groups) <= 1 or fits(_render_digest(flat, channel, tz, heading), channel):
        return [groups]
    half = len(groups) // 2
    return _halve(groups[:half], channel, tz, heading) + _halve(groups[half:], channel, tz, heading)


REPLY_ITEMS = 10  # outlets listed in one reply; the rest are counted


def render_reply(alerts: Sequence[Alert], channel: ChannelConfig, tz: str) -> Message:
    """The later outlets of a story, as an answer to its first alert: one line each
    (outlet, time, headline, link), at most :data:`REPLY_ITEMS` and never over Telegram's
    limit (a feed carrying hundreds of copies at once is "… and 480 more"). ``reply_to``
    names the message answered ("" when it is gone: the message then stands alone,
    naming the rule)."""
    target = alerts[0].reply_to_message or None
    lead = "Also reported by" if target else f"[{', '.join(rules_of(alerts))}] also reported by"
    telegram = channel.kind == "telegram"
    lines = [f"<b>{html.escape(lead)}:</b>" if telegram else f"{lead}:"]
    shown = 0
    for a in alerts[:REPLY_ITEMS]:
        source, title = one_line(a.source, 80), one_line(a.title or "(no title)", 200)
        when = format_time(a.published or a.created_at, tz)
        if telegram:
            head = html.escape(title)
            head = f'<a href="{html.escape(a.link)}">{head}</a>' if a.link else head
            line = f"• {html.escape(source)} · {when}: {head}"
            if telegram_length("\n".join([*lines, line])) > TELEGRAM_LIMIT - 100:
                break
        else:
            line = f"- {source} · {when}: {title}" + (f"\n  {a.link}" if a.link else "")
        lines.append(line)
        shown += 1
    if shown < len(alerts):
        lines.append(f"… and {len(alerts) - shown} more")
    body = "\n".join(lines)
    return Message(
        title=lead, body=body, body_format="html" if telegram else "text", reply_to=target
    )


def render_notice(title: str, body: str, channel: ChannelConfig) -> Message:
    """An operator notice (plain title and body) for ``channel``'s kind."""
    kind = channel.kind
    if kind == "telegram":
        text = f"<b>{html.escape(title)}</b>\n{html.escape(body)}"
        short = f"<b>{html.escape(title)}</b>"
        return Message(title=title, body=text, body_format="html", short_body=short)
    if kind == "email":
        text = f"<html><body><h3>{html.escape(title)}</h3><p>{html.escape(body)}</p></body></html>"
        return Message(title=f"[press-monitor] {title}", body=text, body_format="html")
    return Message(title=title, body=body, body_format="text")
