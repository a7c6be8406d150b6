"""Every command behaves in a pipe: ``monitor status | head -1`` ends quietly when the
reader goes away (exit 141, as ``cat`` would), with no traceback and no
``process.crashed`` line. Real subprocesses, their stdout a pipe whose reader is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, cli_env

CLOSED_PIPE = 141  # 128 + SIGPIPE

COMMANDS = [
    ("check-config",),
    ("status",),
    ("alerts",),
    ("alerts", "--status", "dead"),
    ("feeds",),
    ("test-rule", "--text", "Witkoff and the coalition of the willing"),
    ("terms", "show", "Trump"),
    ("--help",),
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config on the seed feed, and a database with its article and alert in it."""
    tmp = tmp_path_factory.mktemp("pipes")
    (tmp / "seed_feed.xml").write_bytes((ROOT / "seeds" / "seed_feed.xml").read_bytes())
    path = tmp / "config.toml"
    path.write_text(
        f"""
[monitor]
database = "sqlite:///{tmp}/monitor.db"

[channels]
screen = "console://"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих"]

[[feeds]]
url = "seed_feed.xml"
language = "uk"
backlog = "3650d"

[[rules]]
name = "witkoff-coalition"
query = 'Witkoff AND @coalition'
channels = ["screen"]
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "run", "--once"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return path


def run_into_closed_pipe(config: Path, *argv: str) -> tuple[int, str]:
    """Run ``monitor`` with stdout a pipe whose read end is closed before it writes
    (the reader of ``| head`` gone): its exit status and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even imported monitor
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_closed_pipe_ends_the_command_quietly(config: Path, argv: tuple[str, ...]) -> None:
    code, err = run_into_closed_pipe(config, *argv)

    for noise in ("Traceback", "BrokenPipeError", "process.crashed", "Exception ignored"):
        assert noise not in err, err
    assert code == (0 if argv == ("--help",) else CLOSED_PIPE), err
