"""Checks of the URLs a config names: what would fail every poll or every send. No I/O.

A port of 99999 in a feed URL passes ``urlsplit`` and the HTTP client's own parser, then
breaks every poll of that feed; a space or a control character in a host likewise. These
say so when the config loads. Each returns the problem (a sentence a person can act
on) or None; the validator adds the file, key and line and masks the URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

_PORT_KEYS = ("smtp", "port")  # query keys that carry a port in apprise URLs (mailtos://)
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _port_text(netloc: str) -> str:
    """The text after the port colon of ``[user[:pw]@]host[:port]`` ("" when none)."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):  # [::1]:8080
        hostport = hostport.partition("]")[2]
    return hostport.rpartition(":")[2] if ":" in hostport else ""


def _bad_port(text: str) -> str | None:
    if text.isascii() and text.isdigit() and not 0 < int(text) < 65536:
        return f"port {int(text)} is out of range: use a port from 1 to 65535"
    return None


def port_problem(url: str) -> str | None:
    """A port written in ``url`` (``host:PORT``, or ``?smtp=host:PORT`` / ``?port=``)
    outside 1-65535, or None. Only ports made of digits are looked at: in apprise URLs
    such as ``tgram://123:ABC/42`` the part after a colon may be a token."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None  # the caller's own parser says what is wrong
    problem = _bad_port(_port_text(parts.netloc))
    for key, value in parse_qsl(parts.query):
        if problem is None and key.lower() in _PORT_KEYS:
            problem = _bad_port(value if key.lower() == "port" else _port_text(value))
    return problem


MAX_FEED_URL_CHARS = 2048  # feeds.url is String(2048)


def feed_url_problem(url: str) -> str | None:
    """Why the http(s) feed URL ``url`` cannot be fetched, or None: no host, a port out
    of range, a space (outside the path, query and fragment, where the fetcher sends it
    as %20 as it always did) or a control character, or anything the fetcher refuses
    (:func:`monitor.fetch.client.checked_url`: too long, a label that does not encode)."""
    from monitor.fetch.client import checked_url, encode_spaces

    url = encode_spaces(url)
    if len(url) > MAX_FEED_URL_CHARS:
        return (
            f"the URL is {len(url)} characters long: the database keeps a feed's URL in "
            f"{MAX_FEED_URL_CHARS} (PostgreSQL refuses longer; shorten it)"
        )
    if _SPACE_OR_CONTROL.search(url):
        return "a space or a control character in the URL: percent-encode it (%20)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL"
        return f"not a valid URL ({exc})"
    if not host:
        return "no host in the URL"
    problem = port_problem(url)
    if problem is None and _port_text(parts.netloc) and not _port_text(parts.netloc).isdigit():
        problem = "the port is not a number"
    if problem:
        return problem
    fetch_problem = checked_url(url)  # the fetcher's own check, httpx's parser included
    return f"not a URL the HTTP client can fetch ({fetch_problem})" if fetch_problem else None
