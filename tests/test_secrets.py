"""Masking of secrets, the secret registry and systemd credentials."""

from __future__ import annotations

import pytest

from monitor import secrets
from monitor.secrets import (
    MASK,
    load_credentials,
    mask_text,
    mask_url,
    register_secret,
    registered_secrets,
    secret_environ,
    url_secrets,
)

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch):
    """Each test starts with no registered secrets."""
    monkeypatch.setattr(secrets, "_registered", [])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"tgram://{TG_TOKEN}/-1001234567", "tgram://***/-1001234567"),
        (
            f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage",
            "https://api.telegram.org/***/sendMessage",
        ),
        (
            "mailtos://alerts:hunter2@smtp.example.com?to=ops@example.com",
            "mailtos://alerts:***@smtp.example.com?to=ops@example.com",
        ),
        (
            "https://feeds.example/rss?token=s3cr3tvalue&lang=uk",
            "https://feeds.example/rss?token=***&lang=uk",
        ),
        (
            "https://feeds.example/rss?api_key=abc&page=2",
            "https://feeds.example/rss?api_key=***&page=2",
        ),
        (
            "https://feeds.example/feeds/4f3c2a1b9d8e7f6a5b4c/rss",
            "https://feeds.example/feeds/***/rss",
        ),
        # word slugs are not tokens: article links stay readable in the log
        (
            "https://news.example/2026/11/27/kyiv-energy-grid-update-2026",
            "https://news.example/2026/11/27/kyiv-energy-grid-update-2026",
        ),
        ("https://news.example/rss.xml", "https://news.example/rss.xml"),
        # a channel's webhook GUIDs are secrets; a UUID in an article link is not
        (
            "msteams://1a2b3c4d-1111-2222-3333-444455556666@0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff"
            "/IncomingWebhook/9f8e7d6c5b4a39281706f5e4d3c2b1a0/abcdef01-2345-6789-abcd-ef0123456789/",
            "msteams://***@***/IncomingWebhook/***/***/",
        ),
        (
            "https://news.example/world/a1b2c3d4-1111-2222-3333-444455556666_story.html",
            "https://news.example/world/a1b2c3d4-1111-2222-3333-444455556666_story.html",
        ),
    ],
)
def test_mask_url(url, expected) -> None:
    """Credentials, token path segments and secret query values are masked; the rest stays."""
    assert mask_url(url) == expected


@pytest.mark.parametrize(
    ("url", "found"),
    [
        (f"tgram://{TG_TOKEN}/-1001234567", (TG_TOKEN,)),
        ("mailtos://alerts:hunter2@smtp1.example.com?to=ops@example.com", ("hunter2",)),
        (
            "ntfy://tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2@ntfy.sh/news",
            ("tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2",),
        ),
        ("json://hooks.example/4f3c2a1b9d8e7f6a5b4c/in", ("4f3c2a1b9d8e7f6a5b4c",)),
        # webhook GUIDs in a channel URL (Teams): every one is a secret
        (
            "msteams://1a2b3c4d-1111-2222-3333-444455556666@0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff"
            "/IncomingWebhook/9f8e7d6c5b4a39281706f5e4d3c2b1a0/abcdef01-2345-6789-abcd-ef0123456789/",
            (
                "1a2b3c4d-1111-2222-3333-444455556666",
                "0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff",
                "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                "abcdef01-2345-6789-abcd-ef0123456789",
            ),
        ),
        # the token rule of mask_url: host names and word slugs are not secrets
        ("json://127.0.0.1:9/hooks/kyiv-news-2026-11", ()),
        ("console://", ()),
    ],
)
def test_url_secrets_are_the_password_and_the_pieces_mask_url_hides(url, found) -> None:
    """url_secrets spots tokens with mask_url's rule: what it returns, mask_url hides."""
    assert url_secrets(url) == found
    assert not any(secret in mask_url(url) for secret in found)


