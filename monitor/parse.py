"""Parse feed bytes into a :class:`ParsedFeed`: feedparser gets bytes and headers, never a URL.

:func:`parse_feed` is pure (no I/O): RSS 0.9x/1.0/2.0, Atom and RDF through feedparser
(which decodes legacy charsets such as an undeclared windows-1251 with chardet), and
JSON Feed 1.x. Before feedparser sees a document, :func:`defuse_entities` neutralises
external entities (XXE: nothing is ever fetched or read) and refuses DTDs whose entities
could amplify (billion laughs, quadratic blowup), because feedparser's loose parser
re-expands internal entities without limit. A feedparser ``bozo`` flag is a warning
(``ParsedFeed.warning``); zero entries plus a bozo error is a ``parse_error``; an HTML page
is ``not_a_feed``, naming the feed URLs the page links to.

:class:`ParsePool` runs :func:`parse_feed` in worker processes with a time and memory
bound, so a pathological document cannot stall or exhaust the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import feedparser

from monitor.discover import discover_feeds
from monitor.errors import FetchError
from monitor.normalize import repair_mojibake
from monitor.records import Entry, ParsedFeed
from monitor.secrets import mask_url

MAX_ENTITY_DECLARATIONS = 64
MAX_ENTITY_EXPANSION = 1024 * 1024  # bytes all entity references may add, in total
_PREDEFINED = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+(%\s+)?([^\s"'>%&;]+)\s+(?:"([^"]*)"|'([^']*)'|((?:SYSTEM|PUBLIC)[^>]*))\s*>""",
    re.DOTALL,
)
_ANY_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_REFERENCE = re.compile(rb"[&%]([^\s#;&%<>\"']+);")
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF|RDF|channel)[\s>]")
_HTML_SNIFF = re.compile(rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)


