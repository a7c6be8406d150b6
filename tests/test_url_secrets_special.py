"""A ``${VAR}`` with URL-special characters arrives intact and never shows (issue 13).

A reviewer's ``SMTP_PASS='p@ss/w#rd?x&y'`` in ``mailto://pm:${SMTP_PASS}@host`` passed
``check-config``, then every send failed and apprise printed pieces of the password
(``***@ss/w?...x&y``, ``press-monitor#rd?x``). Now each value is percent-encoded for the
URL part it stands in (:mod:`monitor.config.refs`). Proved here with the real parts: an
aiosmtpd server on 127.0.0.1 that accepts only the exact password (so a delivered mail
is the proof it arrived intact), feeds on a real HTTP server that answer only the exact
token, every command run as its own process (only what it loads is registered as a
secret), and every output and stored error text searched for any 3-character piece of
the secrets.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import get_args
from urllib.parse import quote, quote_plus, urlencode

import apprise
import pytest

from monitor.cli import main
from monitor.config.edit import ENV_REF
from monitor.config.refs import Part, encode_for, fill_refs
from tests.support import Request, Response, run_monitor
from tests.test_delivery_support import BOT_TOKEN, SmtpServer, TelegramStub
from tests.test_pipeline import rss

pytest_plugins = ["tests.test_delivery_support"]  # smtp_server (aiosmtpd, AUTH), telegram

REVIEWER_PASS = "p@ss/w#rd?x&y"  # the reviewer's reproduction, as given
SMTP_PASS = "Kq:Zv%Wm+Jx@Rb/Ty#Lp?Nd&Hc"  # every character that splits a URL, letters unique
FEED_TOKEN = "Vb&Qk=Zr#Wp+Jm%Xt Yd;Fs"  # splits pairs, means a space, starts a fragment
ITEM = rss(("g1", "http://127.0.0.1/story-1", "Witkoff visits Kyiv"))


def pieces(secret: str) -> set[str]:
    """What must never show of ``secret``: every piece of 3 characters or more (what a
    library prints of a URL it mis-parsed), its percent-encoded forms and their pieces of
    6 or more (``%40ss%2Fw``)."""
    encoded = {quote(secret, safe=""), quote_plus(secret)}
    encoded |= {encode_for(part, secret) for part in get_args(Part)}
    found = {secret[i:j] for i in range(len(secret)) for j in range(i + 3, len(secret) + 1)}
    return found | {
        e[i:j] for e in encoded for i in range(len(e)) for j in range(i + 6, len(e) + 1)
    }


def leaks(text: str, *secrets: str) -> list[str]:
    """The pieces of ``secrets`` (:func:`pieces`) that ``text`` shows."""
    return sorted(p for s in secrets for p in pieces(s) if p in text)


def feed_needing(token: str, body: bytes = ITEM) -> object:
    """A route that serves ``body`` only to a request whose ``token`` is exactly ``token``."""

    def answer(req: Request) -> Response:
        if req.query.get("token") != [token]:
            return Response(403, {}, b"wrong token")
        return Response(200, {"Content-Type": "application/rss+xml"}, body)

    return answer


def echo_500(req: Request) -> Response:
    """A server error whose body quotes the request, token and all."""
    body = f"server error for {req.path}?{urlencode(req.query, doseq=True)}"
    return Response(500, {"Content-Type": "text/plain"}, body.encode())


def write_config(tmp_path: Path, smtp: SmtpServer, feeds: list[str], mail_query: str = "") -> Path:
    """A config with ``mail`` (the SMTP server, password ``${SMTP_PASS}``), ``feeds``
    and one rule that sends the ``Witkoff`` item to ``mail``."""
    query = mail_query or "mode=insecure&from=monitor@example.com&to=desk@example.org"
    tables = "".join(f'\n[[feeds]]\nurl = "{u}"\nbacklog = "3650d"\n' for u in feeds)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[monitor]
database = "sqlite:///{tmp_path}/monitor.db"
timezone = "UTC"

[fetch]
timeout = "3s"
connect_timeout = "2s"

[channels]
mail = "mailto://{smtp.user}:${{SMTP_PASS}}@127.0.0.1:{smtp.port}?{query}&smtp=127.0.0.1"
{tables}
[[rules]]
name = "witkoff"
query = "Witkoff"
channels = ["mail"]
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``monitor --config CONFIG ARGS`` as its own process."""
    return run_monitor(config, *args, env=env)


