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


FAILED_CYCLES_LIMIT = 3  # consecutive failed cycles before /healthz and the watchdog fail


class WatchdogGate:
    """Decides whether the watchdog may be pinged: only while poll cycles progress. No I/O.

    Times are monotonic seconds given by the caller. Call :meth:`cycle_started`
    when a cycle begins and :meth:`cycle_finished` only when it returns (expected
    errors included). A cycle that raises is never finished, so the clock keeps
    running from the oldest unfinished start: a hung cycle and cycles that keep
    crashing both count as a stall once ``stall_limit_s`` has passed. With
    ``idle_limit_s`` set, going that long without any cycle starting (the
    scheduler itself died) is a stall too; that clock starts at ``created_at``.

    A cycle can also *fail* (:meth:`cycle_failed`: it raised, e.g. the database is
    unreadable or locked, or it returned but every feed failed inside press-monitor
    itself). After ``failed_limit`` failed cycles in a row the gate says no at once,
    without waiting for the stall limit, and goes on saying no while the next cycle
    runs; :meth:`problem` says why, for ``/healthz``, ``STATUS=`` and ``monitor
    status``. Only a good cycle clears it.
    """

    def __init__(
        self,
        stall_limit_s: float,
        idle_limit_s: float | None = None,
        created_at: float = 0.0,
        *,
        failed_limit: int = FAILED_CYCLES_LIMIT,
    ) -> None:
        self.stall_limit_s = stall_limit_s
        self.idle_limit_s = idle_limit_s
        self.failed_limit = failed_limit
        self._unfinished_since: float | None = None
        self._last_activity = created_at
        self._failed = 0
        self._failure: str | None = None
        self._failed_on_database = False
        self._lock = threading.Lock()

    def cycle_started(self, now: float) -> None:
        """A poll cycle began."""
        with self._lock:
            if self._unfinished_since is None:
                self._unfinished_since = now
            self._last_activity = now

    def cycle_finished(self, now: float) -> None:
        """A poll cycle returned and did its work: progress."""
        with self._lock:
            self._unfinished_since = None
            self._last_activity = now
            self._failed, self._failure, self._failed_on_database = 0, None, False

    def cycle_idle(self, now: float) -> None:
        """A poll cycle returned with nothing due: activity, but neither a success nor a
        failure (a failing streak goes on; the failed feeds are backing off). Unless
        the last failure was the database's: an idle cycle has written the database
        (its heartbeat), which shows it works again. Under a lock even the cycles with
        nothing due fail (they open with a write), so once it is let go the next
        cycles are often idle ones, for as long as no feed is due (minutes)."""
        with self._lock:
            self._unfinished_since = None
            self._last_activity = now
            if self._failed_on_database:
                self._failed, self._failure, self._failed_on_database = 0, None, False

    @property
    def failure(self) -> str | None:
        """The reason of the last failed cycle while failed cycles are not followed by a
        good one; None otherwise."""
        with self._lock:
            return self._failure

    @property
    def failure_after_idle(self) -> str | None:
        """The failure that an idle cycle would leave standing (:meth:`cycle_idle`)."""
        with self._lock:
            return None if self._failed_on_database else self._failure

    def cycle_failed(self, now: float, reason: str, *, database: bool = False) -> None:
        """A poll cycle raised or achieved nothing because of ``reason`` (one line);
        ``database``: it failed on the database itself (see :meth:`cycle_idle`)."""
        with self._lock:
            self._unfinished_since = None
            self._last_activity = now
            self._failed += 1
            self._failure = reason
            self._failed_on_database = database

    def should_ping(self, now: float) -> bool:
        """True while no cycle is overdue, cycles do not keep failing, and the
        scheduler keeps starting cycles."""
        return self.problem(now) is None

    is_progressing = should_ping  # the same answer serves /healthz

    def problem(self, now: float) -> str | None:
        """Why the daemon is not healthy, in one line; None when it is."""
        with self._lock:
            if self._unfinished_since is not None:
                running = now - self._unfinished_since
                if running > self.stall_limit_s:
                    return f"a poll cycle has not finished for {running:.0f} s"
            # A cycle that runs has not succeeded yet: it never clears a failing streak.
            # (It did, and every failing cycle that was soon followed by the next one
            # -- each waiting on a locked database -- kept the pings going: issue 13.)
            if self._failed >= self.failed_limit:
                return f"the last {self._failed} poll cycles failed: {self._failure}"
            if self._unfinished_since is not None:
                return None
            if self.idle_limit_s is not None and now - self._last_activity > self.idle_limit_s:
                return f"no poll cycle started for {now - self._last_activity:.0f} s"
            return None


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
