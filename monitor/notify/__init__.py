"""Sending alerts: formatting per channel kind, apprise (and Telegram) sending, the
``console://`` notification, rate limits, quiet hours and digests.

The database side (claiming, marking) is :mod:`monitor.store.outbox`; the cycle that ties
them together is :mod:`monitor.delivery`.
"""

from monitor.notify.console import register_console
from monitor.notify.format import Message, channel_kind, render_alert, render_digest
from monitor.notify.send import send_message

__all__ = [
    "Message",
    "channel_kind",
    "register_console",
    "render_alert",
    "render_digest",
    "send_message",
]
