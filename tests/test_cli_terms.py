"""``monitor terms show`` and ``monitor test-rule --query``, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.match import compile_rules
from monitor.records import Document, RuleConfig

CONFIG = """\
[monitor]
database = "sqlite:///{db}"

[terms]
coalition = ["coalition of the willing", "коаліція охочих"]

[[rules]]
name = "witkoff"
query = 'Witkoff'
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "m.db"), encoding="utf-8")
    return path


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _accepted(term: str, form: str) -> bool:
    matcher = compile_rules([RuleConfig(name="r", query=term)], {})
    doc = Document(title="", text=f"Учора {form} сказав.")
    return any(e.surface == form for m in matcher.match(doc) for e in m.evidence)


def test_terms_show_lists_sound_renderings_and_case_forms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``Trump`` shows «Трамп» by sound with its case forms, and says lower case misses."""
    monkeypatch.chdir(tmp_path)  # no config needed for a bare name
    data = _json(["terms", "show", "Trump", "--json"], capsys)
    assert data["term"] == "Trump" and data["name"] is True
    by_text = {r["text"]: r for r in data["renderings"]}
    assert by_text["Трамп"]["origin"] == "sound"
    assert {"Трампа", "Трампом", "Трампові"} <= set(by_text["Трамп"]["forms"])
    assert by_text["Trump"]["origin"] == "written"
    assert any("«трамп» is not matched" in n for n in data["notes"])


def test_every_form_shown_is_accepted_by_the_matcher(capsys: pytest.CaptureFixture[str]) -> None:
    """The output never promises what the matcher does not do."""
    data = _json(["terms", "show", "Lavrov", "--json"], capsys)
    shown = [f for r in data["renderings"] for f in [r["text"], *r["forms"]]]
    assert "Лавров" in shown and "Лаврова" in shown
    for form in shown:
        assert _accepted("Lavrov", form), form
    for form in [f for r in data["renderings"] for f in r["missed"]]:
        assert not _accepted("Lavrov", form), form


def test_terms_show_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    """One line per rendering: the spelling, its origin and its forms."""
    assert main(["terms", "show", "Witkoff"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Witkoff  (a name")
    assert any(line.split()[:2] == ["Віткофф", "spelling"] for line in out.splitlines())


def test_terms_show_group_lists_each_member_as_an_alias(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``@coalition`` needs the config; each member is an alias with its inflected forms."""
    data = _json(["--config", str(config), "terms", "show", "@coalition", "--json"], capsys)
    assert data["term"] == "@coalition" and data["group"] == "coalition"
    members = {m["term"]: m for m in data["members"]}
    assert list(members) == ["coalition of the willing", "коаліція охочих"]
    first = members["коаліція охочих"]["renderings"][0]
    assert first["origin"] == "alias" and "коаліції охочих" in first["forms"]


def test_terms_show_unknown_group_exits_2_with_a_suggestion(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "terms", "show", "@coalitoin"]) == 2
    assert "did you mean @coalition?" in capsys.readouterr().err


def test_test_rule_query_tries_a_query_without_the_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--query`` matches like a rule named ``query``; JSON as for configured rules."""
    monkeypatch.chdir(tmp_path)
    argv = ["test-rule", "--query", "Trump NEAR/5 Putin", "--text", "Трамп зустрівся з Путіним"]
    data = _json([*argv, "--json"], capsys)
    assert data == {
        "matched": [
            {
                "rule": "query",
                "evidence": [
                    {"term": "Trump", "surface": "Трамп", "field": "text", "score": 100},
                    {"term": "Putin", "surface": "Путіним", "field": "text", "score": 100},
                ],
            }
        ]
    }
    assert main(["test-rule", "--query", "Trump", "--text", "Байден"]) == 1
    assert "'Trump': not found" in capsys.readouterr().out


def test_test_rule_explains_a_near_rule_whose_terms_are_absent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Explaining a miss of NEAR with neither term present crashed (KeyError) before."""
    assert main(["test-rule", "--query", "Tusk NEAR/5 Putin", "--text", "Байден"]) == 1
    out = capsys.readouterr().out
    assert "'Tusk': not found" in out and "'Putin': not found" in out


def test_test_rule_query_resolves_groups_from_the_config(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(config), "test-rule", "--text", "Віткофф і коаліція охочих"]
    assert main([*argv, "--query", "Witkoff @coalition"]) == 0
    capsys.readouterr()
    assert main([*argv, "--query", "Witkoff @coalitoin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --query: unknown group @coalitoin")
    assert "did you mean @coalition?" in err


def test_test_rule_query_lint_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-rule", "--query", "Witkoff -Putin", "--text", "x"]) == 2
    assert "did you mean NOT Putin?" in capsys.readouterr().err


def test_query_and_rule_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["test-rule", "--query", "x", "--rule", "y", "--text", "z"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("Tusk AND Putin", "is a query (AND)"),
        ("Tusk NEAR/5 Putin", "is a query (NEAR/5)"),
        ("", "needs a word or phrase"),
        ("A B C D E F G H", "up to 6 words"),
    ],
)
def test_terms_show_refuses_what_is_not_one_term(
    term: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["terms", "show", term]) == 2
    assert message in capsys.readouterr().err


def test_terms_show_lists_a_place_by_its_other_names(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["terms", "show", "Israel", "--json"], capsys)
    places = {r["text"]: r for r in data["renderings"] if r["origin"] == "place"}
    assert "Ізраїль" in places and "Ізраїлю" in places["Ізраїль"]["forms"]
    assert "Израиль" in places
