"""OPML import: reading subscriptions and appending them to the TOML config."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.feeds import OpmlFileError, read_opml
from monitor.config.edit import append_feeds_toml
from monitor.errors import ConfigError
from monitor.records import ImportedFeed

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="Українська правда" title="Українська правда"
               xmlUrl="https://www.pravda.com.ua/rss/" htmlUrl="https://www.pravda.com.ua/"/>
      <outline type="rss" text="BBC &quot;World&quot;" xmlurl="http://feeds.bbci.co.uk/news/world/rss.xml"/>
      <outline type="rss" text="dup" xmlUrl="https://www.pravda.com.ua/rss/"/>
    </outline>
    <outline type="rss" text="Spiegel" xmlUrl="https://www.spiegel.de/schlagzeilen/index.rss" language="de"/>
    <outline type="link" text="Not a feed" url="https://example.org/"/>
    <outline type="rss" text="ftp" xmlUrl="ftp://example.org/feed"/>
  </body>
</opml>
"""

EXISTING = """# my press monitor
[monitor]
database = "sqlite:///data/monitor.db"   # keep this comment

[[feeds]]
url = "https://www.pravda.com.ua/rss/"
name = "УП"

[[rules]]
name = "witkoff"
query = "Witkoff"
"""


@pytest.fixture
def opml_file(tmp_path):
    path = tmp_path / "subs.opml"
    path.write_text(OPML, encoding="utf-8")
    return path


def test_nested_outlines_are_read_in_order_without_duplicates(opml_file):
    assert read_opml(opml_file) == [
        ImportedFeed("https://www.pravda.com.ua/rss/", "Українська правда"),
        ImportedFeed("http://feeds.bbci.co.uk/news/world/rss.xml", 'BBC "World"'),
        ImportedFeed("https://www.spiegel.de/schlagzeilen/index.rss", "Spiegel", "de"),
    ]