def parse_feed(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    """Parse ``body`` (served with ``content_type`` from ``url``) into a :class:`ParsedFeed`.

    Raises ``FetchError("not_a_feed")`` for an empty body, an HTML page or other non-feed,
    ``FetchError("parse_error")`` for a broken feed with no entries or a dangerous DTD.
    ``url`` only resolves relative links and names the feed in messages. No I/O.
    """
    if not body.strip():
        raise FetchError(
            "not_a_feed", f"{mask_url(url)} returned an empty body: check the feed URL"
        )
    if _looks_like_json(body, content_type):
        return parse_json_feed(body, url)
    safe = defuse_entities(body)
    # No Content-Location: feedparser would "resolve" plain guids against it ("g1" ->
    # "http://site/g1"); relative entry links are resolved here instead.
    headers = {"content-type": content_type or "application/xml"}
    result = feedparser.parse(io.BytesIO(safe), response_headers=headers)
    return _to_parsed_feed(result, body, url)


def _to_parsed_feed(result: feedparser.FeedParserDict, body: bytes, url: str) -> ParsedFeed:
    where = mask_url(url)
    warning = _bozo_message(result)
    looks_empty = not result.get("version") and not result.entries
    if looks_empty and _HTML_SNIFF.search(body[:4096]):
        raise FetchError("not_a_feed", _html_page_message(body, url))
    if looks_empty and not result.feed:
        if warning and _FEED_ROOT.search(body[:65536]):
            raise FetchError("parse_error", f"{where} is not a readable feed: {warning}")
        raise FetchError("not_a_feed", f"{where} is not an RSS, Atom or JSON feed")
    base = url if url.startswith(("http://", "https://")) else None
    entries = tuple(_entry(e, base) for e in result.entries)
    if not entries and warning:
        raise FetchError("parse_error", f"{where} has no readable entries: {warning}")
    title = repair_mojibake((result.feed.get("title") or "").strip()) or None
    return ParsedFeed(title=title, entries=entries, ttl_s=_ttl_s(result.feed), warning=warning)


def _html_page_message(body: bytes, url: str) -> str:
    feeds = discover_feeds(body, url)
    if feeds:
        listed = ", ".join(mask_url(f) for f in feeds[:5])
        return f"{mask_url(url)} is an HTML page, not a feed; it links to the feed {listed}: use that URL"
    return f"{mask_url(url)} is an HTML page, not a feed, and links to no feed: find the site's RSS/Atom URL"


def _bozo_message(result: feedparser.FeedParserDict) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "ill-formed feed"
    return text[:300]


def _ttl_s(feed: feedparser.FeedParserDict) -> float | None:
    try:
        minutes = float(str(feed.get("ttl", "")).strip())
    except ValueError:
        return None
    return minutes * 60.0 if 0 < minutes < 10**6 else None


def _entry(e: feedparser.FeedParserDict, base: str | None) -> Entry:
    link = (e.get("link") or "").strip() or None
    return Entry(
        guid=(e.get("id") or "").strip() or None,
        link=urljoin(base, link) if base and link else link,
        title=e.get("title") or "",
        summary_html=_longest_text(e),
        published=_struct_to_utc(_first_date(e)),
    )


def _first_date(e: feedparser.FeedParserDict) -> time.struct_time | None:
    # dict.get: FeedParserDict.get maps a missing updated_parsed to published_parsed, warning.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if value := dict.get(e, key):
            return value
    return None


def _longest_text(e: feedparser.FeedParserDict) -> str:
    """The fullest body feedparser found: ``content:encoded``/Atom content or the summary."""
    candidates = [c.get("value") or "" for c in e.get("content") or ()]
    candidates.append(e.get("summary") or "")
    return max(candidates, key=len)


def _struct_to_utc(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


# -- entity amplification and XXE -------------------------------------------------------


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
    declared = len(_ANY_ENTITY_DECL.findall(text))
    if declared > MAX_ENTITY_DECLARATIONS:
        raise FetchError("parse_error", f"the feed's DTD declares {declared} entities: refused")
    declarations = list(_ENTITY_DECL.finditer(text))
    if declared != len(declarations):
        raise FetchError(
            "parse_error", "the feed's DTD has an entity declaration we cannot vet: refused"
        )
    _check_amplification(text, declarations)
    external = [m for m in declarations if m.group(5)]
    if not external:
        return body
    if not ascii_compatible:
        raise FetchError("parse_error", "the feed declares external XML entities: refused")
    return _neutralise_external(text, external)


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


def _scannable(body: bytes) -> tuple[bytes, bool]:
    """The document as ASCII-compatible bytes for scanning, and whether ``body`` already was."""
    for prefix, codec in _WIDE_ENCODINGS:
        if body.startswith(prefix):
            return body.decode(codec, "replace").encode("utf-8"), False
    return body, True


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


# -- JSON Feed (https://www.jsonfeed.org/version/1.1/) ----------------------------------


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    ctype = (content_type or "").lower()
    return start == b"{" and ("json" in ctype or b"jsonfeed.org/version" in body[:4096])


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse a JSON Feed 1.0/1.1 document. Raises ``FetchError``. No I/O."""
    try:
        doc = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        raise FetchError("parse_error", f"{mask_url(url)} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FetchError(
            "not_a_feed", f"{mask_url(url)} is JSON but not a JSON Feed (no 'items' list)"
        )
    entries = tuple(_json_entry(item) for item in doc["items"] if isinstance(item, dict))
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    return ParsedFeed(title=title or None, entries=entries)


def _json_entry(item: dict) -> Entry:
    def text(key: str) -> str:
        value = item.get(key)
        return value if isinstance(value, str) else ""

    link = text("url") or text("external_url")
    return Entry(
        guid=str(item["id"]) if item.get("id") not in (None, "") else None,
        link=link or None,
        title=text("title"),
        summary_html=text("content_html") or html.escape(text("content_text") or text("summary")),
        published=_iso_to_utc(text("date_published") or text("date_modified")),
    )


def _iso_to_utc(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- the worker pool ---------------------------------------------------------------------
# Workers are plain `python -c` subprocesses speaking length-prefixed pickles on stdin and
# stdout: unlike multiprocessing's spawn they never re-import the caller's __main__; they
# are not tied to an event loop (the daemon runs each cycle in a fresh asyncio.run), and
# one that overruns is killed without touching the others.

_HEADER = struct.Struct("!Q")
_WORKER_CODE = "import monitor.parse as p; p._worker_main()"


def _worker_main() -> None:
    """Worker process loop: read (body, content_type, url) requests, write reply tuples."""
    inp, out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing but replies may reach the protocol stream
    limit = int(os.environ.get("MONITOR_PARSE_MEMORY_LIMIT") or 0)
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while header := inp.read(_HEADER.size):
        body, content_type, url = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        reply = pickle.dumps(_parse_reply(body, content_type, url))
        out.write(_HEADER.pack(len(reply)) + reply)
        out.flush()


def _parse_reply(body: bytes, content_type: str | None, url: str) -> tuple:
    try:
        return ("ok", parse_feed(body, content_type, url))
    except FetchError as exc:
        return ("error", exc.kind, exc.message)
    except MemoryError:
        return ("error", "parse_error", f"{mask_url(url)} needs too much memory to parse: refused")
    except Exception as exc:  # a parser crash on hostile input is this feed's problem
        return ("error", "parse_error", f"the parser failed on {mask_url(url)}: {exc!r}"[:300])


class _Worker:
    """One worker subprocess; :meth:`roundtrip` blocks (run it in a thread)."""

    def __init__(self, memory_limit: int | None) -> None:
        env = dict(os.environ, MONITOR_PARSE_MEMORY_LIMIT=str(memory_limit or 0))
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.parses = 0

    def rss_bytes(self) -> int:
        """Resident memory of the worker (Linux /proc; 0 where unavailable)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def roundtrip(self, payload: bytes) -> tuple:
        """Send one request and read its reply; EOFError when the worker died."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(_HEADER.pack(len(payload)) + payload)
        stdin.flush()
        header = stdout.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise EOFError("the parse worker exited")
        size = _HEADER.unpack(header)[0]
        data = stdout.read(size)
        if len(data) < size:
            raise EOFError("the parse worker exited")
        return pickle.loads(data)

    def kill(self) -> None:
        """Kill the process (unblocks a thread waiting in :meth:`roundtrip`) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream and stream.close()


class ParsePool:
    """Run :func:`parse_feed` in up to ``max_workers`` worker processes.

    Each parse is bounded by ``timeout_s`` seconds and each worker by ``memory_limit``
    bytes of address space: a worker that overruns is killed and the parse reported as
    ``FetchError("parse_error")``; the next parse gets a fresh worker. Workers are reused,
    across event loops too, and replaced after ``max_parses`` parses or once their resident
    memory passes ``recycle_rss`` bytes (one huge feed must not pin its memory forever).
    """

    def __init__(
        self,
        max_workers: int = 2,
        timeout_s: float = 20.0,
        memory_limit: int | None = 1024 * 1024 * 1024,
        *,
        max_parses: int = 500,
        recycle_rss: int = 256 * 1024 * 1024,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_parses = max_parses
        self.recycle_rss = recycle_rss
        self._memory_limit = memory_limit
        self._max_workers = max_workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(max_workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()

    async def parse(self, body: bytes, content_type: str | None, url: str) -> ParsedFeed:
        """Parse in a worker; raises ``FetchError`` like :func:`parse_feed`."""
        payload = pickle.dumps((body, content_type, url), protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # asyncio primitives belong to one loop
            self._loop, self._slots = loop, asyncio.Semaphore(self._max_workers)
        async with self._slots:
            reply = await self._run(payload, url)
        if reply[0] == "ok":
            return reply[1]
        raise FetchError(reply[1], reply[2])

    async def _run(self, payload: bytes, url: str) -> tuple:
        worker = await asyncio.to_thread(self._checkout)
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await asyncio.to_thread(worker.roundtrip, payload)
        except (TimeoutError, EOFError, OSError) as exc:
            await asyncio.to_thread(self._discard, worker)
            raise FetchError("parse_error", self._failure_message(exc, url)) from exc
        except BaseException:  # cancelled mid-parse: the worker's state is unknown
            self._discard(worker)
            raise
        worker.parses += 1
        await asyncio.to_thread(self._release, worker)
        return reply

    def _release(self, worker: _Worker) -> None:
        """Back to the idle list, unless it is worn out (Python never gives memory back)
        or the pool was closed while it worked."""
        worn = worker.parses >= self.max_parses or worker.rss_bytes() > self.recycle_rss
        with self._lock:
            if not worn and worker in self._all:
                self._idle.append(worker)
                return
        self._discard(worker)

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        worker = _Worker(self._memory_limit)
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def _failure_message(self, exc: BaseException, url: str) -> str:
        if isinstance(exc, TimeoutError):
            return f"parsing {mask_url(url)} took longer than {self.timeout_s:g} s: the feed was abandoned"
        return (
            f"the parser process died on {mask_url(url)} (out of memory?): the feed was abandoned"
        )

    def close(self) -> None:
        """Stop every worker process."""
        with self._lock:
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()

    async def __aenter__(self) -> ParsePool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.close)
