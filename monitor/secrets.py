"""Secrets never reach a log line or an error message: masking helpers. No I/O."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
_SECRET_QUERY_KEYS = re.compile(r"(token|key|secret|pass|pwd|auth|sig|apikey|api_key|access)", re.I)
# A URL inside free text: scheme://... up to whitespace or a quote.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """Mask credentials in a URL: user:password, path segments of apprise URLs that hold
    tokens (``tgram://123:ABC/456`` -> ``tgram://***/456``), and secret-looking query values.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        creds, _, host = netloc.rpartition("@")
        user = creds.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in creds else f"{MASK}@{host}"
    elif parts.scheme not in ("http", "https", "file", "") and _looks_like_token(netloc):
        netloc = MASK
    path = "/".join(MASK if _looks_like_token(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        f"{quote(k)}={MASK if _SECRET_QUERY_KEYS.search(k) else quote(v, safe='@.,:')}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _looks_like_token(segment: str) -> bool:
    """Bot tokens and API keys: long, mixed letters and digits (``123456:AA...``)."""
    if len(segment) < 16:
        return False
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    return has_digit and has_alpha and " " not in segment


def mask_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask every URL in ``text`` and every literal secret value given."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
