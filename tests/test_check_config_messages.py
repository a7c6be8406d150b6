"""check-config says what is wrong or odd in words a user acts on: apprise's own reason for a
channel URL it refuses (without the URL's secrets), and a rule that sends nothing (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # No valid From address: the user part of a bare IP host is not an e-mail address.
        ("mailtos://user:s3cretpass@127.0.0.1:8025?to=desk@example.org", "Invalid ~From~ email"),
        ("foo://bar", "unknown scheme or malformed URL"),
        # apprise quotes the bad token itself: the reason must not carry it back
        ("slack://T1JJ3T3L2/A1BRTD4JD/s3cretpassIdevi7FQxx.y", "An invalid Slack (third) Token"),
    ],
)
def test_check_config_gives_apprises_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, reason: str
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[channels]\nmail = "{url}"\n')
    assert main(["--config", str(cfg), "check-config"]) == 2
    captured = capsys.readouterr()
    assert "channels.mail: apprise cannot use" in captured.err
    assert reason in captured.err
    assert "s3cretpass" not in captured.out + captured.err


def test_check_config_warns_about_a_rule_without_channels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[channels]\ndesk = "json://127.0.0.1:9/hook"\n\n[[feeds]]\nurl = "feed.xml"\n\n'
        '[[rules]]\nname = "quiet"\nquery = "Witkoff"\n\n'
        '[[rules]]\nname = "loud"\nquery = "Trump"\nchannels = ["desk"]\n'
    )
    assert main(["--config", str(cfg), "check-config"]) == 0
    err = capsys.readouterr().err
    assert "rule 'quiet' has no channels: its matches are recorded but never sent" in err
    assert "'loud' has no channels" not in err
