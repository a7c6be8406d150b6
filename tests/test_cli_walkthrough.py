"""What a new user met trying every command with a config in another directory (issue 13):
``alerts --limit``, ``feeds import-opml --to``, ``test-rule --language`` and ``feeds
discover`` on a feed the config follows already. Through the real CLI, a real SQLite
file and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.spec import LANGUAGES
from tests.support import LocalServer


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


def test_import_opml_to_a_relative_path_names_the_file_it_wrote(config, tmp_path, capsys) -> None:
    """Before: `imported 1 feeds into feeds.d/imported.toml`, read as relative to the config
    (as include entries are) while it was written in the working directory."""
    opml = tmp_path / "subs.opml"
    opml.write_text('<opml><body><outline xmlUrl="https://b.example/rss"/></body></opml>')
    argv = ["--config", str(config), "feeds", "import-opml", str(opml)]
    assert main([*argv, "--to", "feeds.d/imported.toml"]) == 0

    written = tmp_path / "cwd" / "feeds.d" / "imported.toml"
    assert tomllib.loads(written.read_text())["feeds"] == [{"url": "https://b.example/rss"}]
    out = capsys.readouterr().out
    assert f"imported 1 feeds into {written} (0 of 1 already listed)\n" in out
    assert f'added include = ["{written}"] to [monitor] in {config}\n' in out
    assert tomllib.loads(config.read_text())["monitor"]["include"] == [str(written)]


def test_import_opml_with_a_relative_config_names_both_files_absolutely(
    config, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    opml = tmp_path / "subs.opml"
    opml.write_text('<opml><body><outline xmlUrl="https://b.example/rss"/></body></opml>')
    assert main(["--config", "etc/config.toml", "feeds", "import-opml", str(opml), "--to", "etc/more.toml", "--no-include"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert f"imported 1 feeds into {config.parent / 'more.toml'} " in out
    assert f"the daemon reads these feeds only when {config}'s [monitor] table has:\n" in out
    assert '  include = ["more.toml"]\n' in out  # include entries are relative to the config


def discover(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "feeds", "discover", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def page_with_two_feeds(server: LocalServer) -> tuple[str, str, str]:
    """A page announcing two feeds; (page URL, first feed URL, second feed URL)."""
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b'<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>'
    )
    url = server.static("/", page, {"Content-Type": "text/html"})
    return url, server.url("/rss.xml"), server.url("/atom.xml")


def test_discover_says_which_found_feed_the_config_follows_already(
    config, http_server, capsys
) -> None:
    """Before: both tables were printed, and pasting them made check-config fail on the
    duplicate."""
    page, first, second = page_with_two_feeds(http_server)
    include = config.parent / "more.toml"
    include.write_text(f'[[feeds]]\nurl = "  {first}"\n')  # as the loader reads it: stripped
    config.write_text(config.read_text().replace("[monitor]\n", '[monitor]\ninclude = ["more.toml"]\n'))  # fmt: skip

    code, out, err = discover(capsys, config, page)

    assert code == 0
    assert out.startswith(f"# {first} is already in {config} or its includes\n\n")
    assert tomllib.loads(out) == {"feeds": [{"url": second}]}  # pasting it all is safe
    assert "paste this table into the config" in err and "1 already followed" in err

    code, out, err = discover(capsys, config, "--urls", page)
    assert (code, out.split()) == (0, [first, second])  # --urls: every URL, as always
    assert err == f"note: {first} is already in {config} or its includes\n"


def test_discover_compares_urls_with_a_variable_as_the_config_loader_does(
    config, http_server, capsys, monkeypatch
) -> None:
    page, first, second = page_with_two_feeds(http_server)
    host = first.removesuffix("/rss.xml")
    config.write_text(
        config.read_text()
        + f'\n[[feeds]]\nurl = "${{FEED_HOST}}/rss.xml"\n[[feeds]]\nurl = "{second}"\n'
    )
    monkeypatch.setenv("FEED_HOST", host)

    code, out, err = discover(capsys, config, page)

    assert code == 0 and tomllib.loads(out) == {}
    # a ${VAR}'s value is masked wherever it shows, in a URL found on a page too
    assert "# ***/rss.xml is already in " in out and "# ***/atom.xml is already in " in out
    assert host not in out + err
    assert err == f"nothing to add: {config} already follows every feed found\n"


def test_discover_urls_help_says_what_it_prints(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["feeds", "discover", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(as before)" not in out
    assert "--urls print only the feed URLs, one a line, without [[feeds]] tables or names" in out


def test_discover_names_a_feed_matched_only_by_pattern_and_masks_its_token(
    config, http_server, capsys, monkeypatch
) -> None:
    """The listed URL's ${FEED_TOKEN} is not set here: the found feed is taken for it by
    pattern, said so, and the token the page's URL carries is not printed in the note."""
    rss = http_server.static("/rss.xml", b"", {})
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml?token=abcdef1234567890XYZ"></head></html>'  # fmt: skip
    url = http_server.static("/", page, {"Content-Type": "text/html"})
    config.write_text(config.read_text() + f'\n[[feeds]]\nurl = "{rss}?token=${{FEED_TOKEN}}"\n')
    monkeypatch.delenv("FEED_TOKEN", raising=False)

    code, out, err = discover(capsys, config, url)

    assert code == 0 and tomllib.loads(out) == {}
    assert out == (
        f"# {rss}?token=*** is probably the feed {rss}?token=*** already in "
        f"{config} or its includes (FEED_TOKEN is not set here, so the two URLs were "
        "compared as a pattern)\n"
    )
    assert "abcdef1234567890XYZ" not in out + err