def stored_errors(tmp_path: Path) -> list[str]:
    """Every error text the database keeps: feeds, alerts, operator notices."""
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        rows = conn.execute(
            "SELECT error_message FROM feeds UNION ALL SELECT last_error FROM alerts "
            "UNION ALL SELECT last_error FROM operator_notices"
        ).fetchall()
    return [r[0] for r in rows if r[0]]


# -- where a value stands decides how it is put in (pure) -----------------------------

ENV = {
    "PASS": "p@ss/w#rd?x&y",
    "USER": "me@example.org",
    "CREDS": "pm:se:cret",
    "TOKEN": BOT_TOKEN,
    "T": "a&b+c=d#e;f g",
    "ENCODED": "p%40ss%2Fw",
    "PERCENT": "50%off",
    "FEED_URL": "https://x.example/rss?a=1&b=2",
    "BASE": "https://x.example",
    "HOST": "127.0.0.1:8025",
}


@pytest.mark.parametrize(
    ("written", "expanded"),
    [
        ("mailto://pm:${PASS}@h?to=a@b.org", "mailto://pm:p%40ss%2Fw%23rd%3Fx&y@h?to=a@b.org"),
        ("mailtos://${USER}:${PASS}@h", "mailtos://me%40example.org:p%40ss%2Fw%23rd%3Fx&y@h"),
        ("mailto://${CREDS}@h", "mailto://pm:se%3Acret@h"),  # the first ':' separates
        ("tgram://${TOKEN}/42", f"tgram://{BOT_TOKEN}/42"),  # the host part: as written
        ("mailto://pm:x@${HOST}?to=a@b.org", "mailto://pm:x@127.0.0.1:8025?to=a@b.org"),
        (
            "https://x.example/rss?token=${T}&l=uk",
            "https://x.example/rss?token=a%26b%2Bc=d%23e%3Bf%20g&l=uk",
        ),
        ("https://x.example/u/${PASS}/rss", "https://x.example/u/p@ss%2Fw%23rd%3Fx&y/rss"),
        ("${FEED_URL}", "https://x.example/rss?a=1&b=2"),  # a whole URL: as written
        ("${BASE}/rss?token=${T}", "https://x.example/rss?token=a%26b%2Bc=d%23e%3Bf%20g"),
        ("https://x.example/?${T}", "https://x.example/?a&b+c=d#e;f g"),  # a whole query
        ("mailto://pm:${ENCODED}@h", "mailto://pm:p%40ss%2Fw@h"),  # encoded already: kept
        ("https://x.example/rss?token=${PERCENT}", "https://x.example/rss?token=50%25off"),
        ("file://${PASS}/x.xml", "file://p@ss/w#rd?x&y/x.xml"),  # a local path: as written
    ],
)
def test_each_value_is_encoded_for_the_url_part_it_stands_in(written: str, expanded: str) -> None:
    """userinfo, path segments and query values are encoded; a whole URL, a base URL, the
    host part, a whole query and file paths are put in as written."""
    assert fill_refs(ENV_REF.split(written), ENV.get) == expanded


@pytest.mark.parametrize("password", [REVIEWER_PASS, SMTP_PASS, "a+b=c:d;e,f!g'h", "50%off"])
def test_apprise_reads_back_the_exact_password(password: str) -> None:
    """The URL the loader builds is one apprise parses into the password as given."""
    url = fill_refs(
        ENV_REF.split("mailto://pm:${P}@127.0.0.1:8025?from=a@example.org&to=b@example.org"),
        {"P": password}.get,
    )
    notifier = apprise.Apprise.instantiate(url)
    assert notifier is not None
    assert (notifier.user, notifier.password, notifier.host) == ("pm", password, "127.0.0.1")


