"""The one exception tree of press-monitor.

Expected errors (a broken feed, an unreachable channel) are recorded and the loop
goes on; anything not derived from :class:`MonitorError` is unexpected and
propagates (systemd restarts us). The CLI turns these into messages and exit codes.
"""

from __future__ import annotations

from typing import Literal, get_args


class MonitorError(Exception):
    """Base of every expected press-monitor error."""


class ConfigError(MonitorError):
    """The config file is missing or invalid.

    ``path`` is the file, ``key`` the dotted key (``rules[2].query``), ``line`` the
    1-based line when known. ``str()`` gives one line a person can act on.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.key = key
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.message}"


class QueryError(MonitorError):
    """A rule query does not parse, or names an unknown @group."""

    def __init__(
        self, message: str, *, rule: str | None = None, position: int | None = None
    ) -> None:
        self.message = message
        self.rule = rule
        self.position = position
        super().__init__(
            message if position is None else f"{message} (at character {position + 1})"
        )


# Fetch errors: a small closed set of kinds, each with an actionable message.
FetchErrorKind = Literal[
    "timeout",
    "network",
    "file",  # a local feed file that cannot be read (missing, unreadable, a directory)
    "tls",
    "http_status",
    "rate_limited",
    "too_large",
    "redirect_loop",
    "private_address",  # a redirect or article page on an address the feed may not reach
    "not_a_feed",
    "parse_error",
    # A bug or an unforeseen input inside one feed's poll: recorded on that feed (the
    # traceback goes to the log) so the cycle goes on; see monitor.pipeline.
    "internal",
]
FETCH_ERROR_KINDS: tuple[FetchErrorKind, ...] = get_args(FetchErrorKind)


class FetchError(MonitorError):
    """Fetching or parsing a feed failed; ``kind`` is one of :data:`FETCH_ERROR_KINDS`."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        if kind not in FETCH_ERROR_KINDS:
            raise ValueError(f"unknown fetch error kind {kind!r}")
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{kind}: {message}")


class DeliveryError(MonitorError):
    """A channel did not accept an alert. The message never contains secrets."""

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, permanent: bool = False
    ) -> None:
        self.message = message
        self.retry_after_s = retry_after_s
        self.permanent = permanent
        super().__init__(message)


class StaleSchemaError(MonitorError):
    """The database schema is older or newer than this version of press-monitor."""


class DatabaseError(MonitorError):
    """The database cannot be opened, created or migrated (path, permissions, server)."""


class DatabaseBusyError(DatabaseError):
    """A write waited the whole busy timeout for a lock another connection held: the
    database itself is fine, and the same write may succeed once the lock is let go."""


class MigrationRefusedError(MonitorError):
    """``monitor db migrate-to`` will not copy: the target holds other data, the source
    changed since an earlier run, a daemon uses the source. Nothing was changed (exit 2)."""
