"""sd_notify against a real AF_UNIX datagram socket, and the watchdog gate."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from monitor.daemon.sdnotify import Notifier, WatchdogGate, WatchdogPinger, monotonic_usec


class Listener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2)

    def receive(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def nothing_pending(self) -> bool:
        self.sock.settimeout(0.05)
        try:
            self.sock.recv(4096)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(2)
        return False


@pytest.fixture
def listener(tmp_path) -> Iterator[tuple[Listener, str]]:
    """A notify socket on a filesystem path; yields it and the $NOTIFY_SOCKET value."""
    path = str(tmp_path / "notify.sock")
    lst = Listener(path)
    yield lst, path
    lst.sock.close()


def test_ready_status_watchdog_and_stopping_arrive_as_datagrams(listener) -> None:
    """Every notification is one datagram of KEY=VALUE lines on the socket."""
    lst, path = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.ready()
    assert lst.receive() == {"READY": "1"}
    assert n.status("polling 12 feeds\nnext in 30 s")
    assert lst.receive() == {"STATUS": "polling 12 feeds next in 30 s"}
    assert n.watchdog()
    assert lst.receive() == {"WATCHDOG": "1"}
    assert n.stopping()
    assert lst.receive() == {"STOPPING": "1"}
    n.close()


def test_ready_can_carry_a_status_line(listener) -> None:
    """``ready(status)`` sends READY=1 and STATUS= together."""
    lst, path = listener
    Notifier({"NOTIFY_SOCKET": path}).ready("3 feeds, 2 rules")
    assert lst.receive() == {"READY": "1", "STATUS": "3 feeds, 2 rules"}


def test_reloading_sends_monotonic_usec_of_now(listener) -> None:
    """RELOADING=1 comes with MONOTONIC_USEC on CLOCK_MONOTONIC (systemd >= 253 needs it)."""
    lst, path = listener
    before = monotonic_usec()
    Notifier({"NOTIFY_SOCKET": path}).reloading()
    msg = lst.receive()
    after = monotonic_usec()
    assert msg["RELOADING"] == "1"
    assert before <= int(msg["MONOTONIC_USEC"]) <= after


def test_abstract_socket_written_with_at_sign_is_reached() -> None:
    """``@name`` means the Linux abstract namespace (a leading NUL byte)."""
    name = f"press-monitor-test-{uuid.uuid4().hex}"
    lst = Listener(b"\0" + name.encode())
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert lst.receive() == {"WATCHDOG": "1"}
    finally:
        lst.sock.close()


def test_everything_is_a_no_op_without_notify_socket() -> None:
    """Not started by systemd: nothing is sent and nothing fails."""
    n = Notifier({})
    assert n.ready() is False
    assert n.watchdog() is False
    assert n.watchdog_interval_s() is None


def test_a_vanished_socket_is_reported_not_raised(tmp_path) -> None:
    """A send to a socket that is gone returns False instead of killing the daemon."""
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.ready() is False


@pytest.mark.parametrize(
    ("env", "pid", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 42, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, 42, None),
        ({"WATCHDOG_USEC": "soon"}, 42, None),
        ({}, 42, None),
    ],
)
def test_watchdog_interval_from_environment(env, pid, expected) -> None:
    """$WATCHDOG_USEC gives the interval only for the process $WATCHDOG_PID names."""
    assert Notifier(env, pid=pid).watchdog_interval_s() == expected


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([], 5.0, True),  # nothing ran yet, no idle limit given below
        ([("start", 0.0)], 59.0, True),  # running, within the stall limit
        ([("start", 0.0)], 61.0, False),  # hung cycle
        ([("start", 0.0), ("finish", 70.0)], 71.0, True),  # slow but finished: progress
        ([("start", 0.0), ("finish", 10.0), ("start", 20.0)], 100.0, False),
        # cycles that raise never finish: the oldest unfinished start counts
        ([("start", 0.0), ("start", 30.0), ("start", 55.0)], 61.0, False),
        ([("start", 0.0), ("start", 30.0), ("finish", 40.0)], 61.0, True),
    ],
)
def test_gate_stops_pinging_when_a_cycle_hangs(events, now, expected) -> None:
    """A cycle running past the stall limit silences the watchdog."""
    gate = WatchdogGate(stall_limit_s=60.0)
    for kind, t in events:
        (gate.cycle_started if kind == "start" else gate.cycle_finished)(t)
    assert gate.should_ping(now) is expected


@pytest.mark.parametrize(("now", "expected"), [(100.0, True), (130.0, True), (131.0, False)])
def test_gate_with_idle_limit_stops_when_no_cycle_starts(now, expected) -> None:
    """With an idle limit, a scheduler that stopped ticking also stops the pings."""
    gate = WatchdogGate(stall_limit_s=60.0, idle_limit_s=30.0, created_at=0.0)
    gate.cycle_started(90.0)
    gate.cycle_finished(100.0)
    assert gate.should_ping(now) is expected


class FakeTime:
    """A monotonic clock that moves only when the pinger waits on it.

    ``wait`` advances the clock by the period asked for, records it, and tells the
    pinger to stop once the clock reaches ``until``: :meth:`WatchdogPinger.run`
    then returns instead of looping forever.
    """

    def __init__(self, now: float = 0.0) -> None:
        self.now, self.until = now, now
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return self.now >= self.until

    def run(self, pinger: WatchdogPinger, until: float) -> int:
        """Run the pinger's loop until the clock reads ``until``; pings sent meanwhile."""
        self.until, before = until, pinger.pings
        pinger.run()
        return pinger.pings - before


