"""OPML import: reading subscriptions and appending them to the TOML config."""

from __future__ import annotations

import tomllib

import pytest

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