def test_url_secrets_mask_a_token_quoted_without_its_url() -> None:
    """An error that names the bot token alone is masked with the channel URL's secrets."""
    error = f"telegram: token {TG_TOKEN} was rejected"
    assert (
        mask_text(error, url_secrets(f"tgram://{TG_TOKEN}/42"))
        == "telegram: token *** was rejected"
    )


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"POST https://api.telegram.org/bot{TG_TOKEN}/sendMessage failed", "AAHdqTcvCH1vGWJx"),
        ("smtp login failed: password=hunter2secret for alerts", "hunter2secret"),
        ('config: api_key: "k-12345-abcdef"', "k-12345-abcdef"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: Basic YWxlcnRzOmh1bnRlcjI=", "YWxlcnRzOmh1bnRlcjI="),
    ],
)
def test_mask_text_hides_secrets_in_free_text(text, leaked) -> None:
    """URLs, secret-named pairs and bearer tokens inside messages are masked."""
    masked = mask_text(text)
    assert leaked not in masked
    assert MASK in masked


def test_mask_text_keeps_ordinary_text() -> None:
    """Counts and words that merely contain 'token' are left alone."""
    text = "event=match.done tokens=42 token_count=3 feed_url=https://news.example/rss"
    assert mask_text(text) == text
    prose = "basic authentication for bearer instruments and bearer bonds"
    assert mask_text(prose) == prose


def test_registered_secret_is_masked_everywhere_longest_first() -> None:
    """A registered literal is masked in any text, even when another secret is its prefix."""
    register_secret("abcd")
    register_secret("abcdefgh-long")
    assert mask_text("x abcdefgh-long y abcd z") == "x *** y *** z"
    register_secret("ab")  # too short to mask safely: ignored
    assert mask_text("ab") == "ab"


def test_credentials_are_read_from_the_credentials_directory(tmp_path) -> None:
    """Every file becomes a credential; the folder prefix is dropped; values get registered."""
    (tmp_path / "press-monitor_TELEGRAM_BOT_TOKEN").write_text(TG_TOKEN + "\n")
    (tmp_path / "SMTP_PASSWORD").write_text("pa ss\n\n")
    (tmp_path / "subdir").mkdir()
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    creds = load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert creds == {
        "press-monitor_TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "SMTP_PASSWORD": "pa ss\n",  # only one trailing newline is dropped
    }
    assert mask_text(f"token is {TG_TOKEN}") == "token is ***"


def test_no_credentials_directory_means_no_credentials(tmp_path) -> None:
    """Outside systemd (or a folder that vanished) there are none."""
    assert load_credentials({}) == {}
    assert load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path / "absent")}) == {}


def test_credentials_win_over_environment_variables(tmp_path) -> None:
    """secret_environ lays credentials over the environment: the credential wins."""
    (tmp_path / "TELEGRAM_BOT_TOKEN").write_text("from-credential")
    env = {
        "CREDENTIALS_DIRECTORY": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": "from-env",
        "SMTP_USER": "ops",
    }
    merged = secret_environ(env)
    assert merged["TELEGRAM_BOT_TOKEN"] == "from-credential"
    assert merged["SMTP_USER"] == "ops"
    assert env["TELEGRAM_BOT_TOKEN"] == "from-env"  # the input is not modified


def test_explicit_credential_wins_over_the_folder_one(tmp_path) -> None:
    """A drop-in LoadCredential=NAME beats press-monitor_NAME from the folder."""
    (tmp_path / "TOKEN_X").write_text("explicit")
    (tmp_path / "press-monitor_TOKEN_X").write_text("folder")
    assert load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path)})["TOKEN_X"] == "explicit"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///data/monitor.db", "sqlite:////var/lib/press-monitor/monitor.db", "console://"],
)
def test_urls_without_host_keep_their_slashes(url: str) -> None:
    """A relative SQLite path must not read as an absolute one in logs (and vice versa)."""
    assert mask_url(url) == url


