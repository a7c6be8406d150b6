"""``monitor test-rule``: output, JSON shape and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.rules import cmd_test_rule, register
from monitor.config import Config
from monitor.match import compile_rules
from monitor.records import FetchSettings, MonitorSettings, RuleConfig

TERMS = {"coalition": ("coalition of the willing", "коаліція рішучих")}
RULES = (
    RuleConfig(name="witkoff", query="Witkoff"),
    RuleConfig(name="witkoff-coalition", query="Witkoff AND @coalition"),
    RuleConfig(name="kushner", query="Kushner"),
)


class Ctx:
    """The CLI context as the handler sees it: only ``config()``."""

    def __init__(self, rules: tuple[RuleConfig, ...] = RULES) -> None:
        self._config = Config(
            path="test.toml",
            monitor=MonitorSettings(database="sqlite://"),
            fetch=FetchSettings(),
            channels={},
            terms=TERMS,
            feeds=(),
            rules=rules,
            matcher=compile_rules(rules, TERMS),
        )

    def config(self) -> Config:
        return self._config


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["test-rule", *argv])
    assert args.handler is cmd_test_rule
    code = args.handler(args, Ctx())
    out, err = capsys.readouterr()
    return code, out, err


SEED = "Стів Віткофф після зустрічі «коаліції рішучих» у Парижі."


def test_json_lists_only_matching_rules_with_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints exactly the documented shape; non-matching rules are absent."""
    code, out, _ = run(["--text", SEED, "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {
        "matched": [
            {
                "rule": "witkoff",
                "evidence": [
                    {"term": "Witkoff", "surface": "Віткофф", "field": "text", "score": 100}
                ],
            },
            {
                "rule": "witkoff-coalition",
                "evidence": [
                    {"term": "Witkoff", "surface": "Віткофф", "field": "text", "score": 100},
                    {
                        "term": "коаліція рішучих",
                        "surface": "коаліції рішучих",
                        "field": "text",
                        "score": 100,
                    },
                ],
            },
        ]
    }


def test_human_output_names_term_surface_field_and_snippet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The human report shows the term, what was found, where, and the context."""
    code, out, _ = run(["--text", SEED, "--rule", "witkoff", "--title", "Новини"], capsys)
    assert code == 0
    assert "rule witkoff: matched" in out
    assert "'Witkoff' <- 'Віткофф' in text (across scripts)" in out
    assert "Стів [Віткофф] після" in out
    assert "witkoff-coalition" not in out


def test_no_match_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1 and an empty list when no rule matches."""
    code, out, _ = run(["--text", "Nothing relevant here.", "--json"], capsys)
    assert code == 1
    assert json.loads(out) == {"matched": []}


def test_rule_option_restricts_to_one_rule_and_explains_a_miss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--rule NAME reports only that rule; when it misses, each term found or not."""
    code, out, _ = run(["--text", "Віткофф прибув.", "--rule", "witkoff-coalition"], capsys)
    assert code == 1
    assert out.splitlines()[0] == "rule witkoff-coalition: no match"
    assert "'Witkoff' <- 'Віткофф' in text (across scripts)" in out
    assert "'коаліція рішучих': not found" in out


def test_no_match_without_rule_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --rule, a miss is one line."""
    code, out, _ = run(["--text", "Nothing relevant."], capsys)
    assert (code, out.strip()) == (1, "no rule matched")


def test_unknown_rule_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --rule is a usage error naming the known rules."""
    code, _, err = run(["--text", SEED, "--rule", "nope"], capsys)
    assert code == 2
    assert "unknown rule 'nope'" in err and "witkoff-coalition" in err


def test_file_and_title_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--file reads the text; --title is matched as the title field."""
    article = tmp_path / "a.txt"
    article.write_text("Кушнер і Віткофф прилетіли.", encoding="utf-8")
    code, out, _ = run(["--file", str(article), "--title", "Kushner", "--json"], capsys)
    assert code == 0
    kushner = next(m for m in json.loads(out)["matched"] if m["rule"] == "kushner")
    assert {e["field"] for e in kushner["evidence"]} == {"title", "text"}


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable --file is reported, not a traceback."""
    code, _, err = run(["--file", str(tmp_path / "absent.txt")], capsys)
    assert code == 2 and "cannot read" in err


def test_language_option_is_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    """--language overrides detection for rules restricted by language."""
    rules = (RuleConfig(name="ru-only", query="Witkoff", languages=("ru",)),)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for lang, expected in (("uk", 1), ("ru", 0)):
        args = parser.parse_args(["test-rule", "--text", SEED, "--language", lang])
        assert cmd_test_rule(args, Ctx(rules)) == expected
    args = parser.parse_args(["test-rule", "--text", SEED, "--rule", "ru-only"])
    assert cmd_test_rule(args, Ctx(rules)) == 1
    assert "language: uk (rule wants: ru) SKIPPED" in capsys.readouterr().out


def test_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    """One of --text, --file, --url is required, or --since for a backtest (exit 2)."""
    from monitor.cli import main

    assert main(["test-rule", "--query", "Witkoff", "--json"]) == 2
    assert "give --text, --file or --url (one text), or --since" in capsys.readouterr().err
    assert main(["test-rule", "--query", "x", "--text", "x", "--since", "7d"]) == 2
    assert "--since backtests the stored articles" in capsys.readouterr().err


def test_url_source_fetches_the_article(http_server, capsys: pytest.CaptureFixture[str]) -> None:
    """--url fetches the page from a local server and matches its extracted text."""
    paragraph = "<p>Спецпосланець Стів Віткофф прибув на засідання коаліції рішучих.</p>"
    page = (
        "<html><head><title>Віткофф у Парижі</title></head><body><article>"
        f"<h1>Віткофф у Парижі</h1>{paragraph * 3}</article></body></html>"
    )
    http_server.static("/a", page.encode(), {"Content-Type": "text/html; charset=utf-8"})
    code, out, _ = run(["--url", http_server.url("/a"), "--json"], capsys)
    assert code == 0
    assert {m["rule"] for m in json.loads(out)["matched"]} >= {"witkoff", "witkoff-coalition"}


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/a"


@pytest.mark.parametrize(
    ("path", "status", "content_type", "expected"),
    [
        ("/gone", 404, "text/html", "cannot fetch URL: http_status: {url} answered HTTP 404"),
        ("/down", 503, "text/html", "cannot fetch URL: http_status: {url} answered HTTP 503"),
        ("/busy", 429, "text/html", "cannot fetch URL: rate_limited: {url} answered HTTP 429"),
        ("/doc.pdf", 200, "application/pdf", "cannot fetch URL: not_a_feed: "),
        (None, 0, "", "cannot fetch URL: network: could not talk to 127.0.0.1"),
    ],
)
def test_url_that_cannot_be_fetched_exits_2_with_one_line(
    http_server,
    capsys: pytest.CaptureFixture[str],
    path: str | None,
    status: int,
    content_type: str,
    expected: str,
) -> None:
    """A failed --url is a usage error (2), not "no rule matched" (1): one line, the kind,
    no feed-polling advice."""
    if path is None:
        url = _closed_port_url()
    else:
        url = http_server.static(path, b"%PDF-1.4", {"Content-Type": content_type}, status)
    code, out, err = run(["--url", url], capsys)
    assert (code, out) == (2, "")
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.startswith(expected.format(url=url)), err
    message = err.split(": ", 2)[2]  # after "cannot fetch URL: <kind>: "
    assert "feed" not in message and "retry" not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://reader:Sup3rS3cretPass@127.0.0.1:{port}/missing",
        "http://127.0.0.1:{port}/missing?token=Sup3rS3cretPass",
    ],
)
def test_url_failure_masks_secrets(
    http_server, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Credentials in the URL never reach the error line."""
    code, _, err = run(["--url", url.format(port=http_server.port)], capsys)
    assert code == 2 and err.startswith("cannot fetch URL: http_status: ")
    assert "Sup3rS3cretPass" not in err and "HTTP 404" in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """``test-rule --help`` states what 0, 1 and 2 mean."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["test-rule", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 = some rule matched, 1 = no rule matched" in help_text
    assert "--url that cannot be fetched" in help_text


def test_evidence_names_the_group_members_that_found_one_surface_once(tmp_path, capsys):
    """A @group whose members all find the same word is one evidence line, not one per
    member, and says how the surface relates to the terms."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[terms]\nwitkoff = ["Witkoff", "Віткофф", "Уиткофф"]\n'
        '[[rules]]\nname = "w"\nquery = "@witkoff"\n',
        encoding="utf-8",
    )
    code = main(["--config", str(config), "test-rule", "--text", "Стів Віткоффа зустріли."])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count(" <- ") == 1, out
    assert "'Witkoff', 'Віткофф', 'Уиткофф' <- 'Віткоффа' in text (another form)" in out