# -- through the CLI, with the real servers ---------------------------------------------


@pytest.mark.parametrize(
    ("password", "written"),
    [
        (REVIEWER_PASS, REVIEWER_PASS),
        (SMTP_PASS, SMTP_PASS),
        (SMTP_PASS, quote(SMTP_PASS, safe="")),  # a user who encoded it already
    ],
    ids=["reviewer", "every-special", "pre-encoded"],
)
def test_a_special_password_and_token_are_delivered_and_never_shown(
    tmp_path, smtp_server, http_server, password: str, written: str
) -> None:
    """check-config, notify test, run --once and alerts all succeed: the SMTP server
    (which accepts only the exact password) gets the test mail and the alert, the feed
    server (which answers only the exact token) is read; no output shows a piece of
    either secret. Before: exit 0 from check-config, then every send failed."""
    smtp_server.password = password
    feed = http_server.route("/rss", feed_needing(FEED_TOKEN))
    config = write_config(tmp_path, smtp_server, [f"{feed}?token=${{FEED_TOKEN}}&lang=uk"])
    env = {"SMTP_PASS": written, "FEED_TOKEN": FEED_TOKEN}

    runs = {
        args: cli(config, env, *args.split())
        for args in ("check-config", "notify test mail", "run --once", "alerts")
    }

    assert {args: r.returncode for args, r in runs.items()} == dict.fromkeys(runs, 0), runs
    assert len(smtp_server.handler.envelopes) == 2  # the test message and the alert
    assert [r.query["token"] for r in http_server.hits("/rss")] == [[FEED_TOKEN]]
    shown = "".join(r.stdout + r.stderr for r in runs.values())
    assert f"mailto://monitor:***@127.0.0.1:{smtp_server.port}?mode=insecure" in shown
    assert "Witkoff visits Kyiv" in runs["alerts"].stdout and "sent" in runs["alerts"].stdout
    assert leaks(shown, password, written, FEED_TOKEN) == []


def test_failures_with_special_secrets_are_stored_and_shown_masked(
    tmp_path, smtp_server, http_server
) -> None:
    """A wrong special password (the server answers 535) and a feed that answers 500
    quoting its token: the errors are shown and stored, without a piece of either."""
    smtp_server.password = "the-right-one-9"
    good = http_server.route("/rss", feed_needing(FEED_TOKEN))
    bad = http_server.route("/broken", echo_500)
    feeds = [f"{good}?token=${{FEED_TOKEN}}", f"{bad}?token=${{FEED_TOKEN}}&lang=uk"]
    config = write_config(tmp_path, smtp_server, feeds)
    env = {"SMTP_PASS": SMTP_PASS, "FEED_TOKEN": FEED_TOKEN}

    once = cli(config, env, "run", "--once")
    runs = [once, *(cli(config, env, *a.split()) for a in ("alerts", "feeds", "notify test mail"))]

    assert [r.query["token"] for r in http_server.hits("/broken")] == [[FEED_TOKEN]]
    assert smtp_server.handler.envelopes == []
    shown = "".join(r.stdout + r.stderr for r in runs)
    assert "535" in shown and "500" in shown, shown
    assert runs[-1].returncode == 1  # notify test: the login failed
    errors = stored_errors(tmp_path)
    assert any("535" in e for e in errors) and any("500" in e for e in errors), errors
    assert leaks(shown + "\n".join(errors), SMTP_PASS, FEED_TOKEN) == []


def test_an_apprise_problem_is_named_without_a_piece_of_the_password(tmp_path, smtp_server) -> None:
    """A channel apprise refuses (a bad ``from=``) is a config error that names the
    problem; the special password stays masked. Before, apprise mis-parsed the URL and
    its reason quoted the password's tail (``press-monitor#rd?x``)."""
    config = write_config(
        tmp_path, smtp_server, [], mail_query="from=not-an-address&to=desk@example.org"
    )

    done = cli(config, {"SMTP_PASS": SMTP_PASS}, "check-config")

    assert done.returncode != 0
    assert "channels.mail" in done.stderr and "apprise cannot use" in done.stderr, done.stderr
    assert leaks(done.stdout + done.stderr, SMTP_PASS) == []


