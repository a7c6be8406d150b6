"""contrib/press-monitor-backup.service and .timer: ``systemd-analyze verify`` passes, the
backup has the daemon's secrets (its credentials folder and its ``EnvironmentFile=``),
its command line makes a backup of a config whose ``${VAR}`` only the environment file
sets, and docs/operations.md shows the unit as shipped (issue 13).

systemd itself is not run here: the command line is run the way systemd would run it,
with the unit's ``Environment=`` and ``EnvironmentFile=`` applied and its paths (the
venv, /etc/press-monitor, /var/backups) moved into a temporary folder.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import cli_env

ROOT = Path(__file__).resolve().parents[1]
CONTRIB = ROOT / "contrib"
BACKUP = CONTRIB / "press-monitor-backup.service"
TIMER = CONTRIB / "press-monitor-backup.timer"
DAEMON = CONTRIB / "press-monitor.service"

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is absent (Debian/Ubuntu: apt-get install systemd)",
)


def settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of ``unit``, repeated keys kept in order."""
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )


@needs_analyze
def test_backup_service_and_timer_pass_systemd_analyze_verify(tmp_path) -> None:
    proc = verify(BACKUP, TIMER)
    assert proc.returncode == 0 and "press-monitor-backup" not in proc.stderr, proc.stderr
    typo = tmp_path / "press-monitor-backup.service"  # verify is not lenient
    typo.write_text(BACKUP.read_text().replace("EnvironmentFile=", "EnvironmentFiel="))
    assert "Unknown key" in verify(typo).stderr


def test_backup_reads_the_secrets_from_where_the_daemon_has_them() -> None:
    """Before: CREDENTIALS_DIRECTORY only; a secret kept in /etc/press-monitor/env failed."""
    backup, daemon = settings(BACKUP), settings(DAEMON)
    assert backup["EnvironmentFile"] == daemon["EnvironmentFile"] == ["-/etc/press-monitor/env"]
    folder = daemon["LoadCredential"][0].removeprefix("press-monitor:")
    assert backup["Environment"] == [f"CREDENTIALS_DIRECTORY={folder}"]
    assert backup["Type"] == ["oneshot"]
    assert settings(TIMER)["OnCalendar"] == ["daily"]


def as_systemd_runs_it(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The backup's ExecStart as argv, and the environment systemd gives it, with the
    unit's paths moved under ``tmp_path`` (``%%`` unescaped as systemd does)."""
    s = settings(BACKUP)
    [exec_start] = s["ExecStart"]
    moved = {
        "/opt/press-monitor/venv/bin/monitor": f"{shlex.quote(sys.executable)} -m monitor",
        "/etc/press-monitor": str(tmp_path / "etc"),
        "/var/backups": str(tmp_path / "backups"),
    }
    for old, new in moved.items():
        exec_start = exec_start.replace(old, new)
    env = cli_env()
    env.pop("FEED_TOKEN", None)
    for assignment in s["Environment"]:
        key, _, value = assignment.partition("=")
        env[key] = value.replace("/etc/press-monitor", str(tmp_path / "etc"))
    for entry in s.get("EnvironmentFile", []):
        path = Path(entry.removeprefix("-").replace("/etc/press-monitor", str(tmp_path / "etc")))
        if path.exists() or not entry.startswith("-"):
            for line in path.read_text().splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip()
    return shlex.split(exec_start.replace("%%", "%")), env


def test_the_backup_command_line_backs_up_a_config_whose_secret_is_in_the_env_file(
    tmp_path,
) -> None:
    etc = tmp_path / "etc"
    (etc / "credentials").mkdir(parents=True)
    (tmp_path / "backups").mkdir()
    config = etc / "config.toml"
    config.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/monitor.db"\n\n'
        '[[feeds]]\nurl = "https://feeds.example/rss?token=${FEED_TOKEN}"\n'
    )
    (etc / "env").write_text("FEED_TOKEN=s3cr3t-token-only-in-the-env-file\n")
    argv, env = as_systemd_runs_it(tmp_path)
    upgrade = [sys.executable, "-m", "monitor", "--config", str(config), "db", "upgrade"]
    token = {**env, "FEED_TOKEN": "s3cr3t-token-only-in-the-env-file"}  # the database exists
    subprocess.run(upgrade, env=token, cwd=tmp_path, check=True, capture_output=True, timeout=60)

    proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert proc.returncode == 0, proc.stderr
    [copy] = (tmp_path / "backups").glob("press-monitor-*.db")
    assert re.fullmatch(r"press-monitor-\d{4}-\d\d-\d\d\.db", copy.name)
    assert "s3cr3t" not in proc.stdout + proc.stderr


def test_operations_md_shows_the_backup_unit_as_shipped() -> None:
    docs = (ROOT / "docs" / "operations.md").read_text()
    shipped = BACKUP.read_text().split("[Service]\n", 1)[1]
    service = [ln for ln in shipped.splitlines() if ln and not ln.startswith("#")]
    block = re.search(r"```ini\n\[Service\]\nType=oneshot\n(.*?)```", docs, re.S)
    assert block, "the backup unit's [Service] block is not in docs/operations.md"
    assert ["Type=oneshot", *block.group(1).splitlines()] == service


def test_install_sets_the_database_before_the_service_first_starts() -> None:
    """Before: `systemctl enable --now` came before the step that sets `database =`."""
    for page in (ROOT / "docs" / "operations.md", CONTRIB / "README.md"):
        text = page.read_text()
        install = text[text.index("## Install") :]
        database = install.index('database = "sqlite:////var/lib/press-monitor/monitor.db"')
        assert database < install.index("systemctl enable --now press-monitor"), page
