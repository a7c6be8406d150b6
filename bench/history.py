"""Search and backtest over stored history: articles/s, time to first result, memory,
and the plans of the queries.

Usage: python bench/history.py [--sizes 100000,1000000] [--baseline-max 100000] [--keep DIR]

For each size, generates that many stored articles (realistic uk/ru/en text: sentences
of the real feeds in ../shared/corpus when present, else a built-in set, ~700
characters each, three outlets, one article every 30 s, 1 in 200 naming Witkoff or
Zelensky in some script and form) in a migrated SQLite database, then runs the real
CLI in a subprocess:

* ``monitor search QUERY --since 3650d`` the first time (the key index is built: every
  article is read and its keys stored), then again (the index is current: the steady
  state of an analyst writing a rule);
* ``monitor test-rule --query QUERY --since 3650d --json`` (the backtest: every
  window's article is scanned, nothing is limited);
* with ``HISTORY_PREFILTER=off``-equivalent (the index file made unusable), the plain
  scan that matches every article, for sizes up to ``--baseline-max``.

scan/s = articles in the window / the scan's own time (``timing.scan_s`` of the JSON:
reading the window, bringing the index up to date, asking it, matching what it offers);
wall/s = the same over the command's whole run (Python start, config, rule compile).
Time to first result ("first s") = until the first line reaches stdout (for the table
it is printed with the first result; for JSON, at the end). Memory = the command's process tree RSS, summed, sampled
every 20 ms (peak). Prints the SQL plans (EXPLAIN QUERY PLAN) of the queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from monitor.store import db  # noqa: E402

TARGETS = {
    "uk": [
        "Спецпосланець Стів Віткофф після зустрічі коаліції рішучих у Парижі заявив про прогрес.",
        "Президент Володимир Зеленський провів розмову з Віткоффом щодо гарантій безпеки.",
    ],
    "ru": [
        "Спецпосланник Стив Уиткофф после встречи коалиции решительных в Париже заявил о прогрессе.",
        "Президент Владимир Зеленский обсудил с Уиткоффом гарантии безопасности.",
    ],
    "en": [
        "Envoy Steve Witkoff said after the coalition of the willing met in Paris that talks advanced.",
        "President Volodymyr Zelensky spoke with Witkoff about security guarantees.",
    ],
}
_TARGET_WORDS = re.compile(
    r"witkoff|віткофф|уиткофф|виткофф|zelensk|зеленськ|зеленск|coalition|коаліц|коалиц|санкці",
    re.IGNORECASE,
)
NEUTRAL = {  # when ../shared is absent
    "uk": ["У Києві завтра очікується сніг і мороз до мінус десяти градусів.",
           "Верховна Рада ухвалила закон про бюджет на наступний рік."],
    "ru": ["Сборная сыграла вничью в товарищеском матче в Белграде.",
           "Центробанк сохранил ключевую ставку без изменений."],
    "en": ["Stocks rose in early trading as investors weighed the central bank's decision.",
           "The city council approved a new budget for public transport on Monday."],
}  # fmt: skip
QUERIES = ["Witkoff AND @coalition", "Zelensky", "санкці*"]
CONFIG = """
[monitor]
database = "sqlite:///{db}"
timezone = "UTC"

[terms]
coalition = ["coalition of the willing", "коаліція рішучих", "коалиция решительных"]

[[feeds]]
url = "bench.xml"
name = "bench"

