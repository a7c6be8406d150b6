"""``monitor search`` end to end: a database filled by ``monitor run --once`` from local
uk/ru/en feed files, searched through the CLI with the daemon's matcher."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.output import MARK_ON
from tests.history_support import filled_database


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_database(tmp_path_factory.mktemp("history"))


def search(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "search", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_latin_query_finds_the_cyrillic_articles(config, capsys) -> None:
    """«Віткофф … коаліції рішучих» and «Уиткофф … коалиции решительных» for
    'Witkoff AND @coalition', each with the rendering that matched."""
    code, out, _ = search(capsys, config, "Witkoff AND @coalition", "--json")

    assert code == 0
    results = json.loads(out)["results"]
    assert sorted(r["link"] for r in results) == [
        "https://ru.example/paris",
        "https://uk.example/paris",
    ]
    uk = next(r for r in results if r["language"] == "uk")
    assert {(e["surface"], e["how"]) for e in uk["evidence"]} >= {
        ("Віткофф", "across scripts"),
        ("коаліції рішучих", "another form"),
    }


def test_results_are_newest_first_and_say_how_far_history_reaches(config, capsys) -> None:
    code, out, _ = search(capsys, config, "Witkoff", "--json")

    doc = json.loads(out)
    assert code == 0 and doc["history"]["articles"] == 8 and doc["history"]["oldest"]
    seen = [r["first_seen"] for r in doc["results"]]
    assert seen == sorted(seen, reverse=True) and len(seen) == 4
    code, out, _ = search(capsys, config, "Witkoff")
    assert out.splitlines()[1].startswith("stored history reaches back to")


def test_feed_and_language_narrow_the_search(config, capsys) -> None:
    _, out, _ = search(capsys, config, "Witkoff", "--lang", "ru", "--json")
    assert [r["outlet"] for r in json.loads(out)["results"]] == ["Russkaya"]
    _, out, _ = search(capsys, config, "Witkoff", "--feed", "English Wire", "--json")
    assert {r["outlet"] for r in json.loads(out)["results"]} == {"English Wire"}
    code, _, err = search(capsys, config, "Witkoff", "--feed", "Nope")
    assert code == 2 and "unknown feed 'Nope'; feeds: 'Ukrainska'" in err


def test_nothing_found_exits_1_and_a_bad_query_exits_2(config, capsys) -> None:
    code, out, _ = search(capsys, config, "Zelensky")
    assert code == 1 and "0 matching articles" in out
    code, _, err = search(capsys, config, "Witkoff AND (")
    assert code == 2 and err.startswith("error: ")
    with pytest.raises(SystemExit) as stop:
        search(capsys, config, "Witkoff", "--since", "soon")
    assert stop.value.code == 2 and "'soon' is not a duration" in capsys.readouterr().err


def test_the_listing_fits_the_terminal_and_marks_nothing_in_a_pipe(
    config, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    _, out, _ = search(capsys, config, "Witkoff")

    assert max(len(line) for line in out.splitlines()) <= 60
    assert MARK_ON not in out and "https://uk.example/paris" in out


def test_on_a_terminal_the_matched_words_are_marked(config, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = search(capsys, config, "Witkoff AND @coalition")

    assert f"{MARK_ON}Віткофф" in out and f"{MARK_ON}коаліції рішучих" in out


def test_the_index_file_is_beside_the_database_and_a_second_search_reads_less(
    config, capsys
) -> None:
    """The first search indexed every article; the next indexes nothing more and still
    reads only the candidates. Deleting the index changes no result."""
    _, first, _ = search(capsys, config, "Witkoff", "--json")
    index = config.parent / "monitor.db-history"
    assert index.exists()
    index.unlink()
    _, again, _ = search(capsys, config, "Witkoff", "--json")
    assert json.loads(first)["results"] == json.loads(again)["results"]
    _, out, _ = search(capsys, config, "Witkoff")
    assert "4 of 8 read whole" in out.splitlines()[-1]


def test_the_index_reads_only_articles_that_have_every_word_of_a_term(config, capsys) -> None:
    """'Witkoff AND @coalition': the two Paris articles are read whole, not every
    article that says 'the' (a word of "coalition of the willing") or names Witkoff."""
    _, out, _ = search(capsys, config, "Witkoff AND @coalition")
    assert out.splitlines()[-1].endswith("2 of 8 read whole")


def test_an_edited_article_is_found_by_its_new_words(tmp_path, capsys) -> None:
    """An edit changes the article's content hash: the next search indexes it again."""
    from monitor.store import db
    from monitor.store.schema import ArticleRow

    config = filled_database(tmp_path)
    code, _, _ = search(capsys, config, "Kushner")
    assert code == 1
    engine = db.make_engine(f"sqlite:///{tmp_path}/monitor.db")
    with db.make_session_factory(engine).begin() as s:
        row = s.query(ArticleRow).filter(ArticleRow.link == "https://en.example/markets").one()
        row.text += " Jared Kushner joined the call."
        row.entry_hash = "edited"

    code, out, _ = search(capsys, config, "Kushner", "--json")

    assert code == 0 and [r["link"] for r in json.loads(out)["results"]] == [
        "https://en.example/markets"
    ]
    assert json.loads(out)["timing"]["indexed"] == 1


