"""Read a feed from a local file (a path or ``file://`` URL) with the same contract as an
HTTP fetch: the file's mtime (to the nanosecond, with its size) serves as Last-Modified (an unchanged one plus a known
body hash is "not_modified" without reading), the body is capped at ``cap`` bytes (a
``.gz`` file is decompressed within the cap) and its hash decides "ok" or
"not_modified". Failures are ``FetchError("file" | "network" | "too_large" | "parse_error")``
("file": the file cannot be read; "network": a URL of another scheme).
I/O: stats and reads the file (in a thread).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from monitor.errors import FetchError
from monitor.fetch.body import gunzip_if_gzip, too_large
from monitor.fetch.state import FetchResult, FetchState, result_for_body
from monitor.records import FeedConfig
from monitor.secrets import mask_url


async def fetch_local(feed: FeedConfig, state: FetchState, forced: bool, cap: int) -> FetchResult:
    """Fetch the local file ``feed.url`` given what we know from last time (``state``);
    ``forced`` skips the mtime shortcut. Raises :class:`FetchError`."""
    path = _local_path(feed.url)
    try:
        stat = path.stat()
        # the mtime to the nanosecond and the size: a file rewritten within the second
        # it was read in is read again (an HTTP date alone has whole seconds)
        when = format_datetime(datetime.fromtimestamp(stat.st_mtime, tz=UTC), usegmt=True)
        mtime = f"{when}; ns={stat.st_mtime_ns}; size={stat.st_size}"
        content_type = _local_content_type(path)
        if not forced and state.last_modified == mtime and state.body_hash:
            return FetchResult(
                status="not_modified", body=None, content_type=content_type, etag=None,
                last_modified=mtime, body_hash=state.body_hash, final_url=str(path),
                http_status=None, forced=forced,
            )  # fmt: skip
        if stat.st_size > cap:
            raise too_large(cap)
        raw = await asyncio.to_thread(_read_prefix, path, cap + 1)
    except OSError as exc:
        raise FetchError(
            "file", f"cannot read the local feed file {path}: {exc.strerror or exc}"
        ) from exc
    if len(raw) > cap:  # the file grew after stat()
        raise too_large(cap)
    return result_for_body(
        gunzip_if_gzip(raw, cap), state, content_type=content_type, etag=None,
        last_modified=mtime, final_url=str(path), http_status=None, forced=forced,
    )  # fmt: skip


def _local_path(url: str) -> Path:
    """The file a local feed URL names; refuses any scheme but ``file://``."""
    path = Path(url.removeprefix("file://")).expanduser()
    if "://" in url and not url.startswith("file://"):
        raise FetchError("network", f"{mask_url(url)}: only http(s) URLs and local files")
    return path


def _read_prefix(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(limit)


def _local_content_type(path: Path) -> str | None:
    return "application/feed+json" if path.suffix.lower() == ".json" else None
