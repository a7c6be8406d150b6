"""Query linting: queries that parse but surely mean something else are config errors
with a suggestion, at ``check-config`` and at load (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import QueryError
from monitor.match import compile_rules
from monitor.records import Document, RuleConfig

GROUPS = {"coalition": ["coalition of the willing", "коаліція рішучих"]}

CONFIG = """\
[monitor]
database = "sqlite:///{db}"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих"]

[[rules]]
name = "first"
query = 'Witkoff'

[[rules]]
name = "second"
query = '{query}'
"""


def _compile(query: str) -> None:
    compile_rules([RuleConfig(name="r", query=query)], GROUPS)


@pytest.mark.parametrize(
    ("query", "position", "suggestion"),
    [
        ("Witkoff -Putin", 8, "did you mean NOT Putin?"),
        ('Witkoff -"Steve Bannon"', 8, 'did you mean NOT "Steve Bannon"?'),
        ("Witkoff title:-Putin", 14, "did you mean NOT Putin?"),
        ("Witkoff NEAR Putin", 8, "NEAR/5"),
        ("Witkoff near/5 Putin", 8, "did you mean NEAR/5?"),
        ("Witkoff Near/12 Putin", 8, "did you mean NEAR/12?"),
        ("Witkoff and Putin", 8, "did you mean AND?"),
        ("Witkoff or Putin", 8, "did you mean OR?"),
        ("Witkoff not Putin", 8, "did you mean NOT?"),
        ("(Witkoff or Kushner) Putin", 9, "did you mean OR?"),
        ("TITLE:Witkoff", 0, "did you mean title:Witkoff?"),
        ("TITLE: Witkoff", 0, "field scopes are lower-case"),
        ("text:Witkoff", 0, "unknown field scope text: (valid: title:"),
        ("Witkoff body:Putin", 8, "unknown field scope body:"),
        ("Witkoff @coalitoin", 8, "did you mean @coalition?"),
        ("@Coaliton", 0, "did you mean @coalition?"),
        ("Witkoff !Putin", 8, "did you mean NOT Putin?"),
        ("Witkoff +Putin", 8, "'+' is not an operator"),
        ("Witkoff ~Putin", 8, "[terms] group"),
        ("Witkoff NEAR5 Putin", 8, "did you mean NEAR/5?"),
        ("Witkoff W/5 Putin", 8, "did you mean NEAR/5?"),
        ("title:title:Witkoff", 6, "title: is given twice"),
        ("Witkoff -(Putin OR Trump)", 8, "to exclude, write NOT"),
    ],
)
def test_query_that_means_something_else_is_refused_with_a_suggestion(
    query: str, position: int, suggestion: str
) -> None:
    """Each lint case is a QueryError at the offending word, saying what to write."""
    with pytest.raises(QueryError) as err:
        _compile(query)
    assert suggestion in err.value.message
    assert err.value.position == position


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Jean-Noël", "Jean-Noël Barrot a dit"),
        ("Ле-Бурже", "салон у Ле-Бурже"),
        ('"Trump - Putin"', "Trump - Putin summit"),
        ('"coalition of the willing"', "the coalition of the willing met"),
        ('Witkoff "and" Putin', "Witkoff and Putin"),
        ('"not" Witkoff', "not Witkoff"),
        ("title:Witkoff", ""),
        ("Witkoff NEAR/5 Putin", "Witkoff met Putin"),
        ("near Witkoff", "near Witkoff"),
    ],
)
def test_legitimate_hyphens_quoted_words_and_scopes_still_compile(query: str, text: str) -> None:
    """Hyphens inside words and phrases, quoted lower-case words, ``title:`` and the plain
    word "near" are what they look like, and still match."""
    matcher = compile_rules([RuleConfig(name="r", query=query)], GROUPS)
    if text:
        assert matcher.match(Document(title="", text=text)), query


def test_unknown_group_without_a_close_name_suggests_nothing() -> None:
    """No "did you mean" when no defined group is close."""
    with pytest.raises(QueryError) as err:
        _compile("@zzz")
    assert "did you mean" not in str(err.value)
    assert "[terms]" in str(err.value)


def test_check_config_reports_a_lint_like_other_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check-config`` exits 2 with ``config error: FILE:LINE: rules[N].query: ...``."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "m.db", query="Witkoff -Putin"), encoding="utf-8")
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"config error: {path}:13: rules[1].query: rule 'second': ")
    assert "did you mean NOT Putin? (at character 9)" in err


def test_a_lint_stops_the_config_loading_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lint runs where the rules compile, so ``test-rule`` refuses the config too."""
    path = tmp_path / "config.toml"
    path.write_text(
        CONFIG.format(db=tmp_path / "m.db", query="Witkoff and Putin"), encoding="utf-8"
    )
    assert main(["--config", str(path), "test-rule", "--text", "Witkoff"]) == 2
    assert "did you mean AND?" in capsys.readouterr().err
