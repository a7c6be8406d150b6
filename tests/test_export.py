"""``--json`` and ``--csv`` of ``alerts``, ``search`` and the backtest: they parse, carry
the links, give ISO 8601 times with an offset; hostile stored text (escape sequences,
bidi overrides, a 100,000-character title, a spreadsheet formula) breaks neither the
terminal table nor the files."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.alerts import ALERT_COLUMNS
from monitor.cli.search import CSV_COLUMNS
from monitor.store import db
from monitor.store.schema import ArticleRow
from tests.history_support import filled_database

HOSTILE = '=HYPERLINK("x")\x1b[31m Putin \u202eevil\u202c\x00 ' + "long " * 20_000


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = filled_database(tmp_path_factory.mktemp("export"))
    engine = db.make_engine(f"sqlite:///{path.parent}/monitor.db")
    with db.make_session_factory(engine).begin() as s:  # as stored before scrubbing existed
        row = s.query(ArticleRow).filter(ArticleRow.link == "https://en.example/moscow").one()
        row.title = HOSTILE
    return path


def out_of(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> str:
    code = main(["--config", str(config), *argv])
    assert code == 0
    return capsys.readouterr().out


def _iso(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    assert at.utcoffset() is not None, value
    return at


def test_alerts_json_and_csv_carry_links_and_times_with_an_offset(config, capsys) -> None:
    doc = json.loads(out_of(capsys, config, "alerts", "--json"))
    [alert] = doc["alerts"]
    assert list(alert) == list(ALERT_COLUMNS)
    assert alert["link"] == "https://en.example/moscow" and alert["status"] == "sent"
    _iso(alert["created_at"]), _iso(alert["sent_at"])
    assert "\x1b" not in alert["title"] and "\u202e" not in alert["title"]

    rows = list(csv.DictReader(io.StringIO(out_of(capsys, config, "alerts", "--csv"))))
    assert list(rows[0]) == list(ALERT_COLUMNS) and len(rows) == 1
    assert rows[0]["link"] == "https://en.example/moscow"
    assert rows[0]["title"].startswith("'=HYPERLINK")  # never a formula in a spreadsheet
    _iso(rows[0]["created_at"])


def test_search_csv_parses_and_carries_every_link(config, capsys) -> None:
    text = out_of(capsys, config, "search", "Witkoff", "--csv")

    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["link"] for r in rows} == {
        "https://uk.example/paris",
        "https://ru.example/paris",
        "https://en.example/moscow",
        "https://en.example/finland",
    }
    assert all(_iso(r["first_seen"]) for r in rows)
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text
    hostile = next(r for r in rows if r["link"].endswith("moscow"))
    assert hostile["title"].startswith("'=") and "Putin" in hostile["title"]


def test_backtest_json_parses_and_carries_the_links(config, capsys) -> None:
    doc = json.loads(
        out_of(capsys, config, "test-rule", "--rule", "putin", "--since", "7d", "--json")
    )
    assert [a["link"] for a in doc["articles"]] == ["https://en.example/moscow"]
    assert doc["rules"] == ["putin"] and _iso(doc["since"])


@pytest.mark.parametrize("columns", ["80", "50", "200"])
def test_hostile_text_never_reaches_the_terminal(config, capsys, monkeypatch, columns) -> None:
    """No escape, bidi or NUL character and no line wider than COLUMNS, in every table."""
    monkeypatch.setenv("COLUMNS", columns)
    for argv in (
        ["alerts"],
        ["search", "Putin"],
        ["test-rule", "--query", "Putin", "--since", "7d"],
    ):
        out = out_of(capsys, config, *argv)
        assert "putin" in out.lower()
        assert not any(c in out for c in "\x1b\u202e\u202c\x00"), argv
        assert max(map(len, out.splitlines())) <= int(columns), argv


def test_alerts_wide_has_the_whole_title_and_link(config, capsys) -> None:
    out = out_of(capsys, config, "alerts", "--wide")
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["ID", "TIME", "RULE"] and header.rstrip().endswith("LINK")
    assert "NEXT TRY" in header and "LAST ERROR" in header and "CHANNEL" in header
    assert row.endswith("https://en.example/moscow") and "long long" in row and "\x1b" not in row


@pytest.mark.parametrize("columns", ["80", "60"])
def test_the_feeds_table_fits_the_terminal_and_wide_has_it_whole(
    config, capsys, monkeypatch, columns
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    out = out_of(capsys, config, "feeds")
    assert out.split()[:2] == ["NAME", "STATUS"] and "Ukrainska" in out and "ok" in out
    assert max(map(len, out.splitlines())) <= int(columns)
    wide = out_of(capsys, config, "feeds", "--wide")
    assert str(config.parent / "uk.xml") in wide and "NEXT CHECK" in wide


@pytest.mark.parametrize(
    ("text", "span", "width", "shown", "marked"),
    [
        ("Віткофф у Парижі", (0, 7), 80, "Віткофф у Парижі", "Віткофф"),
        ("\x1b[2J\u202eBad\u202c Witkoff here", (10, 17), 80, "[2JBad Witkoff here", "Witkoff"),
        ("a\n\n b  Witkoff", (7, 14), 80, "a b Witkoff", "Witkoff"),
        ("long " * 30 + "Witkoff", (150, 157), 20, "long long long long…", None),
        ("Witkoff " + "x" * 100, (0, 7), 12, "Witkoff xxx…", "Witkoff"),
    ],
)
def test_marked_line_keeps_the_marks_on_the_words_after_scrubbing_and_cutting(
    text, span, width, shown, marked
) -> None:
    from monitor.cli.output import MARK_OFF, MARK_ON, marked_line

    line = marked_line(text, [span], width, mark=True)
    assert line.replace(MARK_ON, "").replace(MARK_OFF, "") == shown
    assert marked_line(text, [span], width, mark=False) == shown
    if marked is None:
        assert MARK_ON not in line
    else:
        assert f"{MARK_ON}{marked}{MARK_OFF}" in line


MANY = [
    ("en", 1 + n, f"https://en.example/w{n}", f"Witkoff item {n}", f"Witkoff said {n} things.")
    for n in range(55)
]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_database(tmp_path_factory.mktemp("many"), entries=MANY)


def test_json_and_csv_export_every_match_without_limit(many, capsys) -> None:
    """The listing stops at 50 and says --json and --csv give them all: they do (a file
    export is wanted whole); --limit N still limits them."""
    listing = out_of(capsys, many, "test-rule", "--query", "Witkoff", "--since", "7d")
    assert "… 5 more (--limit N, or --json or --csv for them all)" in listing
    doc = json.loads(
        out_of(capsys, many, "test-rule", "--query", "Witkoff", "--since", "7d", "--json")
    )
    assert doc["matched"] == 55 and len(doc["articles"]) == 55 and doc["limited"] is False
    rows = list(
        csv.DictReader(
            io.StringIO(
                out_of(capsys, many, "test-rule", "--query", "Witkoff", "--since", "7d", "--csv")
            )
        )
    )
    assert len(rows) == 55
    doc = json.loads(out_of(capsys, many, "search", "Witkoff", "--json"))
    assert len(doc["results"]) == 55 and doc["limited"] is False
    assert (
        len(list(csv.reader(io.StringIO(out_of(capsys, many, "search", "Witkoff", "--csv"))))) == 56
    )
    doc = json.loads(out_of(capsys, many, "search", "Witkoff", "--json", "--limit", "10"))
    assert len(doc["results"]) == 10 and doc["limited"] is True
    assert "the 50 newest" in out_of(capsys, many, "search", "Witkoff").splitlines()[-1]


def test_read_whole_counts_the_articles_read_not_those_offered(many, capsys) -> None:
    """--limit 3 stops the scan after 3 of the 55 offered: '3 of 55 read whole'."""
    last = out_of(capsys, many, "search", "Witkoff", "--limit", "3").splitlines()[-1]
    assert last.endswith("; 3 of 55 read whole"), last
    doc = json.loads(out_of(capsys, many, "search", "Witkoff", "--json", "--limit", "3"))
    # one more read than listed: it tells that there are more ("limited": true)
    assert doc["timing"]["read_whole"] == 4 and doc["timing"]["candidates"] == 55


def test_alerts_wide_cuts_no_column(tmp_path, capsys) -> None:
    """A rule name of 30 characters and a long last error are whole in --wide."""
    rule = "witkoff-coalition-of-the-willing"
    path = filled_database(
        tmp_path,
        extra=f'\n[[rules]]\nname = "{rule}"\nquery = "Witkoff"\nchannels = ["console"]\n',
    )
    error = "could not post: " + "the server answered 503 Service Unavailable " * 3
    engine = db.make_engine(f"sqlite:///{path.parent}/monitor.db")
    from monitor.store.schema import AlertRow

    with db.make_session_factory(engine).begin() as s:
        for row in s.query(AlertRow):
            row.last_error = error
    capsys.readouterr()
    out = out_of(capsys, path, "alerts", "--wide")
    assert "…" not in out
    rows = [line for line in out.splitlines() if rule in line]
    assert rows and all(error.rstrip() in line for line in rows)
    header = out.splitlines()[0]
    for line in rows:  # every column starts where its heading does
        assert line.index(rule) == header.index("RULE")
        assert line.index(error.rstrip()) == header.index("LAST ERROR")


@pytest.mark.parametrize("columns", ["80", "60", "100"])
def test_the_feeds_header_is_cut_where_its_rows_are(config, capsys, monkeypatch, columns) -> None:
    """Header and rows are cut at the same column: the header is as long as the rows
    (it lost 'LAST ERROR' while the rows kept their '-'), and URL starts where they do."""
    monkeypatch.setenv("COLUMNS", columns)
    lines = out_of(capsys, config, "feeds").splitlines()
    header, rows = lines[0], [line for line in lines[1:] if " ok " in line]
    assert len(rows) == 3
    for row in rows:
        assert len(row) <= int(columns)
        if "LAST ERROR" in header:
            assert row[header.index("LAST ERROR")] == "-", (header, row)
        else:  # cut: at the same column as the rows
            assert header.endswith("…") and len(header) == len(row), (header, row)
