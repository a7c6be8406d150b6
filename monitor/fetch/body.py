"""Collect a response body within a cap counted after decompression.

We decompress ``gzip``/``deflate`` ourselves, incrementally, so a gzip bomb stops at the
cap instead of filling memory; a Content-Length over the cap is refused before reading.
Past the cap: ``FetchError("too_large")``; a corrupt stream: ``FetchError("parse_error")``.
:class:`BoundedBody`, :func:`gunzip_if_gzip` and :func:`too_large` do no I/O;
:func:`read_capped` reads a streaming ``httpx`` response. The wall-clock deadline is the
caller's (:meth:`monitor.fetch.client.FeedClient.get` bounds the whole exchange).
"""

from __future__ import annotations

import zlib
from typing import Protocol

import httpx

from monitor.errors import FetchError


def too_large(cap: int) -> FetchError:
    """The ``too_large`` error for a body past ``cap`` decompressed bytes. No I/O."""
    return FetchError(
        "too_large",
        f"the body exceeds {cap} bytes after decompression: if the feed is legitimately this "
        "large, raise max_bytes for it",
    )


class _Decoder(Protocol):
    """What :class:`BoundedBody` uses of a ``zlib`` decompressor (or :class:`_Drain`)."""

    @property
    def eof(self) -> bool: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...


class BoundedBody:
    """Collect a body, decompressing ``gzip``/``deflate`` incrementally; never holds more
    than ``cap`` decompressed bytes (raises ``FetchError("too_large")`` past it).
    """

    def __init__(self, encoding: str | None, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self._parts: list[bytes] = []
        enc = (encoding or "identity").strip().lower()
        self._decoder: _Decoder | None
        if enc in ("", "identity", "none"):
            self._decoder = None
        elif enc in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise FetchError("network", f"the server sent Content-Encoding {enc!r}, not asked for")
        self._encoding = enc

    def feed(self, chunk: bytes) -> None:
        """Add raw (possibly compressed) bytes."""
        if self._decoder is None:
            self._append(chunk)
            return
        try:
            self._inflate(chunk)
        except zlib.error as exc:
            if self._encoding == "deflate" and self.size == 0 and not self._parts:
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no header
                self._encoding = "raw-deflate"
                self.feed(chunk)
                return
            raise FetchError("parse_error", f"the compressed body is corrupt ({exc})") from exc

    def _inflate(self, data: bytes) -> None:
        assert self._decoder is not None
        while data:
            self._append(self._decoder.decompress(data, self.cap - self.size + 1))
            data = self._decoder.unconsumed_tail
            if self._decoder.eof:
                rest = self._decoder.unused_data
                if not rest.startswith(b"\x1f\x8b"):
                    self._decoder = _Drain()  # trailing junk after the stream: ignored
                    return
                data = rest  # another gzip member follows (RFC 1952 2.2)
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            self._parts.clear()
            raise too_large(self.cap)
        if data:
            self._parts.append(data)

    def result(self) -> bytes:
        """The whole decompressed body."""
        return b"".join(self._parts)


class _Drain:
    """A decompressor stand-in that swallows whatever follows the end of the stream."""

    eof = False
    unconsumed_tail = b""
    unused_data = b""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        """Nothing: the body ended before these bytes."""
        return b""


def gunzip_if_gzip(body: bytes, cap: int) -> bytes:
    """Decompress a body that is itself a gzip file (``feed.xml.gz`` served without
    Content-Encoding), within ``cap``; other bodies are returned unchanged."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inner = BoundedBody("gzip", cap)
    inner.feed(body)
    return inner.result()


async def read_capped(resp: httpx.Response, cap: int) -> bytes:
    """Read the whole body of a streaming ``resp``, decompressed, within ``cap`` bytes."""
    encoding = resp.headers.get("content-encoding")
    length = resp.headers.get("content-length", "")
    if not encoding and length.isdigit() and int(length) > cap:
        raise too_large(cap)
    collector = BoundedBody(encoding, cap)
    async for chunk in resp.aiter_raw():
        collector.feed(chunk)
    return collector.result()
