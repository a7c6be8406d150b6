"""Where the database is (issue 13): a relative SQLite path, the default ``data/monitor.db``
included, is relative to the config file's folder, as local feed paths are, so every
command finds the daemon's database whatever the working directory. No lock file is
left beside it.

Through the real CLI (``monitor.cli.main``), the example config with its network feeds
removed, a local seed feed, real SQLite files in tmp_path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_config

from .support import ROOT

ALERT = "[witkoff-coalition]"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/conf/config.toml``: the example config, default database, seed feed
    ``seeds/seed_feed.xml`` beside it (relative), no network feeds."""
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    text = re.sub(r'\[\[feeds\]\]\nurl = "https://[^\n]*\n(?:(?!\[\[)[^\n]*\n)*', "", text)
    assert '# database = "sqlite:///data/monitor.db"' in text  # the default database
    conf = tmp_path / "conf"
    (conf / "seeds").mkdir(parents=True)
    shutil.copy(ROOT / "seeds" / "seed_feed.xml", conf / "seeds" / "seed_feed.xml")
    path = conf / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def lock_files(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*lock"))


def test_every_command_from_any_directory_uses_the_database_beside_the_config(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The seed alert is sent once: a second ``run --once`` from another directory finds
    the same database; ``status``, ``alerts``, ``feeds`` and ``db upgrade`` from a third
    find it too; no database in a working directory, no lock file left anywhere."""
    first = cd(tmp_path, monkeypatch, "elsewhere")
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert capsys.readouterr().out.count(ALERT) == 1
    database = config.parent / "data" / "monitor.db"
    assert database.is_file() and not (first / "data").exists()

    second = cd(tmp_path, monkeypatch, "another")
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert ALERT not in capsys.readouterr().out  # nothing sent twice
    assert not (second / "data").exists()

    cd(tmp_path, monkeypatch, "third")
    assert main(["--config", str(config), "status"]) == 3  # no daemon runs: exit 3
    out = capsys.readouterr().out
    assert f"database:  {database}, " in out, out
    assert main(["--config", str(config), "alerts"]) == 0
    assert "sent 1 · dead 0" in capsys.readouterr().out  # the seed alert, sent once
    assert main(["--config", str(config), "feeds", "--wide"]) == 0  # names whole
    assert "(seed)  " in capsys.readouterr().out  # its name, polled ok
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert str(database) in capsys.readouterr().out
    assert lock_files(tmp_path) == []  # no monitor.db.migrate-lock, no monitor.db.lock


def test_a_relative_config_path_and_a_relative_database_key(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--config conf/config.toml`` from its parent and a written relative
    ``database = "sqlite:///state/m.db"``: the file is conf/state/m.db."""
    text = config.read_text(encoding="utf-8").replace(
        '# database = "sqlite:///data/monitor.db"', 'database = "sqlite:///state/m.db"'
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "conf/config.toml", "run", "--once"]) == 0
    assert capsys.readouterr().out.count(ALERT) == 1
    assert (config.parent / "state" / "m.db").is_file() and not (tmp_path / "state").exists()
    cd(tmp_path, monkeypatch, "elsewhere")
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert ALERT not in capsys.readouterr().out


def test_a_database_left_in_the_working_directory_is_refused_not_replaced(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An older press-monitor put the default database in the working directory. If
    the one beside the config does not exist, every command stops (exit 2) naming both
    files and what to do, creates nothing and sends nothing; once the file is moved as
    the message says, the alert it already sent is not sent again."""
    work = cd(tmp_path, monkeypatch, "work")
    old = work / "data" / "monitor.db"
    text = config.read_text(encoding="utf-8")
    config.write_text(  # what the old default amounted to, run from `work`
        text.replace('# database = "sqlite:///data/monitor.db"', f'database = "sqlite:///{old}"'),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert capsys.readouterr().out.count(ALERT) == 1
    config.write_text(text, encoding="utf-8")  # back to the default database

    new = config.parent / "data" / "monitor.db"
    for argv in (["run", "--once"], ["status"], ["check-config"]):
        assert main(["--config", str(config), *argv]) == 2, argv
        captured = capsys.readouterr()
        assert ALERT not in captured.out
        err = captured.err
        assert err.startswith(f"config error: {config}:6: monitor.database: "), err
        assert str(old) in err and str(new) in err and "mv " in err
    assert not new.exists() and not new.parent.exists()

    new.parent.mkdir()
    for f in work.joinpath("data").iterdir():  # the `mv` the message suggests
        f.rename(new.parent / f.name)
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert ALERT not in capsys.readouterr().out  # the moved database knows it was sent


def test_another_configs_database_in_the_working_directory_is_let_be(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A working directory holding another config's ``data/monitor.db`` (none of this
    config's feeds) does not stop this one: it gets its own database, with a note."""
    work = cd(tmp_path, monkeypatch, "work")
    old = work / "data" / "monitor.db"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('# database = "sqlite:///data/monitor.db"', f'database = "sqlite:///{old}"'),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "run", "--once"]) == 0
    capsys.readouterr()
    other = tmp_path / "other" / "config.toml"
    other.parent.mkdir()
    (other.parent / "desk.xml").write_bytes((ROOT / "seeds" / "seed_feed.xml").read_bytes())
    other.write_text('[[feeds]]\nurl = "desk.xml"\n', encoding="utf-8")

    assert main(["--config", str(other), "check-config"]) == 0
    err = capsys.readouterr().err
    assert f"{old} in the working directory holds none of this config's feeds" in err, err


def test_both_databases_exist_the_one_beside_the_config_is_used_with_a_warning(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cd(tmp_path, monkeypatch, "elsewhere")
    assert main(["--config", str(config), "run", "--once"]) == 0
    work = cd(tmp_path, monkeypatch, "work")
    (work / "data").mkdir()
    (work / "data" / "monitor.db").touch()
    capsys.readouterr()
    assert main(["--config", str(config), "check-config"]) == 0
    err = capsys.readouterr().err
    used = config.parent / "data" / "monitor.db"
    assert f"using the database {used} (beside the config)" in err, err
    assert f"{work / 'data' / 'monitor.db'} in the working directory is not used" in err
    assert main(["--config", str(config), "run", "--once"]) == 0
    assert ALERT not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://u:pw@db.example/pm", "postgresql+psycopg://u:pw@db.example/pm"),
        ("sqlite:///~/x.db", f"sqlite:///{Path.home()}/x.db"),
        ("sqlite:///rel/x.db?timeout=5", "sqlite:///{conf}/rel/x.db?timeout=5"),
    ],
)
def test_absolute_paths_and_other_backends_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / "config.toml"
    path.write_text(f'[monitor]\ndatabase = "{written}"\n', encoding="utf-8")
    assert load_config(path, {}).monitor.database == expected.format(conf=conf)


def test_state_directory_of_systemd_is_used_as_it_is(tmp_path: Path) -> None:
    """``$STATE_DIRECTORY`` (absolute, from the unit) wins; a relative ``state_dir`` is
    relative to the config file."""
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\nstate_dir = "st"\n', encoding="utf-8")
    env = {"STATE_DIRECTORY": "/var/lib/press-monitor"}
    assert load_config(path, env).monitor.database == "sqlite:////var/lib/press-monitor/monitor.db"
    assert load_config(path, {}).monitor.database == f"sqlite:///{tmp_path}/st/monitor.db"
