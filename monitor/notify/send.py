"""Send one :class:`Message` to one channel, through apprise (Telegram: see telegram.py).

Every failure becomes a :class:`DeliveryError` whose message names what failed with
secrets masked; nothing else escapes for an expected failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import apprise

from monitor.errors import DeliveryError
from monitor.notify.console import register_console
from monitor.notify.format import BodyFormat, Message
from monitor.notify.telegram import send_telegram
from monitor.records import ChannelConfig
from monitor.secrets import mask_text, url_secrets

SENDER_NAME = "press-monitor"  # the From display name and X-Application of email
_ASSET = apprise.AppriseAsset(app_id=SENDER_NAME)
_FORMATS: dict[BodyFormat, apprise.NotifyFormat] = {
    "html": apprise.NotifyFormat.HTML,
    "text": apprise.NotifyFormat.TEXT,
}


def send_message(
    channel: ChannelConfig,
    message: Message,
    done: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> str | None:
    """Deliver ``message`` on ``channel``; return a message id when the service gives one.

    ``done``/``progress``: per-chat bookkeeping for Telegram URLs naming several chats
    (see :func:`monitor.notify.telegram.send_telegram`); other kinds send in one go.
    Raises only :class:`DeliveryError` (secrets masked): an unexpected exception from a
    plugin is the channel failing, and one bad channel must not stop delivery.
    """
    try:
        return _dispatch(channel, message, done, progress)
    except DeliveryError:
        raise
    except Exception as exc:
        detail = mask_text(f"{type(exc).__name__}: {exc}", url_secrets(channel.url))
        raise DeliveryError(f"unexpected error sending to {channel.masked_url}: {detail}") from exc


def _dispatch(
    channel: ChannelConfig,
    message: Message,
    done: Sequence[str],
    progress: Callable[[str], None] | None,
) -> str | None:
    if channel.kind == "telegram":
        return send_telegram(channel.url, message, done, progress)
    if channel.kind == "console":
        register_console()
    url = with_sender_name(channel.url) if channel.kind == "email" else channel.url
    try:
        _send_apprise(url, message)
    except DeliveryError as exc:
        raise DeliveryError(
            mask_text(exc.message, url_secrets(channel.url)), permanent=exc.permanent
        ) from exc
    return None


def with_sender_name(url: str) -> str:
    """An email URL whose From carries a display name: ``name=press-monitor`` added
    unless the URL names the sender itself (``name=``, or ``from=Desk <desk@x>``)."""
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    if "name" in query or "<" in query.get("from", ""):
        return url
    extra = f"name={SENDER_NAME}"
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _send_apprise(url: str, message: Message) -> None:
    obj = apprise.Apprise.instantiate(url, asset=_ASSET, suppress_exceptions=True)
    if obj is None:
        raise DeliveryError(
            "apprise cannot use the channel URL (unknown or invalid)", permanent=True
        )
    headers = getattr(obj, "headers", None) if message.headers else None
    if isinstance(headers, dict):  # the HTTP-based plugins (json://, ntfy://, ...)
        for key, value in message.headers.items():
            headers.setdefault(key, value)
    sender = apprise.Apprise(asset=_ASSET)
    sender.add(obj)
    with _apprise_log() as records:
        ok = sender.notify(
            body=message.body, title=message.title, body_format=_FORMATS[message.body_format]
        )
    if not ok:
        raise DeliveryError(f"{obj.service_name}: {_failure_detail(records)}")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _apprise_log() -> Iterator[list[logging.LogRecord]]:
    """Collect apprise's log records (debug included) for one send, and keep them out
    of our own log: apprise.LogCapture would lower the level of a logger that still
    propagates, flooding the daemon's log with apprise debug lines."""
    logger = logging.getLogger("apprise")
    handler = _Collect()
    saved = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _failure_detail(records: list[logging.LogRecord]) -> str:
    """apprise's warnings and the exception it swallowed: what actually failed."""
    lines = []
    for record in records:
        text = " ".join(record.getMessage().split())
        if record.levelno >= logging.WARNING or "Exception:" in text:
            lines.append(text)
    return "; ".join(lines[-3:]) or "not delivered"
