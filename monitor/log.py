"""Structured logging: one event per outcome, stable snake_case keys with units.

``event(log, "feed.polled", feed_url=url, status="ok", new=3, duration_ms=412)``
renders as ``level=info event=feed.polled feed_url=... status=ok new=3 duration_ms=412``
(text) or one JSON object per line (``--log-format json``). Everything that reaches
the output, tracebacks and other libraries' records included, passes through
:func:`monitor.secrets.mask_text`; a field whose name says it is a secret
(``password``, ``token``, ...) is masked whole. Uncaught exceptions in the main
thread and in other threads are logged the same way (``process.crashed``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, get_args

from monitor.secrets import MASK, mask_text

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
LogLevel = Literal["debug", "info", "warning", "error"]
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)
_SECRET_FIELD = re.compile(r"(?i)(password|passwd|secret|token|api_?key|credential)$")
_QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "apscheduler",
    "alembic",
    "apprise",
    "urllib3",
    "pymorphy3",
    "trafilatura",
    "htmldate",
)


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    """The fields :func:`event` attached; other libraries' records have none."""
    return getattr(record, "fields", None) or {}


def _field_value(key: str, value: Any) -> Any:
    """Mask a secret-named field whole; keep numbers and booleans typed."""
    if _SECRET_FIELD.search(key) and value is not None:
        return MASK
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_text(str(value))


def _fmt(value: Any) -> str:
    s = str(value)
    if s == "" or any(c.isspace() or c in '="' for c in s):
        return json.dumps(s, ensure_ascii=False)
    return s


# sd-daemon(3) priority prefixes: journald reads "<4>" at the start of a stderr line as
# PRIORITY=4 (SyslogLevelPrefix=, on by default), so `journalctl -p warning` works.
_SYSLOG_PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


def with_priority(record: logging.LogRecord, text: str) -> str:
    """``text`` with the journal priority prefix of ``record`` on each of its lines."""
    prefix = f"<{_SYSLOG_PRIORITY.get(record.levelname, 6)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


class TextFormatter(logging.Formatter):
    """``level=info event=name key=value ...``; ``ts=`` first unless journald adds time.

    With ``journal`` every line starts with its sd-daemon priority prefix (``<4>``)."""

    def __init__(self, timestamps: bool = True, *, journal: bool = False) -> None:
        super().__init__()
        self.timestamps = timestamps
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"ts={_iso(record.created)}"] if self.timestamps else []
        parts.append(f"level={record.levelname.lower()}")
        if hasattr(record, "fields"):
            parts.append(f"event={_fmt(mask_text(record.getMessage()))}")
        else:  # another library's record: its message is free text
            parts += [f"logger={record.name}", f"msg={_fmt(mask_text(record.getMessage()))}"]
        parts += [f"{k}={_fmt(_field_value(k, v))}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + mask_text(self.formatException(record.exc_info))
        return with_priority(record, line) if self.journal else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``event``, the fields, ``exception``;
    with ``journal``, behind its sd-daemon priority prefix (``<3>{...}``)."""

    def __init__(self, *, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _iso(record.created), "level": record.levelname.lower()}
        if hasattr(record, "fields"):
            out["event"] = mask_text(record.getMessage())
        else:
            out["logger"], out["msg"] = record.name, mask_text(record.getMessage())
        for k, v in _fields(record).items():
            out[k] = _field_value(k, v)
        if record.exc_info:
            out["exception"] = mask_text(self.formatException(record.exc_info))
        line = json.dumps(out, ensure_ascii=False)
        return with_priority(record, line) if self.journal else line


def _iso(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


def event(
    log: logging.Logger,
    name: str,
    level: int = logging.INFO,
    *,
    exc_info: BaseException | None = None,
    **fields: Any,
) -> None:
    """Log one structured event ``name`` with ``fields`` (and ``exc_info``'s traceback,
    masked like every other part of the line)."""
    if log.isEnabledFor(level):
        log.log(level, name, exc_info=exc_info, extra={"fields": fields})


def setup_logging(fmt: LogFormat = "text", level: LogLevel = "info") -> None:
    """Send log events to stderr in ``text`` or ``json``; route uncaught exceptions there too.

    Text lines carry a ``ts=`` unless stderr is the journal (it timestamps lines itself);
    on the journal every line carries its priority prefix, so ``journalctl -p warning``
    shows the daemon's warnings and errors.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    journal = stderr_is_journal()
    formatter: logging.Formatter = (
        JsonFormatter(journal=journal)
        if fmt == "json"
        else TextFormatter(not journal, journal=journal)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in _QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_uncaught


def stderr_is_journal(environ: Mapping[str, str] | None = None) -> bool:
    """True when stderr is connected to journald (``$JOURNAL_STREAM`` names its device:inode)."""
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("monitor").critical(
        "process.crashed", exc_info=(exc_type, exc, tb), extra={"fields": {"thread": "main"}}
    )


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger("monitor").critical(
        "process.crashed",
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        extra={"fields": {"thread": name}},
    )