# -- registered secrets in URLs (issue 10): one masking, whatever key a value stands under


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://feeds.example/rss?session=PlantedTok3n", "https://feeds.example/rss?session=***"),
        (
            "https://feeds.example/rss?t=PlantedTok3n&lang=uk",
            "https://feeds.example/rss?t=***&lang=uk",
        ),
        ("https://feeds.example/PlantedTok3n/rss", "https://feeds.example/***/rss"),
        ("https://feeds.example/rss?t=xPlantedTok3nx", "https://feeds.example/rss?t=***"),
        # percent-encoded (a redirect re-encodes the value): the same secret
        ("https://feeds.example/rss?t=pl%2Bus%2Fslash", "https://feeds.example/rss?t=***"),
        ("https://feeds.example/rss?t=pl+us%2Fslash", "https://feeds.example/rss?t=***"),
    ],
)
def test_mask_url_masks_registered_secrets_under_any_key(url: str, expected: str) -> None:
    """A ``${VAR}`` value is masked in a URL under ``session=``, ``t=``, in the path; the
    mask itself is never percent-encoded (``%2A%2A%2A`` would be noise in every log)."""
    register_secret("PlantedTok3n")
    register_secret("pl+us/slash")
    assert mask_url(url) == expected
    assert mask_text(f"GET {url} failed") == f"GET {expected} failed"


def test_mask_url_is_stable() -> None:
    """The same URL masks the same way every time, and masking a masked URL changes
    nothing: a /metrics label never flaps, a notice key always deduplicates."""
    register_secret("PlantedTok3n")
    url = "http://u:pw@127.0.0.1:8080/a?session=PlantedTok3n&token=x&lang=uk&page=2"
    once = mask_url(url)
    assert once == "http://u:***@127.0.0.1:8080/a?session=***&token=***&lang=uk&page=2"
    assert mask_url(url) == once == mask_url(once) == mask_text(once)


def test_mask_url_masks_token_looking_and_session_query_values() -> None:
    """A token-shaped value (the rule of path segments) and a ``session`` value are
    masked under any key; ordinary values stay readable."""
    assert (
        mask_url("https://x.example/rss?id=4f3c2a1b9d8e7f6a5b4c&sessionid=abc&q=kyiv-news&n=10")
        == "https://x.example/rss?id=***&sessionid=***&q=kyiv-news&n=10"
    )


def test_strict_mask_url_masks_every_query_value() -> None:
    """A URL whose ``${VAR}`` values are no longer known (a feed removed from the config)."""
    assert (
        mask_url("https://u:p@x.example/rss?t=abc&lang=uk", strict=True)
        == "https://u:***@x.example/rss?t=***&lang=***"
    )


def test_every_expanded_config_value_is_registered(tmp_path) -> None:
    """load_config registers each ``${VAR}`` it expands (feeds and channels), so every
    output masks it, though ``t=`` is not a secret-looking key."""
    from monitor.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n'
        '[channels]\nhook = "json://u:${HOOK_PW}@127.0.0.1:9/h"\n'
        '[[feeds]]\nurl = "https://feeds.example/rss?t=${FEED_T}"\n'
    )
    config = load_config(path, {"FEED_T": "feedvalue42", "HOOK_PW": "hookvalue42"})
    assert config.feeds[0].url == "https://feeds.example/rss?t=feedvalue42"  # the real URL
    assert {"feedvalue42", "hookvalue42"} <= set(registered_secrets())
    assert mask_url(config.feeds[0].url) == "https://feeds.example/rss?t=***"
    assert mask_text("hookvalue42 rejected") == "*** rejected"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:hunter2@feeds.example:8080/rss", "feeds.example:8080"),
        ("https://feeds.example/rss?token=x", "feeds.example"),
        ("/srv/fixtures/feed.xml", "/srv/fixtures/feed.xml"),
    ],
)
def test_feed_source_name_never_shows_userinfo(url: str, shown: str) -> None:
    """A feed without name or title is named by its host in alerts and notices, never by
    its ``user:password@``."""
    from monitor.store.feeds import source_name

    assert source_name(None, None, url) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("(see http://x.example/a?apikey=abcdef123456) broken", "(see http://x.example/a?apikey=***) broken"),
        ("http://x.example/a;jsessionid=SECRETJSESS14/b", "http://x.example/a;jsessionid=***/b"),
        ("http://x.example/cb#access_token=SECRETFRAG12", "http://x.example/cb#access_token=***"),
        ("http://x.example/page#section-2.", "http://x.example/page#section-2."),
    ],
)  # fmt: skip
def test_tokens_in_path_parameters_and_fragments_are_masked_and_prose_is_kept(
    text: str, shown: str
) -> None:
    """A URL in a sentence keeps the punctuation after it; ``;jsessionid=`` and a
    fragment's ``access_token=`` are masked like query values."""
    assert mask_text(text) == shown


