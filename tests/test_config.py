"""Config contract: every error path names the file, the key, the line, and exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import time
from pathlib import Path

import pytest

from monitor.config import load_config, spec
from monitor.config.units import (
    parse_digest,
    parse_duration,
    parse_quiet_hours,
    parse_rate,
    parse_size,
)
from monitor.errors import ConfigError
from monitor.records import (
    HOURLY,
    ChannelConfig,
    DigestSchedule,
    FeedConfig,
    FetchSettings,
    MonitorSettings,
    QuietHours,
    Rate,
    RuleConfig,
    channel_kind,
)
from tests.support import ROOT

VALID = """
[monitor]
database = "sqlite:///{db}"
timezone = "Europe/Kyiv"

[channels]
desk = "json://127.0.0.1:9/hook"
tg = "tgram://${{TG_TOKEN}}/12345"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих"]

[[feeds]]
url = "https://example.org/rss"

[[rules]]
name = "witkoff-coalition"
query = 'Witkoff AND @coalition'
channels = ["desk"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def valid(tmp_path: Path) -> str:
    return VALID.format(db=tmp_path / "m.db")


ENV = {"TG_TOKEN": "123456789:AAFakeTokenForTestsOnly0123456789"}


def test_valid_config_loads_into_frozen_records(tmp_path: Path) -> None:
    """A valid file gives feeds, rules, channels with env substituted and masked."""
    config = load_config(write(tmp_path, valid(tmp_path)), ENV)
    assert [f.url for f in config.feeds] == ["https://example.org/rss"]
    assert config.rules[0].channels == ("desk",)
    assert config.channels["tg"].url == f"tgram://{ENV['TG_TOKEN']}/12345"
    assert ENV["TG_TOKEN"] not in config.channels["tg"].masked_url
    assert config.feeds[0].interval_s == 300
    assert config.matcher.rule_names == tuple(r.name for r in config.rules)


def test_example_config_is_valid() -> None:
    """The bundled config.example.toml loads without any environment variable."""
    config = load_config(ROOT / "config.example.toml", {})
    assert any(r.name == "witkoff-coalition" for r in config.rules)
    assert any(Path(f.url).name == "seed_feed.xml" for f in config.feeds)


# (mutation of the valid config, key named in the error, line number, words in the message)
ERRORS = [
    (
        "query = 'Witkoff AND @coalition'",
        "query = 'Witkoff AND @nosuch'",
        "rules[0].query",
        17,
        "nosuch",
    ),
    (
        "query = 'Witkoff AND @coalition'",
        "query = 'Witkoff AND ('",
        "rules[0].query",
        17,
        "witkoff-coalition",
    ),
    (
        'channels = ["desk"]',
        'channels = ["pager"]',
        "rules[0].channels",
        18,
        "unknown channel 'pager'",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Mars/Olympus"',
        "monitor.timezone",
        3,
        "unknown timezone",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "UTC"\npoll_intervall = "5m"',
        "monitor.poll_intervall",
        4,
        "did you mean 'poll_interval'",
    ),
    (
        'url = "https://example.org/rss"',
        'url = "https://example.org/rss"\ninterval = "often"',
        "feeds[0].interval",
        14,
        "not a duration",
    ),
    (
        'url = "https://example.org/rss"',
        'url = "ftp://example.org/rss"',
        "feeds[0].url",
        13,
        "unsupported scheme",
    ),
    (
        'url = "https://example.org/rss"',
        'url = "https://example.org/rss"\nlanguage = "xx"',
        "feeds[0].language",
        14,
        "unknown language",
    ),
    (
        'name = "witkoff-coalition"',
        'name = "witkoff-coalition"\ndelivery = "weekly"',
        "rules[0].delivery",
        17,
        "instant",
    ),
    ('desk = "json://127.0.0.1:9/hook"', 'desk = "not a url"', "channels.desk", 6, "apprise URL"),
    (
        'desk = "json://127.0.0.1:9/hook"',
        'desk = { url = "json://x", quiet_hours = "late" }',
        "channels.desk.quiet_hours",
        6,
        "22:00-07:00",
    ),
    (
        'coalition = ["coalition of the willing", "коаліція рішучих"]',
        "coalition = 5",
        "terms.coalition",
        10,
        "list of non-empty strings",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nstate_dir = 5',
        "monitor.state_dir",
        4,
        "must be a non-empty string, got int 5",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nstate_dir = " "',
        "monitor.state_dir",
        4,
        "must be a non-empty string",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "line", "words"), ERRORS)
def test_config_error_names_key_line_and_problem(
    tmp_path: Path, old: str, new: str, key: str, line: int | None, words: str
) -> None:
    text = valid(tmp_path)
    assert old in text
    text = text.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    err = info.value
    assert err.key == key
    if line is not None:
        assert err.line == line, str(err)
    assert words in str(err)
    assert str(path) in str(err)


def test_missing_environment_variable_is_named_without_leaking_others(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, valid(tmp_path)), {})
    assert info.value.key == "channels.tg"
    assert "${TG_TOKEN} is not set" in str(info.value)


