"""What a new user met trying every command with a config in another directory (issue 13):
``alerts --limit`` and ``test-rule --language``. Through the real CLI and a real SQLite
file."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.spec import LANGUAGES


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config in ``etc/``, run from ``cwd/`` (another directory, as a user would)."""
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/monitor.db"\n\n'
        '[[feeds]]\nurl = "https://a.example/rss"\n',
        encoding="utf-8",
    )
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return path


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``monitor ARGV...``, expect argparse's exit 2 and return its stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_alerts_limit_below_one_is_a_usage_error(config, capsys, limit) -> None:
    """Before: `--limit 0` and `--limit -1` printed one row, exit 0."""
    err = usage_error(capsys, "--config", str(config), "alerts", "--limit", limit)
    assert f"argument --limit: expected a whole number of 1 or more, not '{limit}'" in err


def test_alerts_limit_one_or_more_is_taken(config, capsys) -> None:
    assert main(["--config", str(config), "run", "--once"]) in (0, 3, 4)  # creates the database
    capsys.readouterr()
    assert main(["--config", str(config), "alerts", "--limit", "1"]) == 0
    assert capsys.readouterr().out.startswith("no alerts (")


def test_test_rule_refuses_an_unknown_language_and_lists_the_known_ones(capsys) -> None:
    """Before: `--language xx` was taken silently (no rule with languages could match)."""
    err = usage_error(capsys, "test-rule", "--query", "Witkoff", "--text", "x", "--language", "xx")
    assert f"unknown language 'xx'; use one of {', '.join(sorted(LANGUAGES))}" in err
    assert main(["test-rule", "--query", "Witkoff", "--text", "Witkoff", "--language", "en"]) == 0
