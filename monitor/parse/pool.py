"""Run :func:`monitor.parse.feed.parse_feed` (feeds) and
:func:`monitor.parse.article.extract_article` (full-text pages) in worker processes with a
time and memory bound.

:class:`ParsePool` hands each document to a worker subprocess, so a pathological document
cannot stall or exhaust the daemon: a parse that overruns ``timeout_s``, or a worker that
dies (e.g. past its address-space limit), is reported as ``FetchError("parse_error")``
and the worker replaced. I/O: starts, talks to and kills child processes.

Workers are plain ``python -c`` subprocesses speaking length-prefixed pickles on stdin and
stdout: unlike multiprocessing's spawn they never re-import the caller's ``__main__``; they
are not tied to an event loop (the daemon runs each cycle in a fresh ``asyncio.run``), and
one that overruns is killed without touching the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from monitor.errors import FetchError, FetchErrorKind
from monitor.parse.article import extract_article
from monitor.parse.feed import parse_feed
from monitor.records import Page, ParsedFeed
from monitor.secrets import mask_url

_HEADER = struct.Struct("!Q")
_WORKER_CODE = "import monitor.parse.pool as p; p._worker_main()"

# A request: ("feed", body, content type, url) or ("article", html, None, url).
_Job = Literal["feed", "article"]
# A worker's reply: ("ok", the parsed feed or the page) or ("error", kind, message).
_Reply = tuple[Literal["ok"], ParsedFeed | Page] | tuple[Literal["error"], FetchErrorKind, str]


def _worker_main() -> None:
    """Worker process loop: read (body, content_type, url) requests, write reply tuples."""
    inp, out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing but replies may reach the protocol stream
    limit = int(os.environ.get("MONITOR_PARSE_MEMORY_LIMIT") or 0)
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while header := inp.read(_HEADER.size):
        job, body, content_type, url = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        if job == "article":
            reply = pickle.dumps(_extract_reply(body, url))
        else:
            reply = pickle.dumps(_parse_reply(parse_feed, body, content_type, url))
        out.write(_HEADER.pack(len(reply)) + reply)
        out.flush()


def _parse_reply(
    parse: Callable[[bytes, str | None, str], ParsedFeed],
    body: bytes,
    content_type: str | None,
    url: str,
) -> _Reply:
    try:
        return ("ok", parse(body, content_type, url))
    except FetchError as exc:
        return ("error", exc.kind, exc.message)
    except MemoryError:
        return ("error", "parse_error", f"{mask_url(url)} needs too much memory to parse: refused")
    except Exception as exc:  # a parser crash on hostile input is this feed's problem
        return ("error", "parse_error", f"the parser failed on {mask_url(url)}: {exc!r}"[:300])


def _extract_reply(html: bytes, url: str) -> _Reply:
    try:
        return ("ok", extract_article(html, url))
    except MemoryError:
        return ("error", "parse_error", f"the article {mask_url(url)} needs too much memory")
    except Exception as exc:  # trafilatura/lxml on a hostile page: that page's problem
        return (
            "error",
            "parse_error",
            f"extracting the text of {mask_url(url)} failed ({type(exc).__name__})",
        )


class _Worker:
    """One worker subprocess; :meth:`roundtrip` blocks (run it in a thread)."""

    def __init__(self, memory_limit: int | None) -> None:
        env = dict(os.environ, MONITOR_PARSE_MEMORY_LIMIT=str(memory_limit or 0))
        root = str(Path(__file__).resolve().parents[2])
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

    def roundtrip(self, payload: bytes) -> _Reply:
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
        reply: _Reply = pickle.loads(data)  # what _worker_main wrote: a _parse_reply result
        return reply

    def kill(self) -> None:
        """Kill the process (unblocks a thread waiting in :meth:`roundtrip`) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream and stream.close()


class ParsePool:
    """Run :func:`~monitor.parse.feed.parse_feed` in up to ``max_workers`` worker processes.

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
        """Parse in a worker; raises ``FetchError`` like :func:`~monitor.parse.feed.parse_feed`."""
        result = await self._submit("feed", body, content_type, url)
        assert isinstance(result, ParsedFeed)
        return result

    async def extract(self, html: bytes, url: str) -> Page:
        """Title, main text and canonical URL of an article page, extracted in a worker
        with the same bounds as a parse; raises ``FetchError("parse_error")`` when it
        overruns or fails."""
        result = await self._submit("article", html, None, url)
        assert isinstance(result, Page)
        return result

    async def _submit(
        self, job: _Job, body: bytes, content_type: str | None, url: str
    ) -> ParsedFeed | Page:
        payload = pickle.dumps((job, body, content_type, url), protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # asyncio primitives belong to one loop
            self._loop, self._slots = loop, asyncio.Semaphore(self._max_workers)
        async with self._slots:
            reply = await self._run(payload, url, job)
        if reply[0] == "ok":
            return reply[1]
        raise FetchError(reply[1], reply[2])

    async def _run(self, payload: bytes, url: str, job: _Job = "feed") -> _Reply:
        worker = await asyncio.to_thread(self._checkout)
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await asyncio.to_thread(worker.roundtrip, payload)
        except (TimeoutError, EOFError, OSError) as exc:
            await asyncio.to_thread(self._discard, worker)
            raise FetchError("parse_error", self._failure_message(exc, url, job)) from exc
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

    def _failure_message(self, exc: BaseException, url: str, job: _Job) -> str:
        what = "the feed" if job == "feed" else "the page"
        doing = "parsing" if job == "feed" else "extracting the text of"
        if isinstance(exc, TimeoutError):
            return f"{doing} {mask_url(url)} took longer than {self.timeout_s:g} s: {what} was abandoned"
        return f"the parser process died on {mask_url(url)} (out of memory?): {what} was abandoned"

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