def test_systemd_credential_fills_variable(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "TG_TOKEN").write_text(ENV["TG_TOKEN"] + "\n")
    config = load_config(write(tmp_path, valid(tmp_path)), {"CREDENTIALS_DIRECTORY": str(creds)})
    assert ENV["TG_TOKEN"] in config.channels["tg"].url


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, valid(tmp_path).replace('timezone = "Europe/Kyiv"', 'timezone = "Europe/Kyiv')
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    assert info.value.line == 3
    assert "invalid TOML" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", {})


def test_duplicate_feed_and_rule_are_rejected(tmp_path: Path) -> None:
    text = valid(tmp_path) + '\n[[feeds]]\nurl = "https://example.org/rss"\n'
    with pytest.raises(ConfigError, match="listed twice") as info:
        load_config(write(tmp_path, text), ENV)
    assert info.value.key == "feeds[1].url" and info.value.line == 21


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("1h", 3600), ("2d", 172800), (45, 45)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"), [("10MiB", 10 * 2**20), ("500kB", 500_000), (1024, 1024)]
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("22:00-07:00", time(22, 0), time(7, 0)),
        ("22:00 - 07:00", time(22, 0), time(7, 0)),
        (" 7:05-8:00 ", time(7, 5), time(8, 0)),
        ("13:00-15:00", time(13, 0), time(15, 0)),
        ("23:59-00:00", time(23, 59), time(0, 0)),
    ],
)
def test_quiet_hours_parse(text: str, start: time, end: time) -> None:
    window = parse_quiet_hours(text)
    assert window == QuietHours(start, end)
    assert window.text == text  # shown as written by check-config


@pytest.mark.parametrize(
    ("text", "daily_at", "shown"),
    [
        ("hourly", None, "hourly"),
        ("Hourly", None, "Hourly"),
        ("daily 08:30", time(8, 30), "daily 08:30"),
        ("daily", time(8, 0), "daily"),  # no time: 08:00
        ("Daily 7:05", time(7, 5), "Daily 7:05"),
        ("DAILY  23:59", time(23, 59), "DAILY  23:59"),
        ("  daily 09:30  ", time(9, 30), "daily 09:30"),
    ],
)
def test_digest_schedules_parse(text: str, daily_at: time | None, shown: str) -> None:
    schedule = parse_digest(text)
    assert schedule == DigestSchedule(daily_at)
    assert schedule.text == shown