def watchdog_env(path: str, usec: int) -> dict[str, str]:
    return {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(usec), "WATCHDOG_PID": str(os.getpid())}


@pytest.mark.parametrize(
    ("usec", "interval_s", "period_s"),
    [
        (10_000_000, None, 4.0),  # PING_FRACTION of $WATCHDOG_USEC
        (10_000_000, 1.5, 1.5),  # an explicit interval wins
        (0, None, 0.0),  # watchdog off
    ],
)
def test_ping_period_is_a_fraction_of_the_watchdog_interval(usec, interval_s, period_s) -> None:
    """Pings come at 0.4 of WatchdogSec, under the half sd_notify(3) asks for."""
    notifier = Notifier(watchdog_env("/run/nowhere.sock", usec))
    pinger = WatchdogPinger(notifier, WatchdogGate(60.0), interval_s=interval_s)
    assert pinger.period_s == pytest.approx(period_s)


def test_pinger_pings_each_period_until_a_cycle_hangs_and_again_when_it_returns(
    listener,
) -> None:
    """The loop waits one period before each ping and asks the gate at its clock's time:
    pings stop once a cycle runs past the stall limit and resume when it finishes."""
    lst, path = listener
    time_ = FakeTime()
    gate = WatchdogGate(stall_limit_s=10.0)
    notifier = Notifier(watchdog_env(path, 10_000_000))  # period 4 s
    pinger = WatchdogPinger(notifier, gate, clock=time_.clock, wait=time_.wait)

    gate.cycle_started(0.0)  # ... and it does not finish
    assert time_.run(pinger, until=20.0) == 2  # at 4 s and 8 s; 12 s is past the limit
    assert time_.waits == [4.0] * 5
    assert [lst.receive(), lst.receive()] == [{"WATCHDOG": "1"}] * 2
    assert lst.nothing_pending()

    gate.cycle_finished(20.0)
    assert time_.run(pinger, until=28.0) == 1  # at 24 s; the wait that reaches 28 s ends it
    assert lst.receive() == {"WATCHDOG": "1"}
    assert pinger.pings == 3


@pytest.mark.parametrize(
    ("now", "pinged"),
    [(129.0, True), (130.0, True), (130.5, False)],
)
def test_ping_once_asks_the_gate_with_the_injected_clock(listener, now, pinged) -> None:
    """One tick: the gate decides at ``clock()``, and only a ping actually sent counts."""
    lst, path = listener
    gate = WatchdogGate(stall_limit_s=60.0, idle_limit_s=30.0, created_at=100.0)
    pinger = WatchdogPinger(Notifier(watchdog_env(path, 10_000_000)), gate, clock=lambda: now)
    assert pinger.ping_once() is pinged
    assert pinger.pings == int(pinged)
    assert lst.nothing_pending() == (not pinged)  # a datagram arrived exactly when pinged


def test_a_ping_that_cannot_be_sent_is_not_counted_and_not_raised(tmp_path) -> None:
    """A vanished notify socket: the tick reports False and the pinger carries on."""
    notifier = Notifier(watchdog_env(str(tmp_path / "gone.sock"), 10_000_000))
    pinger = WatchdogPinger(notifier, WatchdogGate(60.0), clock=lambda: 0.0)
    assert pinger.ping_once() is False
    assert pinger.pings == 0


def test_pinger_thread_pings_and_stops(listener) -> None:
    """The real thread sends WATCHDOG=1 on its own and is gone after ``stop()``."""
    lst, path = listener
    pinger = WatchdogPinger(Notifier(watchdog_env(path, 50_000)), WatchdogGate(60.0))  # 20 ms
    pinger.start()
    thread = pinger._thread
    try:
        assert lst.receive() == {"WATCHDOG": "1"}
    finally:
        pinger.stop()
    assert thread is not None and not thread.is_alive()
    while not lst.nothing_pending():  # drain the pings sent before stop()
        pass
    assert lst.nothing_pending()  # and none after it, for 2.5 periods


def test_pinger_without_watchdog_starts_no_thread() -> None:
    """No $WATCHDOG_USEC: the pinger stays idle."""
    pinger = WatchdogPinger(Notifier({}), WatchdogGate(60.0))
    pinger.start()
    assert pinger._thread is None
    pinger.stop()