def test_the_path_for_other_databases_finds_the_same(config, capsys, monkeypatch) -> None:
    """PostgreSQL cannot be attached to the index: its window is read through the
    session (the index is joined in Python). Same results."""
    import monitor.cli.scan as search_module

    _, attached, _ = search(capsys, config, "Witkoff OR Putin", "--json")
    monkeypatch.setattr(search_module, "sqlite_path", lambda url: None)
    _, session, _ = search(capsys, config, "Witkoff OR Putin", "--json")

    assert json.loads(session)["results"] == json.loads(attached)["results"]
    assert json.loads(session)["timing"]["read_whole"] == 4


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("elapsed", "shown"), [(0.2, False), (2.0, True)])
def test_the_progress_bar_shows_on_a_terminal_only_past_one_second(
    monkeypatch, elapsed, shown
) -> None:
    import sys

    import monitor.cli.scan as search_module

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    clock = iter([100.0, 100.0 + elapsed, 100.0 + elapsed, 100.0 + elapsed])
    monkeypatch.setattr(search_module.time, "monotonic", lambda: next(clock, 200.0))
    with search_module.Progress("indexing", 1000) as bar:
        bar.update(500)
    assert ("indexing stored articles" in terminal.getvalue()) is shown


def test_no_progress_bar_in_a_pipe(monkeypatch) -> None:
    import sys

    import monitor.cli.scan as search_module

    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    monkeypatch.setattr(search_module.time, "monotonic", lambda: 1e9)
    with search_module.Progress("indexing", 1000) as bar:
        bar.update(500)
    assert pipe.getvalue() == ""


def test_a_region_subtag_is_accepted_as_docs_say(config, capsys) -> None:
    """``--lang uk-UA`` (and ``uk_UA``) is ``uk``; an unknown language is still refused."""
    code, out, _ = search(capsys, config, "Witkoff", "--lang", "uk-UA", "--json")
    assert code == 0 and [r["outlet"] for r in json.loads(out)["results"]] == ["Ukrainska"]
    code, out, _ = search(capsys, config, "Witkoff", "--lang", "UK_ua", "--json")
    assert code == 0 and [r["outlet"] for r in json.loads(out)["results"]] == ["Ukrainska"]
    with pytest.raises(SystemExit):
        search(capsys, config, "Witkoff", "--lang", "xx-YY")
    assert "unknown language" in capsys.readouterr().err


def test_feed_takes_the_url_as_written_resolved_the_name_and_the_outlet(
    config, capsys, monkeypatch
) -> None:
    """``uk.xml`` as the config writes it (from the config's folder or the working
    directory), its resolved path, the name in any case; the error lists the choices."""
    resolved = str((config.parent / "uk.xml").resolve())
    for given in ("uk.xml", resolved, "ukrainska", "UKRAINSKA"):
        code, out, err = search(capsys, config, "Witkoff", "--feed", given, "--json")
        assert code == 0, (given, err)
        assert {r["outlet"] for r in json.loads(out)["results"]} == {"Ukrainska"}, given
    monkeypatch.chdir(config.parent)
    code, out, _ = search(capsys, config, "Witkoff", "--feed", "./uk.xml", "--json")
    assert code == 0 and {r["outlet"] for r in json.loads(out)["results"]} == {"Ukrainska"}
    code, _, err = search(capsys, config, "Witkoff", "--feed", "nope.xml")
    assert code == 2 and f"'Ukrainska' ({resolved})" in err


def test_feed_takes_the_outlet_name_a_nameless_feed_is_listed_under(tmp_path, capsys) -> None:
    """A feed without ``name`` is listed by its own title ('f' in these files)."""
    config = filled_database(tmp_path)
    text = config.read_text(encoding="utf-8").replace('name = "English Wire"\n', "")
    config.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code, out, err = search(capsys, config, "Witkoff", "--feed", "F", "--json")
    assert code == 0, err
    assert {r["feed_url"] for r in json.loads(out)["results"]} == {str(tmp_path / "en.xml")}


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_corrupted_index_is_rebuilt_once_with_a_warning(tmp_path, capsys, damage) -> None:
    """A cut or overwritten index file is deleted and built again (a warning says so);
    the next search uses the index, no 'prefilter off' forever."""
    config = filled_database(tmp_path)
    search(capsys, config, "Witkoff")
    index = tmp_path / "monitor.db-history"
    if damage == "truncate":
        with index.open("r+b") as f:
            f.truncate(4096)
    else:
        index.write_bytes(bytes(range(256)) * 64)
    code, out, err = search(capsys, config, "Witkoff", "--json")
    assert code == 0 and "cannot be read" in err and "building it again" in err
    doc = json.loads(out)
    assert doc["timing"]["prefilter"] == "index" and len(doc["results"]) == 4
    code, out, err = search(capsys, config, "Witkoff")
    assert code == 0 and err == "" and "prefilter off" not in out
