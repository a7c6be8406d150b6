"""Secrets: masking helpers, the registry of literal secrets, systemd credentials.

Secrets never reach any output. :func:`mask_text` is **the** masking function for
display: every log line, CLI table and JSON, ``/metrics`` label, stored error text and
operator notice goes through it (or through :func:`mask_url`, its part for one URL).
Both mask userinfo passwords, secret-looking query values and path segments (one rule
says what looks like a token: :func:`_is_secret_piece`) **and every literal given to
:func:`register_secret`**: each ``${VAR}`` value the config expands and each systemd
credential, also percent-encoded, whatever the key it stands under. :func:`mask_text`
also masks ``password=...``-style pairs (after ``key: `` only a quoted value or one
that reads as a credential: "unclosed token: line 1" is prose), bearer tokens and the
literals passed in (:func:`url_secrets`: the password and token-like pieces of a URL,
for text that quotes them without it). Masked output is deterministic (a ``/metrics`` label does not flap).
:func:`load_credentials` reads systemd credentials (``$CREDENTIALS_DIRECTORY``) so
``${TELEGRAM_BOT_TOKEN}`` in the config can come from a credential file;
:func:`secret_environ` merges them over the environment: **a credential wins over an
environment variable of the same name** (the unit configured it deliberately; the
environment is inherited and leaks more easily). Only :func:`load_credentials` does I/O.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LEN = 4  # shorter literals would mask ordinary words
MAX_CREDENTIAL_BYTES = 64 * 1024
CREDENTIAL_PREFIX = "press-monitor_"  # LoadCredential=press-monitor:/etc/press-monitor/credentials

_SECRET_QUERY_KEYS = re.compile(
    r"(token|key|secret|pass|pwd|auth|sig|apikey|api_key|access|session)", re.I
)
# A URL inside free text: scheme://... up to whitespace or a quote.
# The look-behind makes a match start only where a scheme can: without it, a long run of
# letters is tried from every one of its characters (quadratic on hostile text).
_URL_IN_TEXT = re.compile(r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# key=value / key: value pairs whose key names a secret (not part of a URL: those
# go through mask_url first); the key may be quoted (JSON: "api_key": "...").
# (No leading ``\b[\w-]*`` for ``smtp_password=``: the key is kept as written anyway, and
# that prefix made "a-a-a-..." quadratic, a word boundary at every character.)
_SECRET_PAIR = re.compile(
    r"(?i)((?:password|passwd|secret|token|api[_-]?key)\b[\"']?\s*([=:])\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
)
_PROSE_END = ".!?)]}:'\""  # "invalid token: expired." is a word and its full stop
# "Bearer <token>" (the token has a digit: not "bearer bonds") and "Authorization: Basic <b64>".
_BEARER = re.compile(
    r"(?i)(\bbearer|authorization:\s*basic)\s+(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}"
)
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_GUID = re.compile(r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}")
_URL_PIECE = re.compile(r"[/@?&=]")  # what separates the user, host, path and query pieces

_registered: list[str] = []
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a literal secret (token, password): :func:`mask_text` masks it from now on."""
    if value and len(value) >= MIN_SECRET_LEN:
        with _lock:
            if value not in _registered:
                _registered.append(value)
                _registered.sort(key=len, reverse=True)  # longest first: no partial leftovers


def registered_secrets() -> tuple[str, ...]:
    """The literal secrets registered so far, longest first."""
    with _lock:
        return tuple(_registered)


