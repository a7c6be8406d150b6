"""Structured logging: one event per outcome, stable snake_case keys with units.

``event(log, "feed.polled", feed_url=url, status="ok", new=3, duration_ms=412)``
renders as ``event=feed.polled feed_url=... status=ok new=3 duration_ms=412`` (text)
or one JSON object per line (``--log-format json``). Values pass through
:func:`monitor.secrets.mask_text` so secrets never reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from monitor.secrets import mask_text

_SECRETS: list[str] = []


def register_secret(value: str) -> None:
    """Remember a literal secret (token, password) so every log line masks it."""
    if value and len(value) >= 4 and value not in _SECRETS:
        _SECRETS.append(value)


def _fmt(value: Any) -> str:
    s = str(value)
    if s == "" or any(c.isspace() or c in '="' for c in s):
        return json.dumps(s, ensure_ascii=False)
    return s


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        head = f"level={record.levelname.lower()} event={record.getMessage()}"
        body = " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        line = f"{head} {body}" if body else head
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask_text(line, tuple(_SECRETS))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"level": record.levelname.lower(), "event": record.getMessage()}
        for k, v in (getattr(record, "fields", None) or {}).items():
            out[k] = v if isinstance(v, int | float | bool) or v is None else str(v)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return mask_text(json.dumps(out, ensure_ascii=False), tuple(_SECRETS))


def event(log: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event ``name`` with ``fields``."""
    if log.isEnabledFor(level):
        log.log(level, name, extra={"fields": fields})


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    """Send log events to stderr (journald adds timestamps) in ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "apprise"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