@pytest.mark.parametrize(
    ("text", "per_s", "burst"),
    [
        ("1/s", 1.0, 1.0),
        ("20/min", 1 / 3, 20.0),
        ("30 / minute", 0.5, 30.0),
        ("3600/h", 1.0, 3600.0),
        ("2/SEC", 2.0, 2.0),
        ("0.5/s", 0.5, 1.0),  # the burst is never below one message
    ],
)
def test_rates_parse(text: str, per_s: float, burst: float) -> None:
    rate = parse_rate(text)
    assert rate.per_s == pytest.approx(per_s) and rate.burst == burst
    assert rate.text == text


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_quiet_hours, "late", "'late' is not a window like \"22:00-07:00\""),
        (parse_quiet_hours, "25:00-07:00", "is not a window like"),
        (parse_quiet_hours, "22:00", "is not a window like"),
        (parse_quiet_hours, 5, "5 is not a window like"),
        (parse_digest, "weekly", '\'weekly\': use "hourly" or "daily 08:00"'),
        (parse_digest, "daily 25:00", "'daily 25:00': use"),
        (parse_digest, "hourly 08:00", 'use "hourly" or'),
        (parse_digest, "", "'': use"),
        (parse_digest, None, "None: use"),
        (parse_rate, "fast", '\'fast\' is not a rate like "1/s" or "20/min"'),
        (parse_rate, "1/day", "is not a rate like"),
        (parse_rate, "-1/s", "is not a rate like"),
        (parse_rate, 5, "5 is not a rate like"),
        (parse_rate, "0/s", "'0/s' sends nothing"),
        (parse_duration, "often", "'often' is not a duration"),
        (parse_duration, True, "expected a duration"),
        (parse_size, "lots", "'lots' is not a size"),
    ],
)
def test_unit_parsers_refuse_with_a_message(parse, value: object, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as info:
        parse(value)
    assert message in str(info.value)


def test_channel_and_rule_options_reach_the_records_parsed(tmp_path: Path) -> None:
    """quiet_hours, rate_limit and digest are parsed once, by the loader: delivery gets
    values, never text."""
    text = valid(tmp_path).replace(
        'desk = "json://127.0.0.1:9/hook"',
        'desk = { url = "json://127.0.0.1:9/hook", quiet_hours = "22:00 - 07:00", '
        'rate_limit = "20/min" }',
    )
    text += '\n[[rules]]\nname = "d"\nquery = "x"\ndelivery = "digest"\ndigest = "Daily 9:30"\n'
    text += '\n[[rules]]\nname = "h"\nquery = "x"\ndelivery = "digest"\n'
    config = load_config(write(tmp_path, text), ENV)
    desk = config.channels["desk"]
    assert desk.quiet_hours == QuietHours(time(22, 0), time(7, 0))
    assert desk.quiet_hours.start == time(22, 0)
    assert desk.rate_limit == Rate(per_s=20 / 60, burst=20.0)
    assert config.channels["tg"].quiet_hours is None and config.channels["tg"].rate_limit is None
    instant, daily, hourly = config.rules
    assert instant.digest is None
    assert daily.digest == DigestSchedule(time(9, 30))
    assert hourly.digest == HOURLY


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("tgram://1:A/2", "telegram"),
        ("TELEGRAM://1:A/2", "telegram"),
        ("mailtos://u:p@x.org", "email"),
        ("console://", "console"),
        ("json://127.0.0.1/x", "generic"),
        ("ntfy://topic", "generic"),
    ],
)
def test_channel_kind_from_url_scheme(url: str, kind: str) -> None:
    assert channel_kind(url) == kind


def test_channel_kind_is_read_once_at_load(tmp_path: Path) -> None:
    """Every channel's kind is on its record: notify never reads the URL scheme again."""
    text = valid(tmp_path).replace(
        'desk = "json://127.0.0.1:9/hook"',
        'desk = "json://127.0.0.1:9/hook"\nout = "console://"\nmail = "mailto://u:p@example.com"',
    )
    config = load_config(write(tmp_path, text), ENV)
    kinds = {name: c.kind for name, c in config.channels.items()}
    assert kinds == {"desk": "generic", "out": "console", "mail": "email", "tg": "telegram"}


