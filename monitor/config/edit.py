"""Edit a config file in place: append ``[[feeds]]`` tables (``monitor feeds import-opml``).

:func:`append_feeds_toml` appends the feeds whose URL the TOML file does not list yet,
leaving every existing byte of the file as it was; the file is replaced atomically.
:func:`add_include` adds a file to ``[monitor] include`` by changing or inserting one
line, and only when the result reads as exactly the old document plus that entry.
A new file is created 0644 (less the umask) so a service user (``DynamicUser=``) can read
it, or 0600 when a feed URL in it holds a credential; an existing file keeps its mode.

What a config file lists as written (:func:`read_listing`), whether an imported URL is
one of its feeds (:class:`FeedIndex`: compared as the loader reads them, ``${VAR}``
expanded), where an ``include`` entry points (:func:`include_path`, :func:`include_entry`)
and whether two paths are one file (:func:`same_file`) are answered here once, for the
validator and ``monitor feeds`` alike.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config.refs import fill_refs
from monitor.errors import ConfigError
from monitor.records import ImportedFeed
from monitor.secrets import url_secrets

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # ${VAR} in a URL: expanded at load


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes; DEL must be escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _as_feed(feed: ImportedFeed | Mapping[str, str | None]) -> ImportedFeed:
    if isinstance(feed, ImportedFeed):
        return feed
    return ImportedFeed(str(feed["url"]), feed.get("name"), feed.get("language"))


def feed_table(feed: ImportedFeed) -> str:
    """One ``[[feeds]]`` table for ``feed``, ending in a newline. No I/O."""
    lines = ["[[feeds]]", f"url = {_toml_string(feed.url)}"]
    if feed.name:
        lines.append(f"name = {_toml_string(feed.name)}")
    if feed.language:
        lines.append(f"language = {_toml_string(feed.language)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Listing:
    """What one config file lists, as written: its ``[[feeds]]`` URLs (stripped, as the
    loader strips them; ``${VAR}`` not expanded) and its ``[monitor] include`` entries."""

    feed_urls: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


def listing(data: Mapping[str, Any]) -> Listing:
    """The :class:`Listing` of a parsed TOML document; entries of the wrong type are
    left out (the loader reports them). No I/O."""
    feeds = data.get("feeds", [])
    urls = (
        tuple(
            f["url"].strip() for f in feeds if isinstance(f, dict) and isinstance(f.get("url"), str)
        )
        if isinstance(feeds, list)
        else ()
    )
    include = _include_entries(data)
    return Listing(urls, tuple(include or ()))


def read_listing(path: Path) -> Listing | None:
    """The :class:`Listing` of the TOML file at ``path``; None when it cannot be read
    as TOML."""
    try:
        return listing(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError):  # ValueError: TOMLDecodeError too
        return None


def _include_entries(data: Mapping[str, Any]) -> list[str] | None:
    """``[monitor] include`` of a parsed document ([] when absent); None when it is not a
    list of strings (or ``monitor`` is not a table), which only the loader may judge."""
    monitor = data.get("monitor", {})
    include = monitor.get("include", []) if isinstance(monitor, dict) else None
    if not isinstance(include, list) or not all(isinstance(e, str) for e in include):
        return None
    return include


def expand_known(url: str, environ: Mapping[str, str]) -> str:
    """``url`` with each ``${VAR}`` that ``environ`` sets replaced (encoded for its URL
    part: :func:`~monitor.config.refs.fill_refs`), as the loader would;
    one not set is kept as written. The result may hold a secret: compare it, never
    show it. No I/O."""
    return fill_refs(ENV_REF.split(url.strip()), environ.get)


@dataclass(frozen=True, slots=True)
class Listed:
    """The feed a config lists that an imported URL is: its URL as written, and whether
    that was only a guess (a ``${VAR}`` in it is not set here, so it matched by pattern)."""

    written: str
    guessed: bool = False


@dataclass
class FeedIndex:
    """The feeds of one or more config files, to tell whether an imported URL is one of
    them. URLs are compared as the loader will read them: stripped, each ``${VAR}`` set
    in ``environ`` expanded, so ``https://x/?token=${FEED_TOKEN}`` in the config is the
    ``https://x/?token=abc`` of an OPML file when ``FEED_TOKEN=abc``. A URL whose variable
    is not set here stands for any value of it within one URL part (no ``/?#&``): a
    guess, reported as one. No I/O."""

    environ: Mapping[str, str]
    _exact: dict[str, str] = field(default_factory=dict)  # expanded -> as written
    _patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def add(self, written: str) -> None:
        """Add one feed URL as a config file writes it."""
        url = expand_known(written, self.environ)
        self._exact.setdefault(url, written.strip())
        if ENV_REF.search(url):
            parts = ENV_REF.split(url)  # text, name, text, name, ..., text
            regex = "".join(
                re.escape(p) if i % 2 == 0 else r"[^/?#&\s]+" for i, p in enumerate(parts)
            )
            self._patterns.append((re.compile(regex), written.strip()))

    def find(self, url: str) -> Listed | None:
        """The listed feed ``url`` is, or None when it is new."""
        url = expand_known(url, self.environ)
        if url in self._exact:
            return Listed(self._exact[url])
        for pattern, written in self._patterns:
            if pattern.fullmatch(url):
                return Listed(written, guessed=True)
        return None


def _existing_urls(text: str, path: Path, environ: Mapping[str, str]) -> FeedIndex:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML, nothing imported: {exc}", path=str(path)) from exc
    index = FeedIndex(environ)
    for url in listing(data).feed_urls:
        index.add(url)
    return index


def append_feeds_toml(
    path: str | Path,
    feeds: Iterable[ImportedFeed | Mapping[str, str | None]],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Append a ``[[feeds]]`` table per feed whose URL ``path`` does not list yet (as
    :class:`FeedIndex` compares them, with ``environ``'s variables); return how many were
    appended. Existing content is kept byte for byte; the file is replaced atomically and
    only when the result is valid TOML. A missing file is created."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    known = _existing_urls(text, path, environ or {})
    tables = []
    private = False
    for feed in map(_as_feed, feeds):
        if known.find(feed.url) is None:
            known.add(feed.url)
            tables.append(feed_table(feed))
            private = private or bool(url_secrets(feed.url))
    if not tables:
        return 0
    head = text if not text or text.endswith("\n") else text + "\n"
    new_text = head + "".join(("\n" if head or i else "") + t for i, t in enumerate(tables))
    _existing_urls(new_text, path, {})  # e.g. an inline `feeds = [...]` cannot take [[feeds]]
    _write_atomically(path, new_text, private=private)
    return len(tables)


def _new_file_mode(private: bool) -> int:
    """0600 for a file holding a secret, else 0644 less the process umask."""
    if private:
        return 0o600
    umask = os.umask(0)
    os.umask(umask)
    return 0o644 & ~umask


def _write_atomically(path: Path, text: str, *, private: bool = False) -> None:
    """Replace ``path`` by ``text``: an existing file keeps its mode, a new one gets
    :func:`_new_file_mode` (``mkstemp`` alone would leave it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, _new_file_mode(private))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_MONITOR_HEADER = re.compile(r"^[ \t]*\[[ \t]*monitor[ \t]*\][ \t]*(#.*)?$")
_ANY_HEADER = re.compile(r"^[ \t]*\[")
_INCLUDE_LINE = re.compile(r"^([ \t]*include[ \t]*=[ \t]*)\[[^\]#]*\]([ \t]*(#.*)?)$")


def include_line(entries: list[str]) -> str:
    """``include = ["a.toml", "feeds.toml"]`` as TOML. No I/O."""
    return f"include = [{', '.join(_toml_string(e) for e in entries)}]"


def add_include(path: str | Path, entry: str) -> bool:
    """Add ``entry`` to ``[monitor] include`` of the TOML file at ``path``, keeping every
    other line (comments, order, spacing) as it is: a one-line ``include = [...]`` in the
    ``[monitor]`` table is rewritten, else ``include = [...]`` is inserted below the
    ``[monitor]`` header, else a ``[monitor]`` table is appended. Returns False, and
    leaves the file untouched, when ``entry`` is already listed or when no such edit gives
    exactly the old document plus ``entry`` (a multi-line array, a dotted key, an inline
    table...): the caller then tells the user the line to add."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    old = _include_entries(data)
    if old is None or entry in old:
        return False
    expected = copy.deepcopy(data)
    expected.setdefault("monitor", {})["include"] = [*old, entry]
    new_text = _with_include(text, [*old, entry], has_key="include" in data.get("monitor", {}))
    if new_text is None:
        return False
    try:
        if tomllib.loads(new_text) != expected:
            return False
    except tomllib.TOMLDecodeError:
        return False
    _write_atomically(path, new_text)
    return True


def _with_include(text: str, entries: list[str], *, has_key: bool) -> str | None:
    lines = text.splitlines(keepends=True)
    header = next(
        (i for i, line in enumerate(lines) if _MONITOR_HEADER.match(line.rstrip("\r\n"))), None
    )
    if header is None:
        if has_key:
            return None  # `monitor.include = ...` or `monitor = {...}`: not ours to rewrite
        head = text if not text or text.endswith("\n") else text + "\n"
        return head + ("\n" if head else "") + "[monitor]\n" + include_line(entries) + "\n"
    if not has_key:
        lines.insert(header + 1, include_line(entries) + "\n")
        return "".join(lines)
    for i in range(header + 1, len(lines)):
        body = lines[i].rstrip("\r\n")
        if _ANY_HEADER.match(body):
            break
        m = _INCLUDE_LINE.match(body)
        if m:
            array = include_line(entries).split(" = ", 1)[1]
            lines[i] = f"{m.group(1)}{array}{m.group(2)}" + lines[i][len(body) :]
            return "".join(lines)
    return None


def include_path(config: Path, entry: str) -> Path:
    """The file an ``[monitor] include`` entry of the config at ``config`` names:
    ``~`` expanded, a relative path taken from the config's folder. No I/O."""
    return config.parent / Path(entry).expanduser()  # an absolute entry replaces the folder


def include_entry(target: Path, config: Path) -> str:
    """How ``[monitor] include`` in ``config`` names ``target``: relative to the config's
    folder when below it, else absolute."""
    absolute = target.resolve()
    try:
        return absolute.relative_to(config.resolve().parent).as_posix()
    except ValueError:
        return str(absolute)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same file when both exist (through a
    symlinked folder or a hard link), else the same path once resolved (a file about
    to be written); False when either cannot even be looked up."""
    try:
        return a.samefile(b)
    except (OSError, ValueError):
        pass
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):
        return False
