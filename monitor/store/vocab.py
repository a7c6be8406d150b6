"""Closed sets of values stored as strings, read back as their ``Literal`` types. No I/O.

The database holds ``alerts.status``, ``alerts.priority``, ``alerts.delivery``, ``alerts.kind`` and
``feeds.error_kind`` as plain strings, written only from the ``Literal`` types of
:mod:`monitor.records` and :mod:`monitor.errors`. Reading them, :func:`one_of` checks the
value really is one of the set instead of trusting it blindly.
"""

from __future__ import annotations

from typing import TypeVar

from monitor.errors import FETCH_ERROR_KINDS, FetchErrorKind
from monitor.records import (
    ALERT_KINDS,
    ALERT_STATUSES,
    DELIVERY_MODES,
    PRIORITIES,
    AlertKind,
    AlertStatus,
    DeliveryMode,
    Priority,
)

L = TypeVar("L", bound=str)


def one_of(value: str, allowed: tuple[L, ...], column: str) -> L:
    """``value`` (read from ``column``) as a member of ``allowed``; ValueError otherwise."""
    for option in allowed:
        if value == option:
            return option
    raise ValueError(f"{column} holds {value!r}, not one of: {', '.join(allowed)}")


def alert_status(value: str) -> AlertStatus:
    """An ``alerts.status`` value."""
    return one_of(value, ALERT_STATUSES, "alerts.status")


def priority(value: str) -> Priority:
    """An ``alerts.priority`` value."""
    return one_of(value, PRIORITIES, "alerts.priority")


def delivery_mode(value: str) -> DeliveryMode:
    """An ``alerts.delivery`` value."""
    return one_of(value, DELIVERY_MODES, "alerts.delivery")


def alert_kind(value: str) -> AlertKind:
    """An ``alerts.kind`` value."""
    return one_of(value, ALERT_KINDS, "alerts.kind")


def error_kind(value: str) -> FetchErrorKind:
    """A ``feeds.error_kind`` value."""
    return one_of(value, FETCH_ERROR_KINDS, "feeds.error_kind")