def test_state_directory_comes_from_the_environment_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$STATE_DIRECTORY of the environment passed to load_config (not the process's)
    wins over state_dir, and the default database lands under it."""
    monkeypatch.setenv("STATE_DIRECTORY", "/from-the-process")
    path = write(tmp_path, '[monitor]\nstate_dir = "in-the-file"\n')

    config = load_config(path, {"STATE_DIRECTORY": "/x"})
    assert config.monitor.state_dir == "/x"
    assert config.monitor.database == "sqlite:////x/monitor.db"
    assert load_config(path, {"STATE_DIRECTORY": "/x:/y"}).monitor.state_dir == "/x"
    # relative to the config file's folder, as feed paths are (issue 13)
    assert load_config(path, {}).monitor.state_dir == str(tmp_path / "in-the-file")
    default = load_config(write(tmp_path, ""), {}).monitor
    assert (default.state_dir, default.database) == (
        str(tmp_path / "data"),
        f"sqlite:///{tmp_path}/data/monitor.db",
    )


def test_unset_keys_take_the_record_defaults(tmp_path: Path) -> None:
    """Defaults live on the records only: an empty [fetch] is FetchSettings()."""
    config = load_config(write(tmp_path, valid(tmp_path)), ENV)
    assert config.fetch == FetchSettings()
    m = config.monitor
    assert (m.poll_interval_s, m.backlog_s, m.tick_s, m.max_attempts) == (300, 86400, 15, 8)
    assert config.feeds[0].interval_s == m.poll_interval_s


@pytest.mark.parametrize(
    ("keys", "record"),
    [
        (spec.MONITOR, MonitorSettings),
        (spec.FETCH, FetchSettings),
        (spec.FEED, FeedConfig),
        (spec.RULE, RuleConfig),
        (spec.CHANNEL, ChannelConfig),
    ],
)
def test_every_table_key_fills_a_field_with_a_default(keys, record) -> None:  # type: ignore[no-untyped-def]
    """The section tables name real record fields, and every one has a default there."""
    defaults = spec.defaults(record)
    assert {k.attr for k in keys} <= set(defaults)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(ROOT)  # this checkout, installed or not
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_check_config_exit_codes_and_masked_summary(tmp_path: Path) -> None:
    """check-config prints a summary with masked secrets (exit 0) or the error (exit 2)."""
    import os

    env = {**os.environ, **ENV}
    path = write(tmp_path, valid(tmp_path))
    ok = run_cli("check-config", "--config", str(path), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "witkoff-coalition" in ok.stdout and "tgram://" in ok.stdout
    assert ENV["TG_TOKEN"] not in ok.stdout + ok.stderr
    bad = write(tmp_path, valid(tmp_path).replace('["desk"]', '["nope"]'))
    fail = run_cli("--config", str(bad), "check-config", env=env)
    assert fail.returncode == 2
    assert "rules[0].channels" in fail.stderr and ":18:" in fail.stderr


def test_config_path_from_environment(tmp_path: Path) -> None:
    import os

    path = write(tmp_path, valid(tmp_path))
    env = {**os.environ, **ENV, "MONITOR_CONFIG": str(path)}
    assert run_cli("check-config", env=env, cwd=tmp_path).returncode == 0
    assert run_cli("check-config", env=env, cwd=ROOT).returncode == 0  # env wins over ./config.toml
    env.pop("MONITOR_CONFIG")
    assert run_cli("check-config", env=env, cwd=tmp_path).returncode == 0  # ./config.toml
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run_cli("check-config", env=env, cwd=empty)
    assert missing.returncode == 2 and "config.toml" in missing.stderr


RANGE_ERRORS = [
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\npoll_interval = "10s"',
        "monitor.poll_interval",
        "at least 60s",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\ntick = "0s"',
        "monitor.tick",
        "between 1s",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nmax_attempts = 0',
        "monitor.max_attempts",
        "between 1",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nretention = "1h"',
        "monitor.retention",
        "at least 1d",
    ),
    (
        'timezone = "Europe/Kyiv"',
        'timezone = "Europe/Kyiv"\nhttp = "localhost:99999"',
        "monitor.http",
        "65535",
    ),
    ("[channels]", "[fetch]\nconcurrency = 0\n\n[channels]", "fetch.concurrency", "between 1"),
    ("[channels]", "[fetch]\nmax_redirects = -1\n\n[channels]", "fetch.max_redirects", "between 0"),
    (
        'database = "sqlite:///',
        'database = "mysql://u@h/db"\n# "sqlite:///',
        "monitor.database",
        "no database driver",
    ),
    (
        'desk = "json://127.0.0.1:9/hook"',
        'desk = "foo://${TG_TOKEN}/bar"',
        "channels.desk",
        "apprise cannot use",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "words"), RANGE_ERRORS)
def test_values_that_parse_but_make_no_sense_are_errors(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    text = valid(tmp_path)
    assert old in text
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text.replace(old, new, 1)), ENV)
    assert info.value.key == key and words in str(info.value)
    assert ENV["TG_TOKEN"] not in str(info.value)


def test_included_files_add_feeds_and_name_their_own_errors(tmp_path: Path) -> None:
    """[monitor] include: more [[feeds]] (what 'feeds import-opml --to' writes)."""
    (tmp_path / "more.toml").write_text(
        '[[feeds]]\nurl = "https://more.example/rss"\nname = "More"\n'
    )
    text = valid(tmp_path).replace(
        'timezone = "Europe/Kyiv"', 'timezone = "Europe/Kyiv"\ninclude = ["more.toml"]'
    )
    config = load_config(write(tmp_path, text), ENV)
    assert [f.url for f in config.feeds] == ["https://example.org/rss", "https://more.example/rss"]
    (tmp_path / "more.toml").write_text(
        '[[feeds]]\nurl = "https://more.example/rss"\n\n[[feeds]]\nurl = "https://example.org/rss"\n'
    )
    with pytest.raises(ConfigError, match="already listed") as info:
        load_config(tmp_path / "config.toml", ENV)
    assert info.value.path == str(tmp_path / "more.toml") and info.value.line == 5
    (tmp_path / "more.toml").unlink()
    with pytest.raises(ConfigError, match="cannot read included file") as info:
        load_config(tmp_path / "config.toml", ENV)
    assert info.value.key == "monitor.include"


def test_feed_url_takes_tokens_from_the_environment(tmp_path: Path) -> None:
    text = valid(tmp_path).replace(
        'url = "https://example.org/rss"', 'url = "https://example.org/rss?token=${TG_TOKEN}"'
    )
    config = load_config(write(tmp_path, text), ENV)
    assert config.feeds[0].url == f"https://example.org/rss?token={ENV['TG_TOKEN']}"
    with pytest.raises(ConfigError, match="TG_TOKEN"):
        load_config(tmp_path / "config.toml", {})


def test_missing_local_feed_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    text = valid(tmp_path).replace('url = "https://example.org/rss"', 'url = "feeds/later.xml"')
    config = load_config(write(tmp_path, text), ENV)
    assert config.feeds[0].url == str(tmp_path / "feeds" / "later.xml")
    assert any("does not exist" in w for w in config.warnings)


def test_cli_database_errors_are_one_line_and_create_nothing(tmp_path: Path) -> None:
    """'status' on a config whose database does not exist: exit 1, one line, no file."""
    text = valid(tmp_path).replace(
        f"sqlite:///{tmp_path / 'm.db'}", f"sqlite:///{tmp_path}/typo/m.db"
    )
    path = write(tmp_path, text)
    env = {**os.environ, **ENV}
    out = run_cli("--config", str(path), "status", env=env)
    assert out.returncode == 1 and "no database at" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "typo").exists()
