"""The contenders of ``bench/cycle.py`` other than press-monitor, one per fresh process.

    python bench/cycle_contenders.py ceiling --procs 1|2 --options default|fast|daemon
        --feeds N --rules R --epoch T
    python bench/cycle_contenders.py naive --urls FILE
    python bench/cycle_contenders.py rss2email --config FILE --data FILE

Each prints one JSON line on stdout: ``{"seconds": ..., "feeds": ..., "entries": ...}``,
where ``seconds`` is the timed work alone (after imports and, for the ceiling, after the
documents were rendered), so it compares with the daemon's logged cycle time; the harness
measures the process's whole wall time, memory and CPU itself.

- ``ceiling``: the parser alone over the same bytes the server sends (rendered here from
  ``bench/cycle_feeds.py``, untimed): ``default`` is ``feedparser.parse(body)``; ``fast``
  adds ``sanitize_html=False, resolve_relative_uris=False``; ``daemon`` is the daemon's whole
  parse stage, :func:`monitor.parse.feed.parse_feed` (XML defusing, feedparser with the
  options the daemon uses at the time of the run, conversion to entries). ``--procs 2``
  splits the feeds between two worker processes that start parsing together.
- ``naive``: a loop of ``requests.get`` + ``feedparser.parse``, one feed after the other,
  remembering entry ids in a set (what a first script does).
- ``rss2email``: rss2email 3's ``r2e run --no-send`` in this process (fetch with its
  feedparser/urllib, build every entry's email with html2text, remember them in its JSON
  data file; only the sending is skipped).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cycle_feeds  # noqa: E402

CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def _parser(options: str):  # type: ignore[no-untyped-def]
    import feedparser

    if options == "default":
        return lambda body, url: len(feedparser.parse(body).entries)
    if options == "fast":
        return lambda body, url: len(
            feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False).entries
        )
    from monitor.parse.feed import parse_feed

    return lambda body, url: len(parse_feed(body, CONTENT_TYPE, url).entries)


def ceiling_worker(args: argparse.Namespace) -> None:
    """Render this part's documents, say ready, wait for "go", parse, report."""
    parse = _parser(args.options)
    mine = [i for i in range(args.feeds) if i % args.parts == args.part]
    bodies = [
        (cycle_feeds.feed_body(i, args.epoch, args.rules, args.feeds), f"http://feed/{i}.xml")
        for i in mine
    ]
    gc.collect()
    if args.what == "ceiling-worker":  # one of --procs workers: start when all are ready
        print("ready", flush=True)
        sys.stdin.readline()
    started = time.perf_counter()
    entries = sum(parse(body, url) for body, url in bodies)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "feeds": len(bodies), "entries": entries}), flush=True)


def ceiling(args: argparse.Namespace) -> None:
    if args.procs == 1:
        args.parts, args.part = 1, 0
        ceiling_worker(args)
        return
    me = str(Path(__file__).resolve())
    common = ["--feeds", str(args.feeds), "--rules", str(args.rules), "--epoch", str(args.epoch)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                me,
                "ceiling-worker",
                *common,
                "--options",
                args.options,
                "--parts",
                str(args.procs),
                "--part",
                str(k),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for k in range(args.procs)
    ]
    for w in workers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    results = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "feeds": sum(r["feeds"] for r in results),
                "entries": sum(r["entries"] for r in results),
            }
        )
    )


def naive(args: argparse.Namespace) -> None:
    import feedparser
    import requests

    urls = Path(args.urls).read_text().split()
    seen: set[str] = set()
    entries = 0
    failed = 0
    started = time.perf_counter()
    for url in urls:
        try:
            response = requests.get(url, timeout=30)
            response.raise_for_status()
        except requests.RequestException:
            failed += 1
            continue
        for entry in feedparser.parse(response.content).entries:
            key = entry.get("id") or entry.get("link") or ""
            if key not in seen:
                seen.add(key)
                entries += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "feeds": len(urls) - failed, "entries": entries}))


def rss2email(args: argparse.Namespace) -> None:
    from rss2email import main as r2e

    started = time.perf_counter()
    r2e.run(["-c", args.config, "-d", args.data, "run", "--no-send"])
    seconds = time.perf_counter() - started
    feeds = json.loads(Path(args.data).read_text())["feeds"]
    ok = sum(1 for f in feeds if f.get("etag") or f.get("modified"))
    entries = sum(len(f.get("seen", {})) for f in feeds)
    print(json.dumps({"seconds": seconds, "feeds": ok, "entries": entries}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("ceiling", "ceiling-worker"):
        p = sub.add_parser(name)
        p.add_argument("--feeds", type=int, required=True)
        p.add_argument("--rules", type=int, required=True)
        p.add_argument("--epoch", type=float, required=True)
        p.add_argument("--options", choices=("default", "fast", "daemon"), default="default")
        p.add_argument("--procs", type=int, default=1)
        p.add_argument("--parts", type=int, default=1)
        p.add_argument("--part", type=int, default=0)
    p = sub.add_parser("naive")
    p.add_argument("--urls", required=True)
    p = sub.add_parser("rss2email")
    p.add_argument("--config", required=True)
    p.add_argument("--data", required=True)
    args = ap.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    {"ceiling": ceiling, "ceiling-worker": ceiling_worker, "naive": naive, "rss2email": rss2email}[
        args.what
    ](args)


if __name__ == "__main__":
    main()