[[rules]]
name = "witkoff"
query = "Witkoff"
"""


def sentences() -> dict[str, list[str]]:
    """uk/ru/en sentences (bench/match_speed.py's pool: ../shared, else built in)."""
    import match_speed

    pool = match_speed._sentences_by_language()
    # The eval articles are about these very names: left in, 1 article in 7 would match.
    kept = {lang: [x for x in sents if not _TARGET_WORDS.search(x)] for lang, sents in pool.items()}
    return {lang: kept[lang] or NEUTRAL[lang] for lang in kept}


def generate(path: Path, n: int, rng: random.Random) -> None:
    """``n`` articles in a migrated SQLite database at ``path``."""
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    pool = sentences()
    now = datetime.now(UTC)
    conn = sqlite3.connect(path)
    langs = ("uk", "ru", "en")
    conn.executemany(
        "INSERT INTO feeds (id, url, name, active, failures, polls, created_at) "
        "VALUES (?, ?, ?, 1, 0, 0, ?)",
        [
            (i + 1, f"https://{lang}.example/rss", f"Outlet {lang}", _ts(now))
            for i, lang in enumerate(langs)
        ],
    )

    def rows():  # type: ignore[no-untyped-def]
        for i in range(n):
            lang = langs[i % 3]
            parts: list[str] = []
            while sum(map(len, parts)) < 700:
                parts.append(rng.choice(pool[lang]))
            if i % 200 == 7:
                parts.insert(rng.randrange(len(parts)), rng.choice(TARGETS[lang]))
            seen = now - timedelta(seconds=30 * (n - i))
            link = f"https://{lang}.example/a/{i}"
            yield (
                i + 1, i % 3 + 1, link, link, link, rng.choice(pool[lang])[:140], " ".join(parts),
                lang, _ts(seen), _ts(seen), 1, i + 1, "new", 100,
            )  # fmt: skip

    conn.executemany(
        "INSERT INTO articles (id, feed_id, guid, link, canonical_link, title, text, language, "
        "published_at, first_seen_at, alertable, story_id, story_reason, story_score) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    conn.commit()
    conn.close()


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def tree_rss_mb(pid: int) -> float:
    """Summed RSS of ``pid`` and its descendants (Linux /proc), in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total / 1024


def run_cli(config: Path, argv: list[str]) -> dict[str, float | str]:
    """Run ``monitor`` with ``argv``: wall time, time to first stdout line, peak RSS."""
    cmd = [sys.executable, "-m", "monitor", "--config", str(config), *argv]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    first = proc.stdout.readline()
    first_s = time.perf_counter() - started
    rest = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"wall_s": wall, "first_s": first_s, "rss_mb": peak, "out": first + rest}


def plans(database: Path, index: Path) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of the history queries (as SQLAlchemy emits them)."""
    from sqlalchemy.dialects import sqlite

    from monitor.store import history
    from monitor.store.history import KeyIndex

    engine = db.make_engine(f"sqlite:///{database}", create=False)
    factory = db.make_session_factory(engine)
    captured: list[str] = []
    from sqlalchemy import event

    def keep(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        captured.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    since = datetime.now(UTC) - timedelta(days=3650)
    with factory() as s:
        history.history_reach(s)
        history.window_entries(s, history.Window(since))
        history.window_entries(s, history.Window(since, ("https://uk.example/rss",), "uk"))
        history.load_articles(s, [1, 2, 3])
    names = [
        "history reach",
        "window (other databases)",
        "window of one feed and language (other databases)",
        "articles by id",
    ]
    out: dict[str, list[str]] = {}
    conn = sqlite3.connect(database)
    for name, sql in zip(names, captured, strict=False):
        params = [since.replace(tzinfo=None).isoformat(sep=" ")] * sql.count("?")
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        out[name] = [str(r[-1]) for r in rows]
    del sqlite
    if index.exists():
        with KeyIndex(index, _scheme()) as idx:
            idx.attach(database)
            out.update(idx.plans(history.Window(since)))
    return out


def _scheme() -> str:
    from monitor.match.prefilter import VERSION

    return f"keys-{VERSION}"


def bench_size(n: int, work: Path, baseline: bool, reuse: bool) -> None:
    database = work / f"history-{n}.db"
    config = work / f"config-{n}.toml"
    (work / "bench.xml").write_text("<rss version='2.0'><channel/></rss>")
    config.write_text(CONFIG.format(db=database))
    t = time.perf_counter()
    if not (reuse and database.exists()):
        generate(database, n, random.Random(n))
    size_mb = database.stat().st_size / 2**20
    took = time.perf_counter() - t
    print(f"\n== {n:,} stored articles ({size_mb:,.0f} MiB database, ready in {took:.0f} s)")
    window = ["--since", "3650d"]
    index = database.with_name(database.name + "-history")
    print(
        f"{'run':<46} {'scan/s':>9} {'scan s':>7} {'wall/s':>8} {'wall s':>7} "
        f"{'first s':>8} {'RSS MiB':>8} {'read':>7}"
    )

    def show(label: str, r: dict[str, float | str], doc: dict[str, Any] | None) -> None:
        wall = float(r["wall_s"])
        scan_s = float(doc["timing"]["scan_s"]) if doc else float("nan")
        read = f"{doc['timing']['read_whole']:,}" if doc else "?"
        print(
            f"{label:<46} {n / scan_s:>9,.0f} {scan_s:>7.2f} {n / wall:>8,.0f} {wall:>7.2f} "
            f"{float(r['first_s']):>8.2f} {float(r['rss_mb']):>8.0f} {read:>7}"
        )

    r = run_cli(config, ["search", QUERIES[0], *window, "--json"])
    show("search, first run (indexes what it has not)", r, json.loads(str(r["out"])))
    print(f"   (index file: {index.stat().st_size / 2**20:,.0f} MiB)")
    for q in QUERIES:
        r = run_cli(config, ["search", q, *window, "--limit", "20", "--json"])
        show(f"search {q!r} (20 newest, JSON)", r, json.loads(str(r["out"])))
        r = run_cli(config, ["search", q, *window, "--limit", "20"])
        show(f"search {q!r} (table: first = 1st line)", r, None)
    for q in QUERIES:
        r = run_cli(config, ["test-rule", "--query", q, *window, "--json"])
        doc = json.loads(str(r["out"]))
        show(f"backtest {q!r} ({doc['matched']:,} matched)", r, doc)
    if baseline:
        saved = index.with_name(index.name + ".off")
        index.rename(saved)
        index.mkdir()  # a folder where the index file should be: the plain scan
        try:
            for q in QUERIES[:2]:
                r = run_cli(config, ["test-rule", "--query", q, *window, "--json"])
                show(f"backtest {q!r}, plain scan (no index)", r, json.loads(str(r["out"])))
        finally:
            index.rmdir()
            saved.rename(index)
    print("query plans:")
    for name, plan in plans(database, index).items():
        print(f"  {name}: {' / '.join(plan)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the databases")
    parser.add_argument(
        "--reuse", action="store_true", help="with --keep: use the databases already there"
    )
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"one core: {os.cpu_count()} CPUs here, every command runs single-threaded")
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            bench_size(n, work, baseline=n <= args.baseline_max, reuse=args.reuse)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
