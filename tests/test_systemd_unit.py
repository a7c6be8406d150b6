"""contrib/press-monitor.service: ``systemd-analyze verify`` passes, the offline
security exposure is at most 2.0, the settings the daemon relies on are there, and
MemoryDenyWriteExecute= does not break the Python stack.

``verify`` insists that ExecStart's binary exists, and on a developer machine
/opt/press-monitor/venv/bin/monitor does not: the test checks a temporary copy
whose ExecStart binary is rewritten to this interpreter (arguments unchanged).
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "contrib" / "press-monitor.service"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is absent (Debian/Ubuntu: apt-get install systemd)",
)


def unit_settings() -> dict[str, list[str]]:
    """Every ``Key=value`` of the unit, repeated keys kept in order."""
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.fixture
def checkable_unit(tmp_path) -> Path:
    """A copy of the unit whose ExecStart binary exists on this machine."""
    text = UNIT.read_text()
    text = text.replace(
        "ExecStart=/opt/press-monitor/venv/bin/monitor ", f"ExecStart={sys.executable} "
    )
    assert f"ExecStart={sys.executable} --config /etc/press-monitor/config.toml run" in text
    copy = tmp_path / "press-monitor.service"
    copy.write_text(text)
    return copy


@needs_analyze
def test_unit_passes_systemd_analyze_verify(checkable_unit) -> None:
    """``systemd-analyze verify`` reports nothing and exits 0."""
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "press-monitor.service" not in proc.stderr, proc.stderr  # no warnings about the unit


@needs_analyze
def test_unit_security_exposure_is_at_most_2(checkable_unit) -> None:
    """``systemd-analyze security --offline=yes`` scores the unit <= 2.0 (a naive unit: 9.6)."""
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"Overall exposure level for press-monitor\.service: (\d+\.\d+)", proc.stdout)
    assert found, proc.stdout[-2000:]
    assert float(found.group(1)) <= MAX_EXPOSURE, proc.stdout


@needs_analyze
def test_a_naive_unit_scores_high(tmp_path) -> None:
    """The scorer is not trivially lenient: the same service without hardening is exposed."""
    naive = tmp_path / "naive.service"
    naive.write_text(f"[Service]\nType=notify\nExecStart={sys.executable} -c pass\n")
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(naive)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for naive\.service: (\d+\.\d+)", proc.stdout)
    assert found and float(found.group(1)) > 9.0


def test_unit_has_what_the_daemon_relies_on() -> None:
    """Notify + watchdog, reload by SIGHUP, bounded restarts, state dir, secrets, hardening."""
    s = unit_settings()
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify"
    assert (
        one["ExecStart"]
        == "/opt/press-monitor/venv/bin/monitor --config /etc/press-monitor/config.toml run"
    )
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["Restart"] == "on-failure"
    assert one["WatchdogSec"] and one["StartLimitIntervalSec"] and one["StartLimitBurst"]
    assert one["StateDirectory"] == "press-monitor"
    assert one["LoadCredential"].startswith("press-monitor:/etc/press-monitor/credentials")
    assert one["EnvironmentFile"].startswith("-")
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallArchitectures": "native",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "UMask": "0077",
        "MemoryDenyWriteExecute": "yes",
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
        "PrivateUsers": "yes",
    }.items():
        assert one.get(key) == value, key
    assert "@system-service" in s["SystemCallFilter"]


def test_unit_file_has_only_known_sections() -> None:
    """The file parses as INI with [Unit], [Service], [Install]."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read_string(UNIT.read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


# MemoryDenyWriteExecute= is enforced by seccomp under systemd; Linux >= 6.3 offers the
# same rule per process (PR_SET_MDWE), so the stack can be exercised under it here.
MDWE_PROBE = textwrap.dedent(
    """
    import ctypes, importlib, mmap, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        sys.exit(77)
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        sys.exit(3)  # not enforced: the probe would prove nothing
    except OSError:
        pass

    def optional(name):
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    import sqlite3, ssl
    import sqlalchemy, alembic, feedparser, httpx, apprise, apscheduler, rapidfuzz.fuzz
    rapidfuzz.fuzz.ratio("Київ", "Киев")
    feedparser.parse(b"<rss version='2.0'><channel><item><title>x</title></item></channel></rss>")
    sqlite3.connect(":memory:").execute("select 1")
    ssl.create_default_context()
    if jinja2 := optional("jinja2"):
        jinja2.Template("{{ x }}").render(x=1)
    if ahocorasick := optional("ahocorasick"):
        a = ahocorasick.Automaton(); a.add_word("abc", 1); a.make_automaton(); list(a.iter("xabc"))
    if pymorphy3 := optional("pymorphy3"):
        pymorphy3.MorphAnalyzer(lang="uk").parse("новини")
    if trafilatura := optional("trafilatura"):
        trafilatura.extract("<html><body><article><p>" + "Речення. " * 40 + "</p></article></body></html>")
    cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)  # libffi closure
    assert cb(1) == 2
    import monitor.daemon.sdnotify, monitor.daemon.health, monitor.store.housekeeping
    print("ok")
    """
)


def test_python_stack_runs_under_memory_deny_write_execute() -> None:
    """Every library the daemon loads works when W+X memory is refused."""
    proc = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    if proc.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