def test_a_whole_url_and_a_base_url_from_the_environment_are_put_in_as_written(
    tmp_path, smtp_server, http_server
) -> None:
    """``url = "${FEED_URL}"`` keeps its own query (two keys, not one encoded value);
    ``${FEED_BASE}/rss2?token=${FEED_TOKEN}`` keeps the base as written, encodes the token."""
    http_server.route(
        "/rss1",
        lambda req: (
            Response(200, {}, ITEM) if req.query == {"a": ["1"], "b": ["2"]} else Response(403)
        ),
    )
    http_server.route("/rss2", feed_needing(FEED_TOKEN))
    base = f"http://127.0.0.1:{http_server.port}"
    config = write_config(
        tmp_path, smtp_server, ["${FEED_URL}", "${FEED_BASE}/rss2?token=${FEED_TOKEN}"]
    )
    env = {
        "SMTP_PASS": "x",
        "FEED_URL": f"{base}/rss1?a=1&b=2",
        "FEED_BASE": base,
        "FEED_TOKEN": FEED_TOKEN,
    }

    done = cli(config, env, "run", "--once")

    shown = done.stdout + done.stderr
    assert "polled 2 feeds: 1 new articles, 1 alerts queued, 0 feeds failed" in shown, shown
    assert len(http_server.hits("/rss1")) == len(http_server.hits("/rss2")) == 1
    assert leaks(shown, FEED_TOKEN) == []


def test_a_telegram_bot_token_in_the_host_part_keeps_its_colon(
    tmp_path, smtp_server, telegram: TelegramStub, monkeypatch, capsys
) -> None:
    """``tgram://${TOKEN}/chat``: the token's ``:`` stays (apprise reads it there) and the
    Bot API is called with the token as given."""
    config = write_config(tmp_path, smtp_server, [])
    text = config.read_text(encoding="utf-8").replace(
        "[channels]", '[channels]\ntg = "tgram://${TG_TOKEN}/4242"'
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TG_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SMTP_PASS", "x")

    assert main(["--config", str(config), "notify", "test", "tg"]) == 0

    assert len(telegram.payloads()) == 1  # at /bot<TOKEN>/sendMessage
    out = capsys.readouterr()
    assert "ok: test message sent to tg (tgram://${TG_TOKEN}/4242)" in out.out
    assert BOT_TOKEN.split(":")[1] not in out.out + out.err


def test_import_opml_knows_a_feed_whose_token_the_config_puts_in(
    tmp_path, monkeypatch, capsys
) -> None:
    """The config lists ``?token=${FEED_TOKEN}``; an OPML file lists the same feed with
    the token percent-encoded as the loader puts it in: it is already listed, not added
    (the loader would then refuse the file: the feed listed twice)."""
    config = tmp_path / "config.toml"
    written = 'url = "https://feeds.example/rss?token=${FEED_TOKEN}"'
    config.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path}/m.db"\n\n[[feeds]]\n{written}\n', "utf-8"
    )
    url = "https://feeds.example/rss?token=Vb%26Qk=Zr%23Wp%2BJm%25Xt%20Yd%3BFs"  # FEED_TOKEN
    opml = tmp_path / "subs.opml"
    opml.write_text(
        f'<opml version="2.0"><body><outline text="x" xmlUrl="{url.replace("&", "&amp;")}"/></body></opml>',
        "utf-8",
    )
    monkeypatch.setenv("FEED_TOKEN", FEED_TOKEN)

    assert main(["--config", str(config), "feeds", "import-opml", str(opml)]) == 0

    assert config.read_text(encoding="utf-8").count("[[feeds]]") == 1
    out = capsys.readouterr()
    assert leaks(out.out + out.err, FEED_TOKEN) == []
