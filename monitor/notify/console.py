"""The ``console://`` apprise notification: alerts printed to stdout, no account needed."""

from __future__ import annotations

import sys
import threading

import apprise
from apprise.manager_plugins import NotificationManager

SCHEMA = "console"
_lock = threading.Lock()


def _print_alert(body: str, title: str, *args: object, **kwargs: object) -> bool:
    """Write one notification to the current stdout, title first."""
    text = f"{title}\n{body}" if title else body
    print(f"{text}\n", file=sys.stdout, flush=True)
    return True


def register_console() -> None:
    """Make ``console://`` a known apprise URL. Idempotent and thread-safe."""
    with _lock:
        if SCHEMA in NotificationManager():
            return
        apprise.decorators.notify(on=SCHEMA, name="press-monitor console")(_print_alert)
