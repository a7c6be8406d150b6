"""systemd notification protocol (``sd_notify``) and the watchdog gate.

:class:`Notifier` sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``RELOADING=1``,
``STOPPING=1`` as datagrams to ``$NOTIFY_SOCKET`` (a path, or an abstract socket
written ``@name``); with the variable unset (not started by systemd) every call is a
no-op. See sd_notify(3) and systemd.service(5) ``Type=notify`` / ``WatchdogSec=``.

:class:`WatchdogGate` is the pure decider behind the pings: ping only while poll
cycles make progress, so a hung cycle silences the watchdog and systemd restarts
us (``Restart=on-failure``). No I/O in the gate. :class:`WatchdogPinger` is the
small thread that asks the gate and pings every ``PING_FRACTION`` of the watchdog
interval.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

# sd_notify(3) recommends pinging at half the interval; a little less leaves room
# for a busy machine.
PING_FRACTION = 0.4


class Notifier:
    """Talks to systemd's notify socket; every method is a no-op when it is unset.

    ``environ`` defaults to ``os.environ``; ``pid`` (default ``os.getpid()``) is
    compared with ``$WATCHDOG_PID``. Send failures are swallowed and reported by the
    return value: a lost notification must not kill the daemon (systemd notices).
    """

    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = env.get("WATCHDOG_USEC", "")
        self._watchdog_pid = env.get("WATCHDOG_PID", "")
        self._pid = os.getpid() if pid is None else pid
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True when sent."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._sock.sendto(payload, self._address)
            except OSError:
                self._close_locked()
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup finished: ``READY=1`` (with an optional status line)."""
        return self.notify("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        """Free-form status shown by ``systemctl status``."""
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """Keep-alive ping: ``WATCHDOG=1``."""
        return self.notify("WATCHDOG=1")

    def reloading(self) -> bool:
        """Reload started (``RELOADING=1`` + ``MONOTONIC_USEC``); send :meth:`ready` when done."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")

    def stopping(self) -> bool:
        """Shutdown started: ``STOPPING=1``."""
        return self.notify("STOPPING=1")

    def watchdog_interval_s(self) -> float | None:
        """``$WATCHDOG_USEC`` in seconds, or None when the watchdog is off or meant for another pid."""
        if self._watchdog_pid and self._watchdog_pid != str(self._pid):
            return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            return None
        return usec / 1_000_000 if usec > 0 else None

    def close(self) -> None:
        """Close the socket (further calls reopen it)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd expects in ``MONOTONIC_USEC``."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _socket_address(value: str) -> str | bytes | None:
    """``/run/systemd/notify`` as is; ``@name`` -> abstract ``b"\\0name"``; else None."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode("utf-8")
    if value.startswith("/"):
        return value
    return None  # unset, or a vsock address we do not speak


def _one_line(text: str) -> str:
    return " ".join(text.split())


class WatchdogGate:
    """Decides whether the watchdog may be pinged: only while poll cycles progress. No I/O.

    Times are monotonic seconds given by the caller. Call :meth:`cycle_started`
    when a cycle begins and :meth:`cycle_finished` only when it returns (expected
    errors included). A cycle that raises is never finished, so the clock keeps
    running from the oldest unfinished start: a hung cycle and cycles that keep
    crashing both count as a stall once ``stall_limit_s`` has passed. With
    ``idle_limit_s`` set, going that long without any cycle starting (the
    scheduler itself died) is a stall too; that clock starts at ``created_at``.
    """

    def __init__(
        self, stall_limit_s: float, idle_limit_s: float | None = None, created_at: float = 0.0
    ) -> None:
        self.stall_limit_s = stall_limit_s
        self.idle_limit_s = idle_limit_s
        self._unfinished_since: float | None = None
        self._last_activity = created_at
        self._lock = threading.Lock()

    def cycle_started(self, now: float) -> None:
        """A poll cycle began."""
        with self._lock:
            if self._unfinished_since is None:
                self._unfinished_since = now
            self._last_activity = now

    def cycle_finished(self, now: float) -> None:
        """A poll cycle returned: progress."""
        with self._lock:
            self._unfinished_since = None
            self._last_activity = now

    def should_ping(self, now: float) -> bool:
        """True while no cycle is overdue and the scheduler keeps starting cycles."""
        with self._lock:
            if self._unfinished_since is not None:
                return now - self._unfinished_since <= self.stall_limit_s
            if self.idle_limit_s is None:
                return True
            return now - self._last_activity <= self.idle_limit_s

    is_progressing = should_ping  # the same answer serves /healthz


class WatchdogPinger:
    """A daemon thread that pings ``notifier.watchdog()`` while ``gate.should_ping``.

    Pings every ``PING_FRACTION`` of the watchdog interval (or every ``interval_s``);
    does nothing when the watchdog is off. ``clock`` is the monotonic clock fed to
    the gate. ``wait(seconds)`` blocks for up to ``seconds`` and returns True when
    pinging should end; it defaults to the stop event's ``wait``, so :meth:`stop`
    wakes it. With a fake clock and a fake ``wait``, :meth:`run` and
    :meth:`ping_once` make the same decisions as the thread without sleeping.
    """

    def __init__(
        self,
        notifier: Notifier,
        gate: WatchdogGate,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        watchdog = notifier.watchdog_interval_s()
        self.period_s = interval_s if interval_s is not None else (watchdog or 0) * PING_FRACTION
        self._notifier, self._gate, self._clock = notifier, gate, clock
        self._stop = threading.Event()
        self._wait = self._stop.wait if wait is None else wait
        self._thread: threading.Thread | None = None
        self.pings = 0

    def start(self) -> None:
        """Start pinging (no thread when the watchdog is off)."""
        if self.period_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self.run, name="sd-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop pinging and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def run(self) -> None:
        """The thread's body: wait one period, :meth:`ping_once`, until ``wait`` says stop."""
        while not self._wait(self.period_s):
            self.ping_once()

    def ping_once(self) -> bool:
        """Ask the gate at ``clock()`` and ping if it allows; True when a ping was sent."""
        if self._gate.should_ping(self._clock()) and self._notifier.watchdog():
            self.pings += 1
            return True
        return False