@pytest.mark.parametrize(
    "text",
    ["a-" * 100_000, "a" * 200_000, "http://" * 30_000, "x://a?token=1&" * 15_000],
    ids=["dashes", "letters", "schemes", "pairs"],
)
def test_masking_hostile_text_costs_linear_time(text: str) -> None:
    """200 KB crafted to make the masking regexes backtrack (before: 40 KB of "a-" took
    57 s; every logged error and stored message passes through mask_text). The bound is
    loose on purpose: linear is milliseconds, quadratic would be minutes."""
    import time

    started = time.process_time()
    mask_text(text)
    assert time.process_time() - started < 2.0


# -- secret-named pairs: credentials masked, prose kept (issue 13) ---------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("login failed: token=abc123", "login failed: token=***"),
        ("token=line", "token=***"),  # key=value is not prose: any value goes
        ("smtp: password: hunter2", "smtp: password: ***"),
        ("smtp: password: hunter2.", "smtp: password: ***"),
        ("password:letmein", "password:***"),  # no space after the colon: a pair
        ("token: abcDEF", "token: ***"),
        ('{"api_key": "k-12345-abcdef", "lang": "uk"}', '{"api_key": "***", "lang": "uk"}'),
        ("{'secret': 'plainword'}", "{'secret': '***'}"),
        ('password: "letmein"', 'password: "***"'),
        ('token=""', 'token=""'),  # nothing to hide
    ],
)
def test_secret_pairs_are_masked_json_keeping_its_quotes(text: str, masked: str) -> None:
    """``key=value``, ``key: credential``, and quoted values (JSON, Python reprs) under
    a secret-named key are masked; a quoted value keeps its quotes, so JSON stays JSON."""
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "not a valid OPML file: unclosed token: line 1, column 12",
        "not well-formed (invalid token): line 3, column 0",
        "Invalid token: expired.",
        "telegram: bot token: Missing",
        "api_key: required (set it in the environment)",
        "secret: none configured",
    ],
)
def test_prose_after_a_secret_named_word_is_kept(text: str) -> None:
    """A secret-named word, a colon, a space and a plain word is prose, not a pair:
    before, an XML parser's "unclosed token: line 1, column 12" read "token: *** 1"."""
    assert mask_text(text) == text


def test_a_broken_opml_file_is_named_with_the_parsers_words(tmp_path, capsys) -> None:
    """``feeds import-opml`` on a cut-off file says where the parser stopped, unmasked."""
    from monitor.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n', encoding="utf-8")
    opml = tmp_path / "bad.opml"
    opml.write_text('<opml version="2.0"><body><outline', encoding="utf-8")
    assert main(["--config", str(cfg), "feeds", "import-opml", str(opml)]) == 2
    err = capsys.readouterr().err
    assert "not a valid OPML file: unclosed token: line 1, column 26" in err
    assert MASK not in err