def mask_url(url: str, *, strict: bool = False) -> str:
    """Mask credentials in a URL: user:password, path segments of apprise URLs that hold
    tokens (``tgram://123:ABC/456`` -> ``tgram://***/456``), secret-looking query values
    and every registered secret wherever it stands (``?session=${TOKEN}``). ``strict``
    masks every query value (a URL whose ``${VAR}`` values are no longer known: a feed
    removed from the config).
    """
    secrets = registered_secrets()
    url = _mask_literals(url, secrets)
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    channel = _is_channel_url(parts.scheme)
    if "@" in netloc:
        creds, _, host = netloc.rpartition("@")
        user = creds.split(":", 1)[0]
        host = MASK if channel and _is_secret_piece(host, channel=True) else host
        netloc = f"{user}:{MASK}@{host}" if ":" in creds else f"{MASK}@{host}"
    elif channel and _is_secret_piece(netloc, channel=True):
        netloc = MASK
    path = "/".join(
        MASK if _is_secret_piece(seg, channel=channel) else _mask_params(seg, secrets, channel)
        for seg in parts.path.split("/")
    )
    query = _mask_query(parts.query, secrets, channel=channel, strict=strict)
    # A fragment can carry a token too (``#access_token=...`` of OAuth implicit flows).
    fragment = _mask_query(parts.fragment, secrets, channel=channel, strict=strict)
    masked = urlunsplit((parts.scheme, netloc, path, query, fragment))
    if not netloc and url.startswith(f"{parts.scheme}://"):
        # urlunsplit drops the empty authority: sqlite:///data/x.db must not become sqlite:/data/x.db
        masked = f"{parts.scheme}://" + masked[len(parts.scheme) + 1 :]
    return masked


def _mask_params(segment: str, secrets: tuple[str, ...], channel: bool) -> str:
    """A path segment's ``;key=value`` parameters (``;jsessionid=...``) masked like a query."""
    head, sep, params = segment.partition(";")
    if not sep or "=" not in params:
        return segment
    masked = (_mask_query(p, secrets, channel=channel, strict=False) for p in params.split(";"))
    return head + sep + ";".join(masked)


def _mask_query(query: str, secrets: tuple[str, ...], *, channel: bool, strict: bool) -> str:
    """``k=v&...`` with each secret value (:func:`_is_secret_value`) -> ``***``; the other
    pairs stay as written (no re-encoding: what was shown is what was fetched)."""
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        key, eq, raw = pair.partition("=")
        if eq and (strict or _is_secret_value(unquote_plus(key), raw, secrets, channel=channel)):
            pair = f"{key}={MASK}"
        pairs.append(pair)
    return "&".join(pairs)


def _is_secret_value(key: str, raw: str, secrets: tuple[str, ...], *, channel: bool) -> bool:
    """A query value to mask: under a secret-named key, token-like, or holding a registered
    secret however it is encoded (``+`` as a plus or a space) or a mask already."""
    decoded = {raw, unquote(raw), unquote_plus(raw)}
    return (
        bool(_SECRET_QUERY_KEYS.search(key))
        or any(MASK in v or _is_secret_piece(v, channel=channel) for v in decoded)
        or any(s in v for s in secrets if len(s) >= MIN_SECRET_LEN for v in decoded)
    )


def _literal_forms(value: str) -> set[str]:
    """``value`` as it may appear in text or a URL: as is and percent-encoded."""
    return {value, quote(value, safe=""), quote(value), quote_plus(value)}


