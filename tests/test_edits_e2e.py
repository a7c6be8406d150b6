"""Edited entries, end to end through ``monitor run --once``: an entry whose guid we
stored and whose headline changed is updated in place (its old headline kept) and
matched again; a rule it matches now alerts once ("updated"); an alerted article's new
headline is recorded, not re-alerted, unless the rule says ``on_update = "alert"``; a
feed that rewrites a timestamp in every entry on every fetch causes no edit and no
alert. A local feed file and a json:// channel on a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.cli import main
from monitor.store import db
from monitor.store.schema import ArticleRow
from tests.support import LocalServer, accept_json

TEXT = (
    "The European Commission proposed a new sanctions package on Wednesday, its twentieth, "
    "targeting shadow-fleet tankers and banks in third countries, officials said."
)


@pytest.fixture
def hook(http_server: LocalServer) -> list[dict[str, str]]:
    return accept_json(http_server)


def feed(path: Path, title: str, text: str = TEXT) -> None:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
        f"<item><guid>story-1</guid><link>https://desk.example/news/1</link>"
        f"<title>{escape(title)}</title><description>{escape(text)}</description></item>"
        "</channel></rss>",
        encoding="utf-8",
    )


def config(tmp_path: Path, http_server: LocalServer, on_update: str = "record") -> Path:
    path = tmp_path / "config.toml"
    hook_url = http_server.url("/hook").removeprefix("http://")
    path.write_text(
        f"""
[channels]
hook = "json://{hook_url}"

[[feeds]]
url = "desk.xml"

[[rules]]
name = "witkoff"
query = "Witkoff"
channels = ["hook"]
on_update = "{on_update}"

[[rules]]
name = "sanctions"
query = "sanctions"
channels = ["hook"]
on_update = "{on_update}"
""",
        encoding="utf-8",
    )
    return path


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--config", str(path), "run", "--once"])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def stored(tmp_path: Path) -> ArticleRow:
    factory = db.make_session_factory(db.make_engine(f"sqlite:///{tmp_path}/data/monitor.db"))
    with factory() as s:
        [row] = s.query(ArticleRow).all()
        return row


def test_a_new_headline_that_names_the_rule_alerts_once_as_an_update(
    tmp_path, http_server, hook, capsys
) -> None:
    path = config(tmp_path, http_server)
    feed(tmp_path / "desk.xml", "EU proposes its twentieth sanctions package")
    run(path, capsys)
    assert [m["title"].split("]")[0] for m in hook] == ["[sanctions"]

    feed(tmp_path / "desk.xml", "Witkoff welcomes EU's twentieth sanctions package")
    err = run(path, capsys)

    assert "event=article.edited" in err and "new_title=True" in err
    # witkoff matches now: one alert, saying it is an update; sanctions matched already
    assert len(hook) == 2
    assert (
        hook[1]["title"] == "[witkoff] updated: Witkoff welcomes EU's twentieth sanctions package"
    )
    assert 'was "EU proposes its twentieth sanctions package"' in hook[1]["message"]
    row = stored(tmp_path)
    assert row.title == "Witkoff welcomes EU's twentieth sanctions package"
    assert [h["title"] for h in row.title_history] == [
        "EU proposes its twentieth sanctions package"
    ]

    run(path, capsys)  # the same entry again: nothing
    assert len(hook) == 2


def test_on_update_alert_sends_an_alerted_articles_new_headline_again(
    tmp_path, http_server, hook, capsys
) -> None:
    path = config(tmp_path, http_server, on_update="alert")
    feed(tmp_path / "desk.xml", "EU proposes its twentieth sanctions package")
    run(path, capsys)
    feed(tmp_path / "desk.xml", "EU adopts its twentieth sanctions package")

    run(path, capsys)

    assert [m["title"] for m in hook] == [
        "[sanctions] EU proposes its twentieth sanctions package",
        "[sanctions] updated: EU adopts its twentieth sanctions package",
    ]


def test_a_feed_rewriting_timestamps_in_every_entry_causes_no_edit(
    tmp_path, http_server, hook, capsys
) -> None:
    path = config(tmp_path, http_server, on_update="alert")
    for minute in range(3):
        feed(
            tmp_path / "desk.xml",
            f"EU proposes its twentieth sanctions package (updated 12:{minute:02})",
            f"{TEXT} Updated {minute + 1} min ago, {1000 + minute} views.",
        )
        err = run(path, capsys)
        assert "article.edited" not in err
    assert len(hook) == 1
    assert stored(tmp_path).title_history is None
