"""Config values that cannot work are config errors: one line naming file, key and line.

NaN, infinite, negative or absurd durations and sizes, ports out of range, a timezone
no tzdata file can have, entries of ``[[feeds]]``/``[[rules]]`` that are not tables:
each is refused when the file loads (exit 2), never a traceback and never a value
that passes ``check-config`` and then breaks every poll. The fuzz test at the end
replaces every value of the (fully uncommented) example config with values of other
types and asserts that loading either works or raises :class:`ConfigError`.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config, spec, validate
from monitor.errors import ConfigError
from monitor.match import compile_rules
from tests.support import ROOT, run_monitor
from tests.test_config import ENV, valid, write

KYIV = 'timezone = "Europe/Kyiv"'
FEED_URL = 'url = "https://example.org/rss"'
DESK = 'desk = "json://127.0.0.1:9/hook"'
DATABASE = 'database = "sqlite:///'  # the rest of its line becomes a comment

# (text replaced in tests.test_config.VALID, its replacement, key, line, words in the message)
CASES = [
    (KYIV, f"{KYIV}\nbacklog = nan", "monitor.backlog", 4, "nan is not a duration"),
    (KYIV, f"{KYIV}\nbacklog = inf", "monitor.backlog", 4, "too long: at most 36500d"),
    (KYIV, f"{KYIV}\nbacklog = -inf", "monitor.backlog", 4, "must not be negative"),
    (KYIV, f"{KYIV}\nfeed_broken_after = -1", "monitor.feed_broken_after", 4, "must not be"),
    (KYIV, f'{KYIV}\npoll_interval = "{"9" * 400}s"', "monitor.poll_interval", 4, "too long"),
    (KYIV, f"{KYIV}\nretention = 1e308", "monitor.retention", 4, "too long"),
    (KYIV, f'{KYIV}\nhttp = "127.0.0.1:99999"', "monitor.http", 4, "between 1 and 65535"),
    (KYIV, 'timezone = "' + "x" * 300 + '"', "monitor.timezone", 3, "unknown timezone"),
    (KYIV, 'timezone = "../../etc/passwd"', "monitor.timezone", 3, "unknown timezone"),
    (KYIV, f'{KYIV}\noperator_channel = ["desk"]', "monitor.operator_channel", 4, "channel name"),
    (KYIV, f"{KYIV}\noperator_channel = 5", "monitor.operator_channel", 4, "got int 5"),
    (DATABASE, 'database = ""\n# ', "monitor.database", 2, "non-empty"),
    (
        DATABASE,
        'database = "postgresql+psycopg://u:secret@db:99999/x"\n# ',
        "monitor.database",
        2,
        "port 99999 is out of range",
    ),
    (
        "[channels]",
        '[fetch]\nmax_bytes = "' + "9" * 400 + '"\n\n[channels]',
        "fetch.max_bytes",
        6,
        "too large",
    ),
    ("[channels]", "[fetch]\nmax_bytes = nan\n\n[channels]", "fetch.max_bytes", 6, "not a size"),
    ("[channels]", "[fetch]\ntimeout = nan\n\n[channels]", "fetch.timeout", 6, "nan is not"),
    (
        "[channels]",
        "[fetch]\nconnect_timeout = inf\n\n[channels]",
        "fetch.connect_timeout",
        6,
        "too long",
    ),
    (
        "[channels]",
        '[fetch]\nuser_agent = "bot\\u00e9"\n\n[channels]',
        "fetch.user_agent",
        6,
        "ASCII",
    ),
    ("[channels]", '[fetch]\nuser_agent = "a\\nb"\n\n[channels]', "fetch.user_agent", 6, "ASCII"),
    (FEED_URL, 'url = "http://127.0.0.1:99999/"', "feeds[0].url", 13, "port 99999 is out of range"),
    (FEED_URL, 'url = "http://127.0.0.1:0/"', "feeds[0].url", 13, "port 0 is out of range"),
    (FEED_URL, 'url = "http://example.org:http/"', "feeds[0].url", 13, "not a number"),
    (FEED_URL, 'url = "http://[::1/rss"', "feeds[0].url", 13, "not a valid URL"),
    (FEED_URL, 'url = "https://exa mple.org/rss"', "feeds[0].url", 13, "percent-encode"),
    (FEED_URL, 'url = "https://ex\\u202eample.org/"', "feeds[0].url", 13, "HTTP client"),
    (FEED_URL, 'url = "http://a..b/"', "feeds[0].url", 13, "label empty or too long"),
    (FEED_URL, 'url = "http://' + "a" * 70 + '.example/"', "feeds[0].url", 13, "too long"),
    (FEED_URL, 'url = "http://x.example/' + "a" * 9000 + '"', "feeds[0].url", 13, "in 2048"),
    (FEED_URL, 'url = "http://x.example/' + "a" * 2100 + '"', "feeds[0].url", 13, "in 2048"),
    (FEED_URL, 'url = "' + "x" * 300 + '.xml"', "feeds[0].url", 13, "local file path"),
    (FEED_URL, f"{FEED_URL}\ntimeout = 0", "feeds[0].timeout", 14, "more than 0s"),
    (FEED_URL, f"{FEED_URL}\nmax_bytes = -1", "feeds[0].max_bytes", 14, "must not be negative"),
    (FEED_URL, f"{FEED_URL}\nbacklog = nan", "feeds[0].backlog", 14, "nan is not a duration"),
    (FEED_URL, f"{FEED_URL}\ninterval = 1e400", "feeds[0].interval", 14, "too long"),
    (
        DESK,
        'desk = "json://127.0.0.1:99999/hook"',
        "channels.desk",
        6,
        "port 99999 is out of range",
    ),
    (
        DESK,
        'desk = "mailtos://u:p@example.org:99999?to=desk@example.org"',
        "channels.desk",
        6,
        "port 99999",
    ),
    (
        DESK,
        'desk = "mailtos://u:p@example.org?to=d@example.org&smtp=smtp.example.org:70000"',
        "channels.desk",
        6,
        "port 70000",
    ),
    (
        DESK,
        'desk = { url = "json://127.0.0.1/h", rate_limit = "' + "9" * 400 + '/s" }',
        "channels.desk.rate_limit",
        6,
        "too fast",
    ),
    (
        'channels = ["desk"]',
        'channels = ["desk"]\ndelivery = "digest"\ndigest = 0',
        "rules[0].digest",
        20,
        'use "hourly" or "daily 08:00"',
    ),
    (KYIV, f"{KYIV}\nmax_attempts = 1{'0' * 5000}", None, None, "invalid TOML"),
]


@pytest.mark.parametrize(("old", "new", "key", "line", "words"), CASES)
def test_value_that_cannot_work_is_a_config_error_at_its_key_and_line(
    tmp_path: Path, old: str, new: str, key: str | None, line: int | None, words: str
) -> None:
    text = valid(tmp_path)
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    err = info.value
    assert (err.key, err.line) == (key, line), str(err)
    assert words in str(err) and str(path) in str(err)
    assert "\n" not in str(err) and len(str(err)) < 300
    assert "secret" not in str(err)


def test_a_space_in_a_feed_url_path_still_works_as_it_always_did(tmp_path: Path) -> None:
    """Only a space in the host is an error: the fetcher sends a path's space as %20."""
    text = valid(tmp_path).replace(FEED_URL, 'url = "https://example.org/a b.xml"', 1)
    assert load_config(write(tmp_path, text), ENV).feeds[0].url == "https://example.org/a b.xml"