def _mask_literals(text: str, values: tuple[str, ...]) -> str:
    """Every form (:func:`_literal_forms`) of every long enough value in ``text`` -> ``***``,
    longest first so no piece of a longer secret is left behind."""
    forms = {f for v in values if v and len(v) >= MIN_SECRET_LEN for f in _literal_forms(v)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def _is_channel_url(scheme: str) -> bool:
    """An apprise/notification URL (``tgram://``, ``msteams://``...), not a web or file link."""
    return scheme.lower() not in ("http", "https", "file", "")


def _is_secret_piece(piece: str, *, channel: bool) -> bool:
    """Whether one piece of a URL (a path segment, a host) is a secret: a token
    (:func:`_looks_like_token`) anywhere, and in a channel URL also a GUID (webhook ids
    such as Teams' ``1a2b3c4d-...``). UUIDs in news links and host names stay readable."""
    return _looks_like_token(piece) or (channel and _GUID.fullmatch(piece) is not None)


def _looks_like_token(segment: str) -> bool:
    """Bot tokens and API keys: a long unbroken run of letters and digits, with digits
    or mixed case (``123456:AAHdq...``, hex ids). Word slugs (``kyiv-news-2026-11``) pass.
    """
    if len(segment) < 16 or " " in segment:
        return False
    longest = max(_ALNUM_RUN.findall(segment), key=len, default="")
    if len(longest) < 16:
        return False
    has_digit = any(c.isdigit() for c in segment)
    mixed_case = any(c.isupper() for c in longest) and any(c.islower() for c in longest)
    return any(c.isalpha() for c in segment) and (has_digit or mixed_case)


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal secrets of a URL: its password and every piece between ``/ @ ? & =``
    that is a secret by the rule :func:`mask_url` uses (:func:`_is_secret_piece`). Pass them to
    :func:`mask_text` for a message that may quote them without the URL around them
    (a library's error naming the bot token)."""
    found = []
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found.append(password)
    channel = _is_channel_url(url.split("://", 1)[0] if "://" in url else "")
    pieces = _URL_PIECE.split(url.split("://", 1)[-1])
    found += [p for p in pieces if _is_secret_piece(p, channel=channel)]
    return tuple(found)


def mask_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """The masking function for display: every registered secret and every literal value
    given (as is and percent-encoded), every URL in ``text`` (:func:`mask_url`),
    secret-named pairs and bearer tokens. Deterministic for a given registry.
    """
    text = _mask_literals(text, (*secrets, *registered_secrets()))
    text = _URL_IN_TEXT.sub(_mask_url_in_text, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _SECRET_PAIR.sub(_mask_pair, text)


def _mask_pair(m: re.Match[str]) -> str:
    """A secret-named pair with its value masked (a quoted value keeps its quotes: JSON
    stays JSON); kept as it is when the value is a mask already or, after ``: `` and a
    space, an unquoted word of prose (:func:`_is_credential_like`): "unclosed token: line
    1, column 12" is an XML parser's position, not a token."""
    key, sep, value = m.group(1, 2, 3)
    quote = value[0] if value[0] in "\"'" else ""
    prose = sep == ":" and key[-1].isspace() and not quote and not _is_credential_like(value)
    if prose or value.startswith(MASK) or value == quote * 2:  # token="": nothing to hide
        return m.group(0)
    return f"{key}{quote}{MASK}{quote}"


def _is_credential_like(value: str) -> bool:
    """An unquoted value that reads as a credential: it has a digit, a symbol inside it
    or a capital after its first letter (``hunter2``, ``k-12345``, ``s3cr3t``,
    ``abcDEF``). A lowercase or capitalised word (``line``, ``expired.``, ``Missing``) is
    prose. ``key=value`` is always masked: prose does not write an ``=``."""
    word = value.rstrip(_PROSE_END)
    return bool(word) and (not word.isalpha() or any(c.isdigit() or c.isupper() for c in word[1:]))


_TRAILING = ").,;:!?]}"  # after a URL in prose: "(see http://x/?t=abc)." ends at the "c"


def _mask_url_in_text(m: re.Match[str]) -> str:
    """A URL found in free text, masked, with the punctuation that ends its sentence kept."""
    url = m.group(0)
    cut = len(url.rstrip(_TRAILING))
    return mask_url(url[:cut]) + url[cut:]


def load_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read every file in ``$CREDENTIALS_DIRECTORY`` as ``{name: value}``; {} without it.

    One trailing newline is dropped (``echo token > file``). A name loaded from the
    credentials folder (``press-monitor_TELEGRAM_BOT_TOKEN``) is also given without
    its prefix. Each value is registered as a secret. Unreadable, oversized or
    non-UTF-8 files are skipped.
    """
    env = os.environ if environ is None else environ
    folder = env.get("CREDENTIALS_DIRECTORY")
    if not folder or not Path(folder).is_dir():
        return {}
    creds: dict[str, str] = {}
    for path in sorted(Path(folder).iterdir()):
        value = _read_credential(path)
        if value is None:
            continue
        register_secret(value)
        creds[path.name] = value
        if path.name.startswith(CREDENTIAL_PREFIX):
            creds.setdefault(path.name[len(CREDENTIAL_PREFIX) :], value)
    return creds


def _read_credential(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_CREDENTIAL_BYTES:
            return None
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text[:-1] if text.endswith("\n") else text


def secret_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment with systemd credentials laid over it (credentials win).

    Pass the result to the config loader for ``${VAR}`` substitution.
    """
    env = dict(os.environ if environ is None else environ)
    env.update(load_credentials(env))
    return env
