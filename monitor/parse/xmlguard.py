"""Neutralise external entities (XXE) and refuse amplifying DTDs before an XML parser runs.

:func:`defuse_entities` takes raw document bytes and returns bytes that are safe to hand to
feedparser (whose loose parser re-expands internal entities without limit) or to
``xml.etree``: external entity declarations become empty internal ones, so nothing is ever
fetched or read, and DTDs whose entities could amplify (billion laughs, quadratic blowup)
raise ``FetchError("parse_error")``. Documents without ``<!ENTITY`` pass through unchanged.
No I/O.
"""

from __future__ import annotations

import re

from monitor.errors import FetchError

MAX_ENTITY_DECLARATIONS = 64
MAX_ENTITY_EXPANSION = 1024 * 1024  # bytes all entity references may add, in total
_PREDEFINED = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+(%\s+)?([^\s"'>%&;]+)\s+(?:"([^"]*)"|'([^']*)'|((?:SYSTEM|PUBLIC)[^>]*))\s*>""",
    re.DOTALL,
)
_ANY_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_REFERENCE = re.compile(rb"[&%]([^\s#;&%<>\"']+);")
_WIDE_ENCODINGS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def defuse_entities(body: bytes) -> bytes:
    """Return ``body`` with external entity declarations made empty; raise
    ``FetchError("parse_error")`` when declared entities could amplify (entities that
    reference entities, too many declarations, or references that would expand to more
    than :data:`MAX_ENTITY_EXPANSION` bytes). Documents without ``<!ENTITY`` are returned
    unchanged. No I/O.
    """
    text, ascii_compatible = _scannable(body)
    if not _ANY_ENTITY_DECL.search(text):
        return body
    declarations = _vetted_declarations(text)
    _check_amplification(text, declarations)
    external = [m for m in declarations if m.group(5)]
    if not external:
        return body
    if not ascii_compatible:
        raise FetchError("parse_error", "the feed declares external XML entities: refused")
    return _neutralise_external(text, external)


def _scannable(body: bytes) -> tuple[bytes, bool]:
    """The document as ASCII-compatible bytes for scanning, and whether ``body`` already was."""
    for prefix, codec in _WIDE_ENCODINGS:
        if body.startswith(prefix):
            return body.decode(codec, "replace").encode("utf-8"), False
    return body, True


def _vetted_declarations(text: bytes) -> list[re.Match[bytes]]:
    """Every ``<!ENTITY`` declaration, parsed; refuses too many or any we cannot parse."""
    declared = len(_ANY_ENTITY_DECL.findall(text))
    if declared > MAX_ENTITY_DECLARATIONS:
        raise FetchError("parse_error", f"the feed's DTD declares {declared} entities: refused")
    declarations = list(_ENTITY_DECL.finditer(text))
    if declared != len(declarations):
        raise FetchError(
            "parse_error", "the feed's DTD has an entity declaration we cannot vet: refused"
        )
    return declarations


def _check_amplification(text: bytes, declarations: list[re.Match[bytes]]) -> None:
    expansion = 0
    for m in declarations:
        value = m.group(3) if m.group(3) is not None else (m.group(4) or b"")
        if m.group(1) and b"<!" in value:
            raise FetchError("parse_error", "the feed's DTD builds declarations from entities")
        nested = [r for r in _REFERENCE.findall(value) if r not in _PREDEFINED]
        if nested:
            raise FetchError(
                "parse_error",
                f"the feed's DTD declares entity {m.group(2).decode(errors='replace')!r} "
                "from other entities (an entity-expansion attack?): refused",
            )
        if not m.group(1) and value:
            expansion += len(value) * text.count(b"&" + m.group(2) + b";")
    if expansion > MAX_ENTITY_EXPANSION:
        raise FetchError(
            "parse_error",
            f"the feed's entities would expand by {expansion} bytes "
            "(an entity-expansion attack?): refused",
        )


def _neutralise_external(text: bytes, external: list[re.Match[bytes]]) -> bytes:
    """Replace each external entity declaration by an empty internal one (XXE)."""
    out, pos = [], 0
    for m in external:
        percent = b"% " if m.group(1) else b""
        out += [text[pos : m.start()], b"<!ENTITY " + percent + m.group(2) + b' "">']
        pos = m.end()
    out.append(text[pos:])
    return b"".join(out)
