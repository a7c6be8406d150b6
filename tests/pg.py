"""A throwaway PostgreSQL server on 127.0.0.1 for the tests that check the PostgreSQL path.

Uses the machine's ``initdb``/``pg_ctl`` (Debian package ``postgresql``, which ``.ci/run``
installs when it can) and skips with a reason when they are absent. Runs the server as the
``postgres`` user when we are root (initdb refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """A running throwaway server: its URL, and a restart (the fault tests)."""

    url: str
    data: Path
    base: Path
    prefix: list[str]

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: every connection is cut, the server is back when it returns."""
        pg_ctl = _pg_bin("pg_ctl") or "pg_ctl"
        subprocess.run(
            # -l again: without it the new server writes to (and holds) our pipe
            [
                *self.prefix,
                pg_ctl,
                "-D",
                str(self.data),
                "-l",
                str(self.base / "log"),
                "-m",
                mode,
                "-w",
                "restart",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        pg_ctl = _pg_bin("pg_ctl") or "pg_ctl"
        subprocess.run(
            [*self.prefix, pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> PgServer:
    """Start a fresh server with a database ``monitor`` on a free loopback port, or skip."""
    if os.environ.get("MONITOR_TEST_PG_URL"):
        pytest.skip("MONITOR_TEST_PG_URL is set: this test needs a server of its own")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if not runuser:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        try:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
        except subprocess.CalledProcessError:
            pytest.skip("no 'postgres' user to run the test server as")
        prefix = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="pm-pg-"))
    data = base / "data"
    if prefix:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {base} -F",
            "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    server = PgServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/monitor", data, base, prefix)
    try:
        run(
            _pg_bin("createdb") or "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "monitor",
        )
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh PostgreSQL database, or skip."""
    if os.environ.get("MONITOR_TEST_PG_URL"):
        yield os.environ["MONITOR_TEST_PG_URL"]
        return
    server = start_server()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_server() -> Iterator[PgServer]:
    """A server of the test's own (it may be restarted), or skip."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