def test_import_appends_new_feeds_and_keeps_the_file_intact(opml_file, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(EXISTING, encoding="utf-8")
    assert append_feeds_toml(config, read_opml(opml_file)) == 2
    text = config.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    data = tomllib.loads(text)
    assert [f["url"] for f in data["feeds"]] == [
        "https://www.pravda.com.ua/rss/",
        "http://feeds.bbci.co.uk/news/world/rss.xml",
        "https://www.spiegel.de/schlagzeilen/index.rss",
    ]
    assert data["feeds"][1]["name"] == 'BBC "World"' and data["feeds"][2]["language"] == "de"
    assert data["rules"][0]["name"] == "witkoff"


def test_importing_twice_adds_nothing(opml_file, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(EXISTING, encoding="utf-8")
    append_feeds_toml(config, read_opml(opml_file))
    before = config.read_bytes()
    assert append_feeds_toml(config, read_opml(opml_file)) == 0
    assert config.read_bytes() == before


def test_missing_config_is_created_and_dicts_are_accepted(tmp_path):
    config = tmp_path / "new" / "config.toml"
    n = append_feeds_toml(config, [{"url": "https://a.example/rss", "name": 'a\\b "c"\x7f'}])
    assert n == 1
    assert tomllib.loads(config.read_text())["feeds"] == [
        {"url": "https://a.example/rss", "name": 'a\\b "c"\x7f'}
    ]


def test_file_without_trailing_newline_stays_valid(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\ndatabase = "sqlite://"', encoding="utf-8")
    append_feeds_toml(config, [ImportedFeed("https://a.example/rss")])
    assert tomllib.loads(config.read_text())["feeds"] == [{"url": "https://a.example/rss"}]


@pytest.mark.parametrize(
    "content",
    ["[monitor\nbroken", 'feeds = [{url = "https://x/"}]\n'],
    ids=["invalid-toml", "inline-feeds-array"],
)
def test_config_that_cannot_take_feeds_is_left_untouched(tmp_path, content):
    config = tmp_path / "config.toml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        append_feeds_toml(config, [ImportedFeed("https://a.example/rss")])
    assert config.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    "content",
    ["not xml at all", '<!DOCTYPE o [<!ENTITY a "x"><!ENTITY b "&a;&a;">]><opml/>'],
    ids=["not-xml", "entity-expansion"],
)
def test_unreadable_opml_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.opml"
    path.write_text(content)
    with pytest.raises(OpmlFileError) as info:
        read_opml(path)
    assert "bad.opml" in str(info.value)


# -- through the real CLI: `monitor feeds import-opml` ----------------------------------

MAIN = """# my press monitor
[monitor]
database = "sqlite:///{db}"   # keep this comment

[[feeds]]
url = "https://a.example/rss"   # first
name = "A"

[[feeds]]
url = "https://b.example/rss"
"""

SIX = (
    '<opml version="2.0"><body><outline text="news">'
    + "".join(f'<outline text="{c.upper()}" xmlUrl="https://{c}.example/rss"/>' for c in "abcdef")
    + "</outline></body></opml>"
)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A config beside its feeds file, run from another directory (as a user would)."""
    cfg = tmp_path / "etc" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(MAIN.format(db=tmp_path / "monitor.db"), encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_text(SIX, encoding="utf-8")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    old_umask = os.umask(0o022)
    yield cfg, opml
    os.umask(old_umask)


def test_import_to_a_file_skips_the_configs_feeds_and_adds_the_include_line(setup, capsys):
    """Before: `imported 6 feeds (0 of 6 already listed)`, no word of `include`, and once
    the user added it, check-config failed on the two duplicates."""
    cfg, opml = setup
    before = cfg.read_text(encoding="utf-8")
    target = cfg.parent / "feeds.toml"
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"imported 4 feeds into {target} (2 of 6 already listed)" in out
    assert f'added include = ["feeds.toml"] to [monitor] in {cfg}' in out
    assert [f["url"] for f in tomllib.loads(target.read_text())["feeds"]] == [
        f"https://{c}.example/rss" for c in "cdef"
    ]
    # one line inserted below [monitor]; every other byte, comments included, as it was
    assert cfg.read_text(encoding="utf-8") == before.replace(
        "[monitor]\n", '[monitor]\ninclude = ["feeds.toml"]\n'
    )
    assert main(["--config", str(cfg), "check-config"]) == 0
    assert "feeds (6)" in capsys.readouterr().out
    # the service user (DynamicUser=) must be able to read it: 0644, not mkstemp's 0600
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    # a second run changes nothing and says the config reads the file already
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert "imported 0 feeds" in out and "already reads" in out
    assert cfg.read_text(encoding="utf-8").count("include") == 1


def test_import_skips_feeds_of_other_included_files_and_extends_the_include(setup, capsys):
    cfg, opml = setup
    (cfg.parent / "old.toml").write_text('[[feeds]]\nurl = "https://c.example/rss"\n')
    text = cfg.read_text().replace("[monitor]\n", '[monitor]\ninclude = ["old.toml"]  # mine\n')
    cfg.write_text(text)
    target = cfg.parent / "new.toml"
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    assert "imported 3 feeds" in capsys.readouterr().out
    assert 'include = ["old.toml", "new.toml"]  # mine\n' in cfg.read_text()
    assert main(["--config", str(cfg), "check-config"]) == 0


@pytest.mark.parametrize("how", ["multi-line-include", "no-include-flag"])
def test_include_line_is_printed_when_it_cannot_be_added_safely(setup, capsys, how):
    cfg, opml = setup
    argv = ["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", "feeds.toml"]
    if how == "multi-line-include":
        (cfg.parent / "old.toml").write_text("")
        cfg.write_text(
            cfg.read_text().replace("[monitor]\n", '[monitor]\ninclude = [\n  "old.toml",\n]\n')
        )
    else:
        argv.append("--no-include")
    before = cfg.read_text()
    assert main(argv) == 0
    out = capsys.readouterr().out
    # --to is relative to the working directory: the include entry is made absolute
    target = Path("feeds.toml").resolve()
    entries = (["old.toml"] if how == "multi-line-include" else []) + [str(target)]
    assert f"[monitor] table has:\n  include = {json.dumps(entries, ensure_ascii=False)}" in out
    assert cfg.read_text() == before


def test_a_file_holding_a_feed_token_stays_private_and_says_so(setup, capsys):
    cfg, opml = setup
    opml.write_text(
        '<opml><body><outline xmlUrl="https://x.example/rss?token=abcdef1234567890XYZ"/></body></opml>'
    )
    target = cfg.parent / "private.toml"
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "readable only by you (0600)" in out and "DynamicUser=" in out
    assert "abcdef1234567890XYZ" not in out


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>', "an RSS feed"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>', "an Atom feed"),
    ],
)  # fmt: skip
def test_a_feed_given_as_opml_is_a_usage_error_that_shows_the_feeds_table(
    setup, capsys, body, kind
):
    """Before: `imported 0 feeds` and exit 0."""
    cfg, _ = setup
    feed = cfg.parent / "news.xml"
    feed.write_bytes(body)
    before = cfg.read_bytes()
    assert main(["--config", str(cfg), "feeds", "import-opml", str(feed)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"looks like {kind}, not an OPML list of feeds" in captured.err
    assert f'[[feeds]]\nurl = "{feed}"' in captured.err
    assert "config error" not in captured.err
    assert cfg.read_bytes() == before


@pytest.mark.parametrize("name", ["news.xml", "news\x7f.xml", 'say "hi"\\.xml'])
def test_the_table_shown_for_a_feed_given_as_opml_is_valid_toml(setup, capsys, name):
    """The ``[[feeds]]`` table the error shows pastes into a config as it is: before, a
    file name holding DEL (U+007F) came out unescaped, which TOML forbids in a string."""
    cfg, _ = setup
    feed = cfg.parent / name
    feed.write_bytes(b'<rss version="2.0"><channel><title>T</title></channel></rss>')
    assert main(["--config", str(cfg), "feeds", "import-opml", str(feed)]) == 2
    err = capsys.readouterr().err
    table = err[err.index("[[feeds]]") :].split("\n\n", 1)[0]
    assert tomllib.loads(table) == {"feeds": [{"url": str(feed)}]}


def test_a_missing_opml_file_is_a_plain_usage_error(setup, capsys):
    """Before: `config error: ...`, as if the config were wrong."""
    cfg, _ = setup
    assert main(["--config", str(cfg), "feeds", "import-opml", "nope.opml"]) == 2
    err = capsys.readouterr().err
    assert err == "error: cannot read nope.opml: No such file or directory\n"


def test_an_opml_listing_no_feeds_writes_nothing_and_fails(setup, capsys):
    cfg, opml = setup
    opml.write_text('<opml><body><outline text="just a folder"/></body></opml>')
    before = cfg.read_bytes()
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml)]) == 1
    assert "lists no feeds" in capsys.readouterr().err
    assert cfg.read_bytes() == before


def test_an_include_that_would_break_the_config_is_not_added(setup, capsys):
    """An OPML feed the loader refuses (a port out of range) must not reach the live config
    through the include line: before, the next reload or restart failed."""
    cfg, opml = setup
    opml.write_text(
        SIX.replace("https://f.example/rss", "http://f.example:99999/rss"), encoding="utf-8"
    )
    before = cfg.read_text(encoding="utf-8")
    target = cfg.parent / "feeds.toml"
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert "not added to" in out and "99999" in out
    assert 'include = ["feeds.toml"]' in out  # the line to add once the file is fixed
    assert cfg.read_text(encoding="utf-8") == before
    assert main(["--config", str(cfg), "check-config"]) == 0


TOKEN = "abcdef1234567890XYZ"
TOKEN_FEED = f"https://x.example/rss?token={TOKEN}"
WITH_VAR = "https://x.example/rss?token=${FEED_TOKEN}"


def _with_token_feed(cfg: Path, url: str) -> None:
    cfg.write_text(cfg.read_text() + f'\n[[feeds]]\nurl = "{url}"\n', encoding="utf-8")


@pytest.mark.parametrize(
    ("in_config", "in_opml"), [(WITH_VAR, TOKEN_FEED), (TOKEN_FEED, WITH_VAR)], ids=["config-var", "opml-var"]
)  # fmt: skip
@pytest.mark.parametrize("to", [None, "feeds.toml"], ids=["into-config", "to-file"])
def test_a_feed_written_with_a_variable_is_recognised_once_expanded(
    setup, capsys, monkeypatch, in_config, in_opml, to
):
    """Before: ``${FEED_TOKEN}`` in the config and the token itself in the OPML were two
    different feeds, so the feed was appended again and the config no longer loaded
    ("already listed"). They are compared as the loader reads them, and the token is
    never printed."""
    cfg, opml = setup
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    _with_token_feed(cfg, in_config)
    opml.write_text(
        f'<opml><body><outline xmlUrl="{in_opml}"/>'
        '<outline xmlUrl="https://c.example/rss"/></body></opml>'
    )
    argv = ["--config", str(cfg), "feeds", "import-opml", str(opml)]
    if to:
        argv += ["--to", str(cfg.parent / to)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "imported 1 feeds" in captured.out and "(1 of 2 already listed)" in captured.out
    assert TOKEN not in captured.out + captured.err
    assert main(["--config", str(cfg), "check-config"]) == 0
    assert "feeds (4)" in capsys.readouterr().out  # a, b, the token feed, c: once each


def test_a_feed_whose_variable_is_not_set_here_is_matched_as_a_pattern(setup, capsys):
    """``FEED_TOKEN`` lives in the service's EnvironmentFile=, not in this shell: the
    imported URL that differs from the listed one only where ``${FEED_TOKEN}`` stands is
    taken for it, not appended (which would put the token into the config and list the
    feed twice), and the note says so without the token."""
    cfg, opml = setup
    _with_token_feed(cfg, WITH_VAR)
    before = cfg.read_text()
    opml.write_text(
        f'<opml><body><outline xmlUrl="{TOKEN_FEED}"/>'
        '<outline xmlUrl="https://x.example/other?token=abc"/></body></opml>'
    )
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 feeds" in out
    assert "note: taken for the listed feed https://x.example/rss?token=***, not imported: " in out
    assert "FEED_TOKEN is not set here" in out
    assert TOKEN not in out and TOKEN not in cfg.read_text()
    assert cfg.read_text().startswith(before) and "x.example/other" in cfg.read_text()


def test_an_include_written_with_a_tilde_is_read_from_the_home_folder(setup, capsys, monkeypatch):
    """``include = ["~/feeds.toml"]`` names the home folder, as ``~`` does in every other
    path of the config (before: it read ``<config folder>/~/feeds.toml``)."""
    cfg, opml = setup
    home = cfg.parent.parent / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "feeds.toml").write_text('[[feeds]]\nurl = "https://c.example/rss"\n')
    cfg.write_text(
        cfg.read_text().replace("[monitor]\n", '[monitor]\ninclude = ["~/feeds.toml"]\n')
    )
    assert main(["--config", str(cfg), "check-config"]) == 0
    assert "https://c.example/rss" in capsys.readouterr().out
    target = cfg.parent / "more.toml"
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml), "--to", str(target)]) == 0
    assert "imported 3 feeds" in capsys.readouterr().out  # a, b in the config; c in ~/feeds.toml


def test_import_into_the_config_skips_the_feeds_of_its_includes(setup, capsys):
    """Without --to, the feeds of the files the config includes were not looked at: a
    feed listed there was appended to the config too, and the config no longer loaded."""
    cfg, opml = setup
    (cfg.parent / "old.toml").write_text('[[feeds]]\nurl = "https://c.example/rss"\n')
    cfg.write_text(cfg.read_text().replace("[monitor]\n", '[monitor]\ninclude = ["old.toml"]\n'))
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml)]) == 0
    out = capsys.readouterr().out
    assert f"imported 3 feeds into {cfg} (3 of 6 already listed)" in out
    assert f"skipped 1 feeds already in {cfg} or its includes" in out
    assert main(["--config", str(cfg), "check-config"]) == 0
    assert "feeds (6)" in capsys.readouterr().out
