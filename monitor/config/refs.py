"""``${VAR}`` values put into a URL: each encoded for the URL part it stands in. No I/O.

A password such as ``p@ss/w#rd`` put into ``mailto://pm:${SMTP_PASS}@host`` as written
makes another URL: its ``@`` ends the user part, its ``/`` starts the path, its ``#`` a
fragment, and the library reading it quotes the pieces in its errors (issue 13). So a
value that stands for a piece of a URL is percent-encoded for that piece
(:func:`fill_refs`): the URL built so far says which piece it is.

- **userinfo** (``${USER}:${PASS}@``): all but RFC 3986's unreserved characters and
  sub-delims, ``:`` too (apprise cuts a password at its second colon). A reference that
  is the whole userinfo (``${CREDS}@host``) may hold ``user:password``: its first ``:``
  is kept as the separator.
- **a path segment** (``/${TOKEN}/``): all but the RFC's ``pchar``: a ``/`` in the value
  stays in its segment.
- **a query value** (``?token=${T}``) or the fragment: also ``& ; + #``, which split pairs
  or mean a space to the server and to apprise.
- **as written**: a reference before ``://`` (``url = "${FEED_URL}"``, the scheme, a base
  URL), in the host part (``tgram://${TOKEN}/chat``: apprise reads the ``:`` of a bot token
  there; ``${HOST}:${PORT}``), a query key or whole query (``?${QUERY}``), and any
  reference in a ``file:`` URL (a local path).

A value already percent-encoded is kept: one whose every ``%`` starts a ``%XX`` escape and
whose other characters may stand in its part as they are (``p%40ss%2Fw``). Any other
``%`` is encoded as ``%25`` (``50%off`` -> ``50%25off``). Characters a part allows (a
``+`` or ``=`` in a password, ``@`` and ``:`` in a path) are kept, so a value that worked
as written makes the same URL as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import quote

Part = Literal["userinfo", "user", "password", "path", "query"]

_SUB_DELIMS = "!$&'()*+,;="
_KEEP: dict[Part, str] = {  # what may stand in each part as written (quote() keeps A-Za-z0-9-._~)
    "userinfo": _SUB_DELIMS,  # either side of the first ':' (encode_for)
    "user": _SUB_DELIMS,
    "password": _SUB_DELIMS,
    "path": _SUB_DELIMS + ":@",
    "query": "!$'()*,/:?@=",
}
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def fill_refs(pieces: Sequence[str], lookup: Callable[[str], str | None]) -> str:
    """The URL of ``pieces`` (``ENV_REF.split(url)``: text, name, text, ..., text) with each
    name's value (``lookup(name)``) encoded for the part it stands in (:func:`url_part`);
    a name ``lookup`` does not know (None) stays ``${NAME}``."""
    out = pieces[0]
    for i in range(1, len(pieces), 2):
        name, rest = pieces[i], "".join(pieces[i + 1 :])
        value = lookup(name)
        if value is None:
            out += "${" + name + "}"
        else:
            part = url_part(out, rest)
            out += value if part is None else encode_for(part, value)
        out += pieces[i + 1]
    return out


def url_part(before: str, after: str) -> Part | None:
    """The URL part a reference stands in, from the URL text ``before`` it and the text
    ``after`` it; None where it is put in as written (see the module docstring)."""
    scheme, sep, rest = before.partition("://")
    if not sep or scheme.lower() == "file":
        return None
    if "?" in rest or "#" in rest:
        query = re.split(r"[?#]", rest, maxsplit=1)[1]
        return "query" if "=" in re.split(r"[&;]", query)[-1] or "#" in rest else None
    if "/" in rest:
        return "path"
    authority_after = re.split(r"[/?#]", after, maxsplit=1)[0]
    if "@" in rest or "@" not in authority_after:
        return None  # the host (and port)
    if ":" in rest:
        return "password"
    return "user" if ":" in authority_after.partition("@")[0] else "userinfo"


def encode_for(part: Part, value: str) -> str:
    """``value`` percent-encoded for ``part``, or as it is when it is already encoded
    (:func:`is_encoded`). In a whole ``userinfo`` the first ``:`` separates the user
    from the password and is kept."""
    if part == "userinfo" and ":" in value:
        user, _, password = value.partition(":")
        return f"{encode_for('user', user)}:{encode_for('password', password)}"
    keep = _KEEP[part]
    return value if is_encoded(value, keep) else quote(value, safe=keep)


def is_encoded(value: str, keep: str) -> bool:
    """Whether ``value`` may stand in a URL part as it is: every ``%`` starts a ``%XX``
    escape, every other character is unreserved or in ``keep``."""
    allowed = _UNRESERVED | frozenset(keep)
    return all(c in allowed for c in _ESCAPE.sub("", value))
