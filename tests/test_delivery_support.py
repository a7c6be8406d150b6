"""Builders shared by the delivery tests: a real SQLite outbox, configs, a Telegram
Bot API stand-in on 127.0.0.1 and a real aiosmtpd SMTP server. (No tests here.)"""

from __future__ import annotations

import json
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from apprise.plugins.telegram import NotifyTelegram
from sqlalchemy import select

from monitor.config import Config
from monitor.match import compile_rules
from monitor.records import (
    ChannelConfig,
    FetchSettings,
    MonitorSettings,
    RuleConfig,
    channel_kind,
)
from monitor.secrets import mask_url
from monitor.store.db import make_engine, make_session_factory, session_scope, upgrade
from monitor.store.schema import (
    AlertRow,
    ArticleRow,
    FeedRow,
    MatchRow,
    OperatorNoticeRow,
    SightingRow,
)
from tests.support import LocalServer, Request, Response

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, 14:00 in Europe/Kyiv
BOT_TOKEN = "123456789:AAHsecretTokenValue0123456789abcdefgh"


@pytest.fixture
def factory(tmp_path):  # type: ignore[no-untyped-def]
    """A migrated SQLite database in tmp_path, as a session factory."""
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def channel(name: str, url: str, **kw: object) -> ChannelConfig:
    """A ChannelConfig as the config loader would build it."""
    return ChannelConfig(
        name=name,
        url=url,
        masked_url=mask_url(url),
        kind=channel_kind(url),
        **kw,  # type: ignore[arg-type]
    )


def make_config(
    channels: list[ChannelConfig],
    rules: list[RuleConfig] | None = None,
    tz: str = "Europe/Kyiv",
    **monitor: object,
) -> Config:
    """A Config with the given channels and rules (default: rule "r" to every channel)."""
    rules = rules or [RuleConfig(name="r", query="x", channels=tuple(c.name for c in channels))]
    return Config(
        path="test.toml",
        monitor=MonitorSettings(database="sqlite://", timezone=tz, **monitor),  # type: ignore[arg-type]
        fetch=FetchSettings(),
        channels={c.name: c for c in channels},
        terms={},
        feeds=(),
        rules=tuple(rules),
        matcher=compile_rules(rules, {}),
    )


def _feed(session, url: str, name: str | None) -> FeedRow:  # type: ignore[no-untyped-def]
    feed = session.scalar(select(FeedRow).where(FeedRow.url == url))
    if feed is None:
        feed = FeedRow(url=url, name=name, created_at=NOW)
        session.add(feed)
        session.flush()
    return feed


def add_alert(
    factory,  # type: ignore[no-untyped-def]
    *,
    channel: str = "c",
    rule: str = "r",
    title: str = "Zelensky meets Macron",
    text: str = "Kyiv. President Zelensky met Macron on Monday to discuss security guarantees.",
    link: str | None = "https://news.example/a/1",
    feed_url: str = "https://news.example/rss",
    source: str | None = "Example News",
    evidence: list[dict] | None = None,
    created_at: datetime = NOW,
    published: datetime | None = NOW - timedelta(minutes=5),
    priority: str = "normal",
    delivery: str = "instant",
    article_id: int | None = None,
) -> int:
    """Insert feed, article, match and a pending alert row as the store would; its id."""
    if evidence is None:
        evidence = [{"term": "zelensky", "surface": "Zelensky", "field": "text", "score": 100}]
    with session_scope(factory) as s:
        if article_id is None:
            feed = _feed(s, feed_url, source)
            art = ArticleRow(
                feed_id=feed.id,
                guid=f"g{s.scalar(select(ArticleRow.id).order_by(ArticleRow.id.desc())) or 0}-{title[:20]}",
                link=link,
                canonical_link=None,
                title=title,
                text=text,
                language="en",
                published_at=published,
                first_seen_at=created_at,
            )
            s.add(art)
            s.flush()
            art.story_id = art.id  # a story of its own, as the store makes it
            article_id = art.id
        if (
            s.scalar(
                select(MatchRow.id).where(MatchRow.rule == rule, MatchRow.article_id == article_id)
            )
            is None
        ):
            s.add(
                MatchRow(rule=rule, article_id=article_id, evidence=evidence, created_at=created_at)
            )
            s.flush()
        row = AlertRow(
            rule=rule,
            article_id=article_id,
            channel=channel,
            status="pending",
            delivery=delivery,
            priority=priority,
            attempts=0,
            next_attempt_at=created_at,
            created_at=created_at,
        )
        s.add(row)
        s.flush()
        return row.id


def add_sighting(factory, article_id: int, feed_url: str) -> None:  # type: ignore[no-untyped-def]
    """Record that another feed carried the article."""
    with session_scope(factory) as s:
        feed = _feed(s, feed_url, None)
        s.add(SightingRow(article_id=article_id, feed_id=feed.id, seen_at=NOW))


def alert_row(factory, alert_id: int) -> AlertRow:  # type: ignore[no-untyped-def]
    """The alert row as stored now."""
    with factory() as s:
        return s.get(AlertRow, alert_id)


def article_of(factory, alert_id: int) -> int:  # type: ignore[no-untyped-def]
    return alert_row(factory, alert_id).article_id


def notices(factory) -> list[OperatorNoticeRow]:  # type: ignore[no-untyped-def]
    """Every operator notice row."""
    with factory() as s:
        return list(s.scalars(select(OperatorNoticeRow).order_by(OperatorNoticeRow.id)))


class FakeClock:
    """A monotonic clock that only moves when slept on: pacing without waiting."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def monotonic(self) -> float:
        return self.t

    def kw(self) -> dict:
        return {"sleep": self.sleep, "monotonic": self.monotonic}


def fast() -> dict:
    """deliver_due keyword arguments for a fresh fake clock."""
    return FakeClock().kw()


@dataclass
class TelegramStub:
    """The Telegram Bot API on a LocalServer: answers queued, requests kept."""

    server: LocalServer
    answers: deque[tuple[int, dict]] = field(default_factory=deque)
    next_id: int = 100

    @property
    def path(self) -> str:
        return f"/bot{BOT_TOKEN}/sendMessage"

    def url(self, chat: str = "4242", **query: str) -> str:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"tgram://{BOT_TOKEN}/{chat}" + (f"?{qs}" if qs else "")

    def answer(self, req: Request) -> Response:
        if self.answers:
            status, body = self.answers.popleft()
        else:
            self.next_id += 1
            status, body = 200, {"ok": True, "result": {"message_id": self.next_id}}
        return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def payloads(self) -> list[dict]:
        return [json.loads(r.body) for r in self.server.hits(self.path)]


@pytest.fixture
def telegram(http_server, monkeypatch) -> TelegramStub:  # type: ignore[no-untyped-def]
    """A Telegram stand-in; apprise's NotifyTelegram.notify_url points at it."""
    stub = TelegramStub(http_server)
    http_server.route(stub.path, stub.answer)
    monkeypatch.setattr(NotifyTelegram, "notify_url", http_server.url("/bot"))
    return stub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Collect:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    handler: _Collect
    user: str = "monitor"
    password: str = "s3cret-Passw0rd"

    def url(self, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return (
            f"mailto://{self.user}:{pw}@127.0.0.1:{self.port}?mode=insecure"
            "&from=monitor@example.com&to=desk@example.org&smtp=127.0.0.1"
        )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real aiosmtpd server on 127.0.0.1 with plain AUTH (no TLS) and one user."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    handler = _Collect()
    box = SmtpServer(free_port(), handler)

    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = auth_data.login == box.user.encode() and auth_data.password == box.password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: reply 535 on failure

    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=check,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