@pytest.mark.parametrize(
    ("section", "entry", "key", "words"),
    [
        ("feeds", '["https://example.org/rss"]', "feeds[0]", 'table with url = "https://..."'),
        ("feeds", "[{}, 5]", "feeds[0]", 'every feed needs url = "https://..."'),
        ("feeds", '[{ url = "https://example.org/rss" }, 5]', "feeds[1]", "must be a table"),
        ("rules", "[5]", "rules[0]", 'table with name = "...", query = "..."'),
        ("rules", '[["x"]]', "rules[0]", "must be a table"),
    ],
)
def test_feeds_and_rules_entries_must_be_tables(
    tmp_path: Path, section: str, entry: str, key: str, words: str
) -> None:
    """``feeds = ["url"]`` or ``rules = [5]`` (before any table: a top-level key) is
    refused with what to write instead, at the line of the key."""
    path = write(tmp_path, f'{section} = {entry}\n\n[channels]\ndesk = "console://"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    assert info.value.key == key and info.value.line == 1, str(info.value)
    assert words in str(info.value)


def test_a_key_or_value_with_control_characters_is_reported_on_one_printable_line(
    tmp_path: Path,
) -> None:
    """A channel named with a newline and an escape sequence: the error is still one
    line, and the escape is written out, not sent to the operator's terminal."""
    path = write(tmp_path, '[channels]\n"a\\nb\\u001b[2J" = 5\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    text = str(info.value)
    assert "\n" not in text and "\x1b" not in text
    assert "a\\nb\\x1b[2J" in text


def test_min_sources_above_the_number_of_feeds_is_a_warning(tmp_path: Path) -> None:
    text = valid(tmp_path).replace('channels = ["desk"]', 'channels = ["desk"]\nmin_sources = 3')
    config = load_config(write(tmp_path, text), ENV)
    assert any("min_sources = 3" in w and "never alert" in w for w in config.warnings)


# -- the fuzz: every value of the example config, replaced by hostile ones -------------
EXAMPLE_ENV = {
    "TELEGRAM_BOT_TOKEN": "123456:AAFakeTokenForTestsOnly",
    "TELEGRAM_CHAT_ID": "42",
    "SMTP_USER": "desk",
    "SMTP_PASSWORD": "hunter2",
}
HOSTILE: tuple[Any, ...] = (
    "",
    "null",
    True,
    0,
    -1,
    -0.5,
    2**63 - 1,
    -(2**63),
    10**400,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    "x" * 5000,
    "9" * 400,
    "-5m",
    "99999999999999999999s",
    "a\nb",
    "\u202e\u0000\x7f",
    "http://127.0.0.1:99999/",
    "http://[::1/",
    "json://127.0.0.1:99999/hook",
    "file:///" + "x" * 300,
    [],
    [1, "a"],
    [[]],
    [{}],
    {},
    {"url": 5},
    dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC),
    dt.date(1979, 5, 27),
    dt.time(7, 32),
)


# Free text compiled into the matcher (rule names and queries, terms): of the strings
# only these few, since each distinct one is a compile with the inflection
# dictionaries; the query language has its own generated-query tests.
TEXT_HOSTILE = ("", "x" * 5000, "a\nb", "\u202e\u0000\x7f")


def hostile_values(where: tuple[Any, ...]) -> tuple[Any, ...]:
    """The values to put at ``where``: fewer strings where the text is a query."""
    if (where[0] == "rules" and where[-1] in ("name", "query")) or where[0] == "terms":
        return tuple(v for v in HOSTILE if not isinstance(v, str)) + TEXT_HOSTILE
    return HOSTILE


def full_example() -> dict[str, Any]:
    """config.example.toml with every commented-out ``key = value`` line that parses
    on its own switched on (except ``include``, which names a file that is not there),
    plus the feed, rule and channel options the example does not show."""
    lines = []
    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#\s*(\w+\s*=.*)$", line)
        if m and not m.group(1).startswith("include"):
            try:
                tomllib.loads(m.group(1))
                line = m.group(1)
            except tomllib.TOMLDecodeError:
                pass
        lines.append(line)
    data = tomllib.loads("\n".join(lines))
    data["feeds"] = data["feeds"][:2]  # a local file and a URL: the others are alike
    data["feeds"][1].update(full_text=True, timeout="20s", max_bytes="5MiB")
    data["rules"][0].update(
        languages=["uk", "en"], priority="high", min_sources=1, on_update="alert"
    )
    data["channels"]["mail"]["rate_limit"] = "20/min"
    data["channels"]["desk"] = {"url": data["channels"]["desk"], "story_updates": "reply"}
    return data


def toml_value(value: Any) -> str:
    """``value`` written as TOML (inline tables and arrays; nan and inf as TOML has them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return (
            '"'
            + "".join(
                c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value
            )
            + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # datetime, date, time


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in data.items())


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every value's path; each section, each array entry and each table is one too."""
    if path:
        yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaf_paths(v, (*path, k))
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            yield from leaf_paths(v, (*path, i))


def replaced(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    where = out
    for step in path[:-1]:
        where = where[step]
    where[path[-1]] = value
    return out


_COMPILED: dict[Any, Any] = {}


def compile_once(rules: Any, terms: Any) -> Any:
    """The real compiler, once per distinct input: a matcher depends only on each rule's
    name, query and languages and on the terms, and most fuzzed configs share the
    example's (compiling them, with the inflection dictionaries, is most of a load)."""
    key = (
        tuple((r.name, r.query, tuple(r.languages)) for r in rules),
        tuple((k, tuple(v)) for k, v in terms.items()),
    )
    if key not in _COMPILED:
        _COMPILED[key] = compile_rules(rules, terms)
    return _COMPILED[key]


def test_example_config_fully_switched_on_is_valid_and_covers_every_key(tmp_path: Path) -> None:
    """The base of the fuzz loads, and holds every key of every section (except the
    two that name files: ``include`` and a channel's ``template``)."""
    data = full_example()
    path = tmp_path / "config.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    load_config(path, EXAMPLE_ENV)
    written = {p[-1] for p in leaf_paths(data) if isinstance(p[-1], str)}
    every = {
        k.name
        for keys in (spec.MONITOR, spec.FETCH, spec.FEED, spec.RULE, spec.CHANNEL)
        for k in keys
    }
    every |= {*spec.MONITOR_OWN, *spec.FEED_OWN, *spec.RULE_OWN, *spec.CHANNEL_OWN}
    assert every - written == {"include", "template"}


def test_every_value_of_the_example_replaced_by_a_hostile_one_loads_or_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 1,800 configs: each loads, or raises ConfigError with one line; never a
    TypeError, OverflowError, OSError or any other traceback."""
    monkeypatch.setattr(validate, "compile_rules", compile_once)
    base = full_example()
    path = tmp_path / "config.toml"
    failures: list[str] = []
    refused = 0
    for where in leaf_paths(base):
        for value in hostile_values(where):
            path.write_text(toml_document(replaced(base, where, value)), encoding="utf-8")
            try:
                load_config(path, EXAMPLE_ENV)
            except ConfigError as exc:
                refused += 1
                if "\n" in str(exc) or len(str(exc)) > 400:
                    failures.append(f"{where} = {value!r:.40}: not one short line: {exc!s:.200}")
            except Exception as exc:  # noqa: BLE001 - what this test looks for
                failures.append(f"{where} = {value!r:.40}: {type(exc).__name__}: {exc!s:.120}")
    assert not failures, "\n".join(failures)
    assert refused > 1000  # the hostile values were seen, not all defaulted away


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (FEED_URL, 'url = "http://127.0.0.1:99999/"', "feeds[0].url"),
        (KYIV, 'timezone = "' + "Europe/" * 40 + '"', "monitor.timezone"),
        (KYIV, f"{KYIV}\nbacklog = nan", "monitor.backlog"),
        ("[[rules]]", "[[rules]]\n[[rules]]", "rules[0]"),
    ],
)
def test_check_config_exits_2_with_one_line(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = write(tmp_path, valid(tmp_path).replace(old, new, 1))
    proc = run_monitor(path, "check-config", env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"config error: {path}:"), proc.stderr
    assert f": {key}: " in lines[0]


@pytest.mark.parametrize(
    "command",
    [["check-config"], ["status"], ["feeds"], ["alerts"], ["db", "backup", "{tmp}/b.db"],
     ["db", "optimize"], ["run", "--once"], ["test-rule", "--text", "x"]],
    ids=lambda c: " ".join(c[:2]),
)  # fmt: skip
def test_every_command_reports_a_bad_config_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """`config error: FILE:LINE: KEY: ...`, one line, exit 2, whichever command loads it."""
    from monitor.cli import main

    text = valid(tmp_path).replace(KYIV, f"{KYIV}\nbacklog = nan", 1)
    path = write(tmp_path, text)
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    assert main(["--config", str(path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"config error: {path}:4: monitor.backlog:")
