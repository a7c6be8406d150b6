"""Telegram Bot API sending, with the Bot API's answer kept.

apprise parses and validates the ``tgram://`` URL (bot token, chat ids, topic, flags)
and its ``NotifyTelegram.notify_url`` names the API endpoint, but apprise's Telegram
plugin only returns True/False: it drops the HTTP status, the ``retry_after`` of a 429
and the ``message_id``. We need all three (honour the server's back-off, tell a
permanent 400/403 from a passing 5xx, record the message id), so the one
``sendMessage`` request is made here with httpx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import apprise
import httpx
from apprise.plugins.telegram import NotifyTelegram

from monitor.errors import DeliveryError
from monitor.log import event
from monitor.notify.format import Message
from monitor.secrets import mask_text

log = logging.getLogger(__name__)
TIMEOUT_S = 15.0
PERMANENT_STATUSES = (400, 401, 403, 404)


def parse_telegram_url(url: str) -> NotifyTelegram:
    """The apprise Telegram object for ``url``; DeliveryError(permanent) when invalid."""
    obj = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not isinstance(obj, NotifyTelegram):
        raise DeliveryError("telegram: the channel URL is not a valid tgram:// URL", permanent=True)
    if not obj.targets:
        raise DeliveryError("telegram: the channel URL names no chat id", permanent=True)
    return obj


def is_group_chat(url: str) -> bool:
    """True when any chat of the URL is a group (negative id): stricter rate limit."""
    try:
        targets = parse_telegram_url(url).targets
    except DeliveryError:
        return False
    return any(str(chat).startswith("-") for chat, _topic in targets)


def send_telegram(
    url: str,
    message: Message,
    done: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> str:
    """Send ``message`` to every chat of ``url``; return "chat:message_id,..." for all.

    ``done`` holds "chat:message_id" entries of chats that already have this message
    (an earlier attempt failed on a later chat): they are skipped. ``progress`` gets the
    list so far after each chat, so the caller can record it before the next request.
    Raises :class:`DeliveryError` with ``retry_after_s`` on 429, ``permanent`` on 4xx.
    A "message is too long" answer is retried once with ``message.short_body``.
    """
    obj = parse_telegram_url(url)
    endpoint = f"{type(obj).notify_url}{obj.bot_token}/sendMessage"
    ids = list(done)
    delivered = {entry.rpartition(":")[0] for entry in done}
    with httpx.Client(timeout=timeout_s) as client:
        for chat_id, topic in obj.targets:
            chat = f"{chat_id}/{topic}" if topic else str(chat_id)
            if chat in delivered:
                continue
            payload = _payload(obj, chat_id, topic, message.body)
            answered = _replied(message.reply_to, chat)
            if answered is not None:  # a reply to the story's first alert in this chat
                payload["reply_parameters"] = {
                    "message_id": answered,
                    "allow_sending_without_reply": True,  # sent even if it was deleted
                }
            try:
                msg_id = _post(client, endpoint, payload, message.short_body)
            except httpx.HTTPError as exc:
                detail = mask_text(f"{type(exc).__name__}: {exc}", (obj.bot_token,))
                raise DeliveryError(f"telegram: network error: {detail}") from exc
            ids.append(f"{chat}:{msg_id}")
            if progress is not None:
                progress(",".join(ids))
    return ",".join(ids)


def _replied(reply_to: str | None, chat: str) -> int | None:
    """The message id ``chat`` has in ``reply_to`` ("chat:id,chat:id"), if any."""
    for entry in (reply_to or "").split(","):
        where, _, message_id = entry.rpartition(":")
        if where == chat and message_id.isdigit():
            return int(message_id)
    return None


def _payload(
    obj: NotifyTelegram, chat_id: int | str, topic: object, text: str
) -> dict[str, object]:
    payload: dict[str, object] = {
        "chat_id": chat_id,
        "text": text,
        "parse_mode": "HTML",
        "disable_web_page_preview": not obj.preview,
        "disable_notification": bool(obj.silent),
    }
    if topic:
        payload["message_thread_id"] = topic
    return payload


def _post(
    client: httpx.Client, endpoint: str, payload: dict[str, object], short_body: str | None
) -> str:
    resp = client.post(endpoint, json=payload)
    data = _json(resp)
    if resp.status_code == 200 and data.get("ok"):
        return str((data.get("result") or {}).get("message_id", ""))
    description = str(data.get("description") or resp.reason_phrase or "no description")
    if resp.status_code == 400 and "too long" in description.lower() and short_body:
        event(log, "telegram.too_long", level=logging.WARNING, chat_id=payload["chat_id"])
        return _post(client, endpoint, {**payload, "text": short_body}, None)
    if resp.status_code == 429:
        retry = (data.get("parameters") or {}).get("retry_after")
        retry_s = float(retry) if isinstance(retry, int | float) else 30.0
        raise DeliveryError(f"telegram: 429 {description}", retry_after_s=retry_s)
    migrated = (data.get("parameters") or {}).get("migrate_to_chat_id")
    if migrated:  # the group became a supergroup: the URL needs the new id
        description += f" (the chat id is now {migrated}: update the channel URL)"
    raise DeliveryError(
        f"telegram: {resp.status_code} {description}",
        permanent=resp.status_code in PERMANENT_STATUSES,
    )


def _json(resp: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object (values as the Bot API sent them), or {}."""
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
