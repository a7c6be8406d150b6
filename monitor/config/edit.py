"""Edit a config file in place: append ``[[feeds]]`` tables (``monitor feeds import-opml``).

:func:`append_feeds_toml` appends the feeds whose URL the TOML file does not list yet,
leaving every existing byte of the file as it was; the file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from monitor.errors import ConfigError
from monitor.records import ImportedFeed


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes; DEL must be escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _as_feed(feed: ImportedFeed | Mapping[str, str | None]) -> ImportedFeed:
    if isinstance(feed, ImportedFeed):
        return feed
    return ImportedFeed(str(feed["url"]), feed.get("name"), feed.get("language"))


def _feed_table(feed: ImportedFeed) -> str:
    lines = ["[[feeds]]", f"url = {_toml_string(feed.url)}"]
    if feed.name:
        lines.append(f"name = {_toml_string(feed.name)}")
    if feed.language:
        lines.append(f"language = {_toml_string(feed.language)}")
    return "\n".join(lines) + "\n"


def _existing_urls(text: str, path: Path) -> set[str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML, nothing imported: {exc}", path=str(path)) from exc
    feeds = data.get("feeds", [])
    if not isinstance(feeds, list):
        return set()
    return {url for f in feeds if isinstance(f, dict) and isinstance(url := f.get("url"), str)}


def append_feeds_toml(
    path: str | Path, feeds: Iterable[ImportedFeed | Mapping[str, str | None]]
) -> int:
    """Append a ``[[feeds]]`` table per feed whose URL ``path`` does not list yet; return
    how many were appended. Existing content is kept byte for byte; the file is replaced
    atomically and only when the result is valid TOML. A missing file is created."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    known = _existing_urls(text, path)
    tables = []
    for feed in map(_as_feed, feeds):
        if feed.url not in known:
            known.add(feed.url)
            tables.append(_feed_table(feed))
    if not tables:
        return 0
    head = text if not text or text.endswith("\n") else text + "\n"
    new_text = head + "".join(("\n" if head or i else "") + t for i, t in enumerate(tables))
    _existing_urls(new_text, path)  # e.g. an inline `feeds = [...]` cannot take [[feeds]]
    _write_atomically(path, new_text)
    return len(tables)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
