"""The whole poll cycle side by side with the parser alone and with peers (issue 15).

    .venv/bin/python bench/cycle.py                      # N = 200, 3 repetitions, everything
    .venv/bin/python bench/cycle.py --feeds 200 1000 5000 --contenders monitor ceiling-default-1p
    .venv/bin/python bench/cycle.py --reps 1 --no-profile --no-startup   # quicker

A feed server (``bench/cycle_server.py``) runs in its own process on loopback: N
deterministic RSS feeds (``bench/cycle_feeds.py``: uk/ru/en news text, 50 entries of ~2.2 KB)
spread over ``--hosts`` host names (the addresses 127.0.0.2 ... 127.0.0.(hosts+1): Linux
routes all of 127.0.0.0/8 to loopback, so each address is a host of its own and the
daemon's per-host limit, ``per_host = 2``, applies as it would to real outlets), ETag and
Last-Modified with 304s, gzip when asked, keep-alive, TCP_NODELAY, and a latency set per
measurement (0 ms, and 100 ms for the warm cycles of ``--latency``).

Contenders, each in a fresh subprocess, interleaved (the order rotates every repetition),
``--reps`` times (median and min):

- ``ceiling-{default,fast,daemon}-{1p,2p}``: the parser alone over the same bytes
  (``bench/cycle_contenders.py``): feedparser's defaults, feedparser without sanitising and
  URI resolution, and the daemon's own parse stage (``monitor.parse.feed.parse_feed``, with
  whatever options it uses in this build), in one process or split over two;
- ``naive``: ``requests.get`` + ``feedparser.parse``, one feed after the other;
- ``rss2email``: ``r2e run --no-send`` over the same feeds (it fetches, parses and builds
  every entry's email; only sending is skipped);
- ``monitor``: ``monitor --config X run --once`` on a fresh SQLite file (cold: every entry
  is new), again (warm: every feed answers 304), and again per ``--latency`` value (warm).
  R rules (``--rules``, default 1,000) with planted matches: the number of alerts is known.

For every run: the cycle time (the daemon's logged ``cycle.finished`` duration; for the
others the timed loop after imports), the process's wall time, feeds/s and entries/s on
the cycle time, the peak of the RSS summed over the process tree (sampled every
``--sample-ms``; ``ru_maxrss`` of a child inherits its parent's high-water mark), CPU seconds
of the tree (user + sys: ``wait4`` of the root, which counts its reaped descendants, or the
sampled sum when that is larger), and correctness: the monitor's articles after the cold
cycle = N x 50 and unchanged after the warm ones, its matches and alerts = the planted
ones (read from the SQLite file), every warm request answered 304 (the server's counts);
the others' entries = N x 50.

Also: start-up with R rules and ``--startup-feeds`` feeds (``check-config``, and ``run
--once`` to its first ``feed.polled`` log line on a fresh database); one cold cycle under
cProfile (the main process, and the parse workers separately) into
``profile-cold.txt``; ``EXPLAIN QUERY PLAN`` of every query ``monitor/store/articles.py``
issued in that cycle into ``query-plans.txt``. Results: ``cycle.md`` (the table, ratios
against issue 15's targets, the machine and its load), ``cycle.png`` and ``cycle.json`` in
``--out`` (default bench/results/), and the table in bench/README.md. Exit 1 when a
correctness check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import cycle_feeds  # noqa: E402

CEILINGS = [
    f"ceiling-{o}-{p}" for o in ("default", "fast", "daemon") for p in ("1p", "2p") if
    (o, p) != ("fast", "2p")
]  # fmt: skip
CONTENDERS = [*CEILINGS, "naive", "rss2email", "monitor"]
PER_HOST = 2
CONCURRENCY = 16
README_BEGIN = "<!-- cycle.py results: begin -->"
README_END = "<!-- cycle.py results: end -->"


# ---------------------------------------------------------------- measuring one process


@dataclass
class Run:
    """One contender's run."""

    contender: str
    n_feeds: int
    rep: int
    cycle_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    feeds: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    load: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    peak_parts: list[tuple[str, float]] = field(default_factory=list)  # (process, MB) at the peak


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table(since: int = 0) -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, RSS bytes, user+sys seconds) of every process numbered
    ``since`` or more (Linux /proc: a process's descendants are numbered after it, unless
    the pid counter wraps, which a benchmark's minutes do not see)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) < since:
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) "
        # fields[0] is the state (stat field 3): ppid 4, utime 14, stime 15, rss 24
        table[int(entry.name)] = (
            int(fields[1]),
            int(fields[21]) * _PAGE,
            (int(fields[11]) + int(fields[12])) / _TICK,
        )
    return table


def _tree(table: dict[int, tuple[int, int, float]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, ()))
    return out


def measure(
    cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, sample_s: float = 0.02
) -> Measured:
    """Run ``cmd`` to its end: wall time, CPU of its tree, peak of its tree's summed RSS
    (sampled from /proc every ``sample_s``)."""
    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
    peak = 0
    parts: list[tuple[str, float]] = []
    cpu_seen: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, parts
        while not done.is_set():
            table = _proc_table(since=proc.pid)
            tree = _tree(table, proc.pid)
            total = sum(table[pid][1] for pid in tree)
            if total > peak:
                peak = total
                parts = [(_process_name(pid, proc.pid), table[pid][1] / 2**20) for pid in tree]
            for pid in tree:
                cpu_seen[pid] = table[pid][2]
            done.wait(sample_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # wait4 counts the root and the descendants it (or they) reaped; the sampled sum
    # also sees descendants killed and never waited for (up to their last sample).
    cpu = max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
    return Measured(
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak / 2**20,
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        peak_parts=parts,
    )


def _process_name(pid: int, root: int) -> str:
    """ "main" for the root, else what a child runs (a parse worker's ``-c`` code)."""
    if pid == root:
        return "main"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "child"
    text = b" ".join(argv[1:]).decode(errors="replace")
    return "parse worker" if "monitor.parse.pool" in text else (text[:40] or "child")


# ---------------------------------------------------------------- the feed server


class Server:
    def __init__(self, n_feeds: int, hosts: int, rules: int, epoch: float, workdir: Path) -> None:
        self.hosts = hosts
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "cycle_server.py"), "--feeds", str(n_feeds),
             "--hosts", str(hosts), "--rules", str(rules), "--epoch", str(epoch)],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.stop()
            raise SystemExit(f"the feed server did not start (see {workdir / 'server.log'})")
        self.port = int(line[1])

    def control(self, what: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/_control/{what}"
        with urllib.request.urlopen(url, timeout=600) as response:  # noqa: S310 - loopback
            return json.loads(response.read())  # type: ignore[no-any-return]

    def latency(self, ms: float) -> None:
        self.control(f"latency?ms={ms}")

    def stats(self) -> dict[str, int]:
        return self.control("stats")["stats"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.control("reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- configs


def monitor_config(n_feeds: int, n_rules: int, hosts: int, port: int) -> str:
    lines = [
        "# bench/cycle.py: generated",
        "[monitor]",
        'database = "sqlite:///monitor.db"',
        'poll_interval = "5m"',
        'backlog = "48h"  # every entry is at most a few hours old: all alertable',
        'timezone = "UTC"',
        "",
        "[fetch]",
        f"per_host = {PER_HOST}",
        f"concurrency = {CONCURRENCY}",
        "",
        "[channels]",
        'console = "console://"',
        "",
    ]
    for i in range(n_feeds):
        lines += ["[[feeds]]", f'url = "{cycle_feeds.feed_url(i, hosts, port)}"', ""]
    for k in range(n_rules):
        query = cycle_feeds.rule_query(k, n_rules)
        lines += [
            "[[rules]]",
            f'name = "rule-{k:04d}"',
            f"query = '''{query}'''",
            'channels = ["console"]',
            "",
        ]
    return "\n".join(lines)


def rss2email_config(n_feeds: int, hosts: int, port: int) -> str:
    lines = [
        "[DEFAULT]",
        "to = bench@localhost",
        "from = bench@localhost",
        "same-server-fetch-interval = 0",
        "",
    ]
    for i in range(n_feeds):
        lines += [f"[feed.f{i:05d}]", f"url = {cycle_feeds.feed_url(i, hosts, port)}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- correctness


def check_store(db: Path, *, articles: int, planted: set[str]) -> list[str]:
    """What is wrong with a monitor database after a cycle: the article count, and the
    matches and alerts against the planted rules (one alert per planted rule, on console)."""
    problems = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        matched = [r for (r,) in con.execute("SELECT rule FROM matches")]
        alerts = [r for (r,) in con.execute("SELECT rule FROM alerts")]
    if stored != articles:
        problems.append(f"articles {stored} != expected {articles}")
    if sorted(matched) != sorted(planted):
        problems.append(
            f"matches {len(matched)} != planted {len(planted)}" + _diff(set(matched), planted)
        )
    if sorted(alerts) != sorted(planted):
        problems.append(
            f"alerts {len(alerts)} != planted {len(planted)}" + _diff(set(alerts), planted)
        )
    return problems


def _diff(got: set[str], want: set[str]) -> str:
    extra, missing = sorted(got - want)[:3], sorted(want - got)[:3]
    return (f" (unexpected {extra})" if extra else "") + (
        f" (missing {missing})" if missing else ""
    )


def planted_rules(n_feeds: int, n_rules: int) -> set[str]:
    return {f"rule-{k:04d}" for k in cycle_feeds.planted(n_feeds, n_rules).values()}


def _last_event(stderr: str, name: str) -> dict[str, Any] | None:
    found = None
    for line in stderr.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == name:
                found = record
    return found


def _contender_json(m: Measured) -> dict[str, Any]:
    for line in reversed(m.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    return {}


# ---------------------------------------------------------------- the contenders


class Bench:
    def __init__(self, args: argparse.Namespace, server: Server, workdir: Path) -> None:
        self.args, self.server, self.workdir = args, server, workdir
        self.runs: list[Run] = []

    def _dir(self, name: str) -> Path:
        d = self.workdir / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def _record(self, run: Run, m: Measured, data: dict[str, Any] | None = None) -> Run:
        run.wall_s, run.cpu_s, run.peak_rss_mb = m.wall_s, m.cpu_s, m.peak_rss_mb
        run.extra["peak_parts"] = [(name, round(mb, 1)) for name, mb in m.peak_parts]
        if m.returncode != 0:
            run.problems.append(f"exit code {m.returncode}: {m.stderr.strip()[-300:]}")
        if data is not None:
            run.cycle_s = float(data.get("seconds", 0.0))
            run.feeds, run.entries = int(data.get("feeds", 0)), int(data.get("entries", 0))
        self.runs.append(run)
        return run

    def _print(self, run: Run) -> None:
        """One line per run, once its checks are done."""
        tag = "ok" if not run.problems else "; ".join(run.problems)
        print(
            f"  N={run.n_feeds} rep {run.rep} {run.contender:<22} cycle {run.cycle_s:7.2f} s"
            f"  wall {run.wall_s:7.2f} s  {run.peak_rss_mb:6.0f} MB  cpu {run.cpu_s:6.1f} s"
            f"  load {run.load:4.1f}  {tag}",
            flush=True,
        )

    def _expect_entries(self, run: Run, n: int) -> None:
        want = n * cycle_feeds.ENTRIES
        if run.entries != want:
            run.problems.append(f"entries {run.entries} != expected {want}")
        if run.feeds != n:
            run.problems.append(f"feeds {run.feeds} != expected {n}")

    def ceiling(self, name: str, n: int, rep: int) -> None:
        _, options, procs = name.split("-")
        d = self._dir(f"{name}-{n}-{rep}")
        run = Run(name, n, rep, load=os.getloadavg()[0])
        m = measure(
            [sys.executable, str(HERE / "cycle_contenders.py"), "ceiling", "--feeds", str(n),
             "--rules", str(self.args.rules), "--epoch", str(self.args.epoch),
             "--options", options, "--procs", procs.removesuffix("p")],
            cwd=d, sample_s=self.args.sample_ms / 1000,
        )  # fmt: skip
        self._record(run, m, _contender_json(m))
        self._expect_entries(run, n)
        self._print(run)

    def naive(self, n: int, rep: int) -> None:
        d = self._dir(f"naive-{n}-{rep}")
        urls = d / "urls.txt"
        urls.write_text(
            "\n".join(
                cycle_feeds.feed_url(i, self.server.hosts, self.server.port) for i in range(n)
            )
        )
        run = Run("naive", n, rep, load=os.getloadavg()[0])
        m = measure(
            [sys.executable, str(HERE / "cycle_contenders.py"), "naive", "--urls", str(urls)],
            cwd=d, sample_s=self.args.sample_ms / 1000,
        )  # fmt: skip
        self._record(run, m, _contender_json(m))
        self._expect_entries(run, n)
        self._print(run)

    def rss2email(self, n: int, rep: int) -> None:
        d = self._dir(f"rss2email-{n}-{rep}")
        (d / "r2e.cfg").write_text(rss2email_config(n, self.server.hosts, self.server.port))
        run = Run("rss2email", n, rep, load=os.getloadavg()[0])
        env = dict(os.environ, XDG_RUNTIME_DIR=str(d))  # its lock file, away from anyone's
        m = measure(
            [sys.executable, str(HERE / "cycle_contenders.py"), "rss2email",
             "--config", str(d / "r2e.cfg"), "--data", str(d / "r2e.json")],
            cwd=d, env=env, sample_s=self.args.sample_ms / 1000,
        )  # fmt: skip
        self._record(run, m, _contender_json(m))
        self._expect_entries(run, n)
        self._print(run)

    def monitor(self, n: int, rep: int) -> None:
        """Cold, warm at 0 ms, and warm at every other --latency, on one fresh database."""
        d = self._dir(f"monitor-{n}-{rep}")
        (d / "config.toml").write_text(
            monitor_config(n, self.args.rules, self.server.hosts, self.server.port)
        )
        cmd = [sys.executable, "-m", "monitor", "--config", str(d / "config.toml"),
               "--log-format", "json", "run", "--once"]  # fmt: skip
        articles = n * cycle_feeds.ENTRIES
        planted = planted_rules(n, self.args.rules)
        latencies = [0.0] + [ms for ms in self.args.latency if ms != 0]
        for phase, ms in [("cold", 0.0)] + [("warm", ms) for ms in latencies]:
            name = f"monitor-{phase}" + (f"-{ms:g}ms" if phase == "warm" else "")
            self.server.latency(ms)
            self.server.reset()
            run = Run(name, n, rep, load=os.getloadavg()[0])
            m = measure(cmd, cwd=d, sample_s=self.args.sample_ms / 1000)
            finished = _last_event(m.stderr, "cycle.finished") or {}
            stats = self.server.stats()
            data = {
                "seconds": finished.get("duration_ms", 0) / 1000,
                "feeds": finished.get("feeds", 0) - finished.get("failed", 0),
                "entries": finished.get("new", 0) if phase == "cold" else 0,
            }
            self._record(run, m, data)
            run.extra.update(server=stats, alerts=finished.get("alerts"))
            if not finished:
                run.problems.append("no cycle.finished in the log")
            if finished.get("failed"):
                run.problems.append(f"{finished['failed']} feeds failed")
            if phase == "warm":
                run.entries = 0
                if stats.get("304", 0) != n or stats.get("200", 0):
                    run.problems.append(f"server answered {stats}, expected {n} x 304")
            run.problems += check_store(d / "monitor.db", articles=articles, planted=planted)
            if phase == "cold" and finished.get("new") != articles:
                run.problems.append(f"cycle new {finished.get('new')} != {articles}")
            self._print(run)
        self.server.latency(0)


def run_suite(bench: Bench, n: int) -> None:
    args = bench.args
    print(f"N = {n}: warming the server's cache", flush=True)
    bench.server.control(f"prewarm?n={n}")
    units = [c for c in CONTENDERS if c in args.contenders]
    for rep in range(1, args.reps + 1):
        shift = (rep - 1) % len(units)
        for name in units[shift:] + units[:shift]:  # interleaved: the order rotates
            if name.startswith("ceiling-"):
                bench.ceiling(name, n, rep)
            elif name == "naive":
                bench.naive(n, rep)
            elif name == "rss2email":
                bench.rss2email(n, rep)
            elif name == "monitor":
                bench.monitor(n, rep)


# ---------------------------------------------------------------- start-up


def startup(bench: Bench, n_feeds: int) -> dict[str, Any]:
    """check-config, and run --once to its first feed.polled line (fresh database), with
    the configured rules and ``n_feeds`` feeds: median and min over the repetitions."""
    args, server = bench.args, bench.server
    server.control(f"prewarm?n={min(n_feeds, 50)}")
    check, first = [], []
    for rep in range(1, args.reps + 1):
        d = bench._dir(f"startup-{n_feeds}-{rep}")
        cfg = d / "config.toml"
        cfg.write_text(monitor_config(n_feeds, args.rules, server.hosts, server.port))
        m = measure([sys.executable, "-m", "monitor", "--config", str(cfg), "check-config"], cwd=d)
        if m.returncode != 0:
            raise SystemExit(f"check-config failed: {m.stderr[-500:]}")
        check.append(m.wall_s)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(cfg), "--log-format", "json",
             "run", "--once"],
            cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        assert proc.stderr is not None
        took = None
        for line in proc.stderr:
            if '"feed.polled"' in line or '"feed.failed"' in line:
                took = time.perf_counter() - started
                break
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: it and its parse workers
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if took is None:
            raise SystemExit("run --once logged no feed.polled line")
        first.append(took)
        print(f"  start-up rep {rep}: check-config {check[-1]:.2f} s, first poll {took:.2f} s")
    return {
        "feeds": n_feeds,
        "rules": args.rules,
        "check_config_s": [statistics.median(check), min(check)],
        "first_poll_s": [statistics.median(first), min(first)],
    }


# ---------------------------------------------------------------- the profile run


def profile_cold(bench: Bench, n: int) -> None:
    d = bench._dir(f"profile-{n}")
    (d / "config.toml").write_text(
        monitor_config(n, bench.args.rules, bench.server.hosts, bench.server.port)
    )
    bench.server.latency(0)
    print(f"profiling one cold cycle at N={n}", flush=True)
    m = measure([sys.executable, str(HERE / "cycle.py"), "--_profile", str(d)], cwd=d)
    if m.returncode != 0:
        print(f"  the profile run failed: {m.stderr[-800:]}")
        return
    out = Path(bench.args.out)
    for name in ("profile-cold.txt", "query-plans.txt"):
        shutil.copy(d / name, out / name)
    print(f"  wrote {out / 'profile-cold.txt'} and {out / 'query-plans.txt'}")


def _profiled_cycle(d: Path) -> None:
    """In this process: one cold ``run --once`` under cProfile, the parse workers under
    their own, every SQL statement monitor/store/articles.py issues captured."""
    import cProfile
    import pstats

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import monitor.parse.pool as pool
    from monitor.cli import main as monitor_main

    worker_prof = d / "workers"
    worker_prof.mkdir()
    # The workers are killed when the pool closes: each dumps its profile after every parse.
    pool._WORKER_CODE = (  # type: ignore[attr-defined]
        "import cProfile, os, monitor.parse.pool as p\n"
        "prof = cProfile.Profile(); orig = p._parse_reply\n"
        f"path = {str(worker_prof)!r} + '/' + str(os.getpid()) + '.prof'\n"
        "def wrapped(*a):\n"
        "    prof.enable()\n"
        "    try:\n"
        "        return orig(*a)\n"
        "    finally:\n"
        "        prof.disable(); prof.dump_stats(path)\n"
        "p._parse_reply = wrapped\n"
        "p._worker_main()\n"
    )
    statements: dict[str, tuple[str, Any]] = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.endswith(os.path.join("store", "articles.py")):
                key = f"{frame.f_code.co_name}: {statement}"
                if key not in statements:
                    params = parameters[0] if executemany and parameters else parameters
                    statements[key] = (statement, params)
                return
            frame = frame.f_back

    # cProfile sees one thread: every other thread (the store thread, which does the
    # database work and the matching; the parse pool's round-trips) gets its own profile.
    threads: list[tuple[str, cProfile.Profile]] = []
    thread_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        own = cProfile.Profile()
        threads.append((self.name, own))
        own.enable()
        try:
            thread_run(self)
        finally:
            own.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    prof = cProfile.Profile()
    started = time.perf_counter()
    code = prof.runcall(
        monitor_main,
        ["--config", str(d / "config.toml"), "--log-level", "warning", "run", "--once"],
    )
    took = time.perf_counter() - started
    threading.Thread.run = thread_run  # type: ignore[method-assign]
    report = [
        f"# One cold `run --once` at {d.name}, under cProfile: {took:.1f} s (exit {code}),",
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. cProfile slows Python code ~1.5-2x; the",
        "# shares, not the seconds, are the point. Each thread has its own profile: the main",
        "# thread runs the event loop (fetching, normalising: `epoll` is its idle time), the",
        "# `store` thread the database work and the matching (its `cycle.py:capture` rows are",
        "# this benchmark's hook that records the SQL for query-plans.txt, not the daemon's).",
        "",
        "## main process, main thread: top 40 by cumulative time",
        "",
    ]
    report.append(_stats_text(pstats.Stats(prof), "cumulative", 40))
    report += ["", "## main process, main thread: top 30 by own time (tottime)", ""]
    report.append(_stats_text(pstats.Stats(prof), "tottime", 30))
    groups: dict[str, list[cProfile.Profile]] = {}
    for name, own in threads:
        groups.setdefault(name.rstrip("0123456789").rstrip("_-") or name, []).append(own)
    for name, profiles in sorted(groups.items(), key=lambda g: -_total(g[1])):
        if _total(profiles) < 0.05 * took:
            continue
        merged = pstats.Stats(profiles[0])
        for other in profiles[1:]:
            merged.add(other)
        report += [
            "",
            f"## main process, thread {name!r} ({len(profiles)} threads, merged):"
            f" {_total(profiles):.1f} s in all; top 40 by cumulative time",
            "",
            _stats_text(merged, "cumulative", 40),
            "",
            f"## thread {name!r}: top 30 by own time (tottime)",
            "",
            _stats_text(pstats.Stats(*profiles), "tottime", 30),
        ]
    dumps = sorted(worker_prof.glob("*.prof"))
    if dumps:
        ws = pstats.Stats(str(dumps[0]))
        for extra in dumps[1:]:
            ws.add(str(extra))
        report += [
            "",
            f"## parse workers ({len(dumps)} processes, merged; only the parse calls): top 30 cumulative",
            "",
            _stats_text(ws, "cumulative", 30),
        ]
    (d / "profile-cold.txt").write_text("\n".join(report) + "\n")
    plans = [
        "# EXPLAIN QUERY PLAN of every distinct statement monitor/store/articles.py issued in",
        "# one cold cycle (SQLite; the parameters of its first execution), under the name of the",
        "# articles.py function it ran in (a statement of a helper it calls, such as",
        "# stories.matched_in_story, or an autoflush of earlier changes, shows under that name).",
        "",
    ]
    with sqlite3.connect(d / "monitor.db") as con:
        for key, (statement, params) in statements.items():
            function = key.split(":", 1)[0]
            plans.append(f"## {function}\n\n    {' '.join(statement.split())}\n")
            if (
                not statement.lstrip()
                .upper()
                .startswith(("SELECT", "WITH", "UPDATE", "DELETE", "INSERT"))
            ):
                continue
            try:
                rows = con.execute(f"EXPLAIN QUERY PLAN {statement}", params or ()).fetchall()
            except sqlite3.Error as exc:
                plans.append(f"    (no plan: {exc})\n")
                continue
            for row in rows:
                detail = row[-1]
                flag = (
                    "   <-- full scan"
                    if detail.startswith("SCAN") and "INDEX" not in detail
                    else ""
                )
                plans.append(f"    {detail}{flag}")
            plans.append("")
    (d / "query-plans.txt").write_text("\n".join(plans) + "\n")


def _total(profiles: list[Any]) -> float:
    """The seconds a list of profiles covers (the sum of their functions' own times)."""
    import pstats

    return sum(pstats.Stats(p).total_tt for p in profiles)


def _stats_text(stats: Any, key: str, limit: int) -> str:
    import io

    buffer = io.StringIO()
    stats.stream = buffer
    stats.strip_dirs().sort_stats(key).print_stats(limit)
    text = buffer.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


# ---------------------------------------------------------------- results


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    keys: list[tuple[int, str]] = []
    for r in runs:
        if (r.n_feeds, r.contender) not in keys:
            keys.append((r.n_feeds, r.contender))
    order = {name: i for i, name in enumerate(CEILINGS + ["naive", "rss2email"])}
    keys.sort(key=lambda k: (k[0], order.get(k[1], 100), k[1]))
    for n, name in keys:
        group = [r for r in runs if r.n_feeds == n and r.contender == name]
        cycle = [r.cycle_s for r in group]
        med = statistics.median(cycle)
        rows.append(
            {
                "n": n,
                "contender": name,
                "reps": len(group),
                "cycle_median_s": med,
                "cycle_min_s": min(cycle),
                "wall_median_s": statistics.median(r.wall_s for r in group),
                "feeds_per_s": n / med if med > 0 else 0.0,
                "entries_per_s": (
                    statistics.median(r.entries for r in group) / med if med > 0 else 0.0
                ),
                "peak_rss_mb": statistics.median(r.peak_rss_mb for r in group),
                "peak_rss_max_mb": max(r.peak_rss_mb for r in group),
                "peak_parts": max(group, key=lambda r: r.peak_rss_mb).extra.get("peak_parts", []),
                "cpu_s": statistics.median(r.cpu_s for r in group),
                "correct": "ok"
                if not any(r.problems for r in group)
                else next(p for r in group for p in r.problems),
                "load": [min(r.load for r in group), max(r.load for r in group)],
            }
        )
    return rows


def verdicts(rows: list[dict[str, Any]], latencies: list[float]) -> list[str]:
    """Ratios against issue 15's targets, per N."""
    out = []
    for n in sorted({r["n"] for r in rows}):
        by = {r["contender"]: r for r in rows if r["n"] == n}
        lines = [f"N = {n}:"]

        def rate(name: str, by: dict[str, dict[str, Any]] = by) -> float | None:
            return by[name]["entries_per_s"] if name in by else None

        cold = rate("monitor-cold")
        if cold:
            for ref, target in [
                ("ceiling-default-1p", 1.0),
                ("ceiling-daemon-2p", None),
                ("ceiling-daemon-1p", None),
                ("ceiling-fast-1p", None),
                ("rss2email", 4.0),
                ("naive", None),
            ]:
                base = rate(ref)
                if base:
                    ratio = cold / base
                    goal = (
                        f" (target >= {target:g}x: {'PASS' if ratio >= target else 'FAIL'})"
                        if target
                        else ""
                    )
                    lines.append(f"- cold / {ref}: {ratio:.2f}x{goal}")
        for ms in [0.0, *[m for m in latencies if m]]:
            name = f"monitor-warm-{ms:g}ms"
            if name not in by:
                continue
            fps = by[name]["feeds_per_s"]
            if ms == 0:
                lines.append(
                    f"- warm at 0 ms: {fps:.0f} feeds/s (target >= 1000: {'PASS' if fps >= 1000 else 'FAIL'})"
                )
            else:
                goal = 0.8 * CONCURRENCY / (ms / 1000)
                lines.append(
                    f"- warm at {ms:g} ms: {fps:.0f} feeds/s = {fps / goal * 0.8:.2f} x concurrency/latency"
                    f" (target >= 0.8, i.e. {goal:.0f} feeds/s: {'PASS' if fps >= goal else 'FAIL'})"
                )
        mem = [r for r in by.values() if r["contender"].startswith("monitor-")]
        if mem:
            top = max(mem, key=lambda r: r["peak_rss_max_mb"])
            high = top["peak_rss_max_mb"]
            limit = 200 if n <= 200 else 300
            parts = ", ".join(f"{name} {mb:.0f}" for name, mb in top["peak_parts"])
            lines.append(
                f"- monitor peak RSS (tree, highest run): {high:.0f} MB in {top['contender']}"
                f" ({parts} MB) (target <= {limit} MB"
                f"{' at N = 2,000' if limit == 300 else ''}: {'PASS' if high <= limit else 'FAIL'})"
            )
        out.append("\n".join(lines))
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"`{result['command']}` — {result['when']}",
        "",
        f"Machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}, {m['platform']}. "
        f"Load average (1 min) {result['load_before'][0]:.2f} before, "
        f"{result['load_after'][0]:.2f} after; per row below: min-max at the runs' starts. "
        f"R = {result['rules']} rules, {result['hosts']} hosts (127.0.0.2 ...), "
        f"per_host = {PER_HOST}, concurrency = {CONCURRENCY}, {result['reps']} repetitions.",
        "",
        "| N | contender | cycle s (median / min) | process s | feeds/s | entries/s | peak RSS MB (tree) | CPU s | load | correct |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        eps = f"{r['entries_per_s']:.0f}" if r["entries_per_s"] else "—"
        lines.append(
            f"| {r['n']} | {r['contender']} | {r['cycle_median_s']:.2f} / {r['cycle_min_s']:.2f} "
            f"| {r['wall_median_s']:.2f} | {r['feeds_per_s']:.0f} | {eps} | {r['peak_rss_mb']:.0f} "
            f"| {r['cpu_s']:.1f} | {r['load'][0]:.1f}-{r['load'][1]:.1f} | {r['correct']} |"
        )
    lines += [
        "",
        "cycle: the daemon's logged `cycle.finished` duration (its start-up, rule compilation and "
        'delivery are in "process s"); for the others the timed loop after imports. feeds/s and '
        "entries/s are on the cycle time (entries: new entries; a warm cycle has none). "
        "Warm rows: every feed answered 304.",
        "",
        "Against issue 15's targets (medians of this run):",
        "",
    ]
    lines += result["verdicts"]
    if result.get("startup"):
        s = result["startup"]
        lines += [
            "",
            f"Start-up with {s['rules']} rules and {s['feeds']} feeds (median / min): "
            f"`check-config` {s['check_config_s'][0]:.2f} / {s['check_config_s'][1]:.2f} s; "
            f"`run --once` on a fresh database to its first `feed.polled` log line "
            f"{s['first_poll_s'][0]:.2f} / {s['first_poll_s'][1]:.2f} s (target < 3 s: "
            f"check-config {'PASS' if s['check_config_s'][0] < 3 else 'FAIL'}, first poll "
            f"{'PASS' if s['first_poll_s'][0] < 3 else 'FAIL'}; both include Python's start-up "
            "and the rules' compilation, the first poll also the migrations of a new database, "
            "the sync of the feeds table and one feed's fetch and parse).",
        ]
    return "\n".join(lines) + "\n"


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    ns = sorted({r["n"] for r in rows})
    n0 = ns[0]
    first = [r for r in rows if r["n"] == n0]
    cold = [r for r in first if not r["contender"].startswith("monitor-warm")]
    warm = [r for r in first if r["contender"].startswith("monitor-warm")]
    panels = 3 + (len(ns) > 1)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.8))
    ax = axes[0]
    names = [r["contender"] for r in cold]
    ax.barh(names, [r["entries_per_s"] for r in cold],
            color=["tab:red" if n.startswith("monitor") else "tab:gray" for n in names])  # fmt: skip
    ax.set_xlabel("entries/s (cycle time, median)")
    ax.set_title(f"cold: N = {n0} feeds x 50 entries")
    ax.invert_yaxis()
    ax = axes[1]
    ax.barh([r["contender"] for r in warm], [r["feeds_per_s"] for r in warm], color="tab:red")
    for ms in result["latencies"]:
        target = 1000 if ms == 0 else 0.8 * CONCURRENCY / (ms / 1000)
        ax.axvline(target, linestyle="--", color="k", linewidth=0.8)
        ax.text(target, 0.02, f" {ms:g} ms target", transform=ax.get_xaxis_transform(), fontsize=7)
    ax.set_xlabel("feeds/s (dashed: targets)")
    ax.set_title("warm: every feed 304")
    ax.invert_yaxis()
    ax = axes[2]
    ax.barh([r["contender"] for r in first], [r["peak_rss_mb"] for r in first],
            color=["tab:red" if r["contender"].startswith("monitor") else "tab:gray" for r in first])  # fmt: skip
    ax.axvline(200, linestyle="--", color="k", linewidth=0.8)
    ax.set_xlabel("peak RSS of the process tree, MB")
    ax.set_title("memory")
    ax.invert_yaxis()
    if len(ns) > 1:
        ax = axes[3]
        for name in sorted({r["contender"] for r in rows if r["contender"].startswith("monitor")}):
            pts = [(r["n"], r["cycle_median_s"]) for r in rows if r["contender"] == name]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("feeds")
        ax.set_ylabel("cycle s")
        ax.set_title("scaling")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"bench/cycle.py, {result['when']}, load {result['load_before'][0]:.1f}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_readme(result: dict[str, Any], table: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    block = f"{README_BEGIN}\n{table}{README_END}"
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        text = head + block + rest.split(README_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, nargs="+", default=[200], help="N values (default 200)")
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=50, help="host names (addresses), 1-250")
    ap.add_argument("--latency", type=float, nargs="+", default=[0, 100],
                    help="server latencies (ms) of the warm cycles")  # fmt: skip
    ap.add_argument("--contenders", nargs="+", default=CONTENDERS, choices=CONTENDERS)
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument(
        "--profile-only", action="store_true", help="only the cold-cycle profile and query plans"
    )
    ap.add_argument("--no-startup", action="store_true")
    ap.add_argument("--no-readme", action="store_true", help="leave bench/README.md alone")
    ap.add_argument("--startup-feeds", type=int, default=5000)
    ap.add_argument("--sample-ms", type=float, default=20)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    ap.add_argument("--_profile", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._profile:
        _profiled_cycle(Path(args._profile))
        return 0
    args.epoch = float(int(time.time()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cycle-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python bench/cycle.py", *(sys.argv[1:] if argv is None else argv)])
    load_before = list(os.getloadavg())
    cycle_feeds.rule_names(args.rules)
    most = max([*args.feeds, 0 if args.no_startup else args.startup_feeds])
    server = Server(most, args.hosts, args.rules, args.epoch, workdir)
    bench = Bench(args, server, workdir)
    result: dict[str, Any] = {}
    if args.profile_only:
        try:
            profile_cold(bench, args.feeds[0])
        finally:
            server.stop()
        return 0
    try:
        for n in args.feeds:
            run_suite(bench, n)
        startup_result = None
        if not args.no_startup and "monitor" in args.contenders:
            print(f"start-up with {args.rules} rules and {args.startup_feeds} feeds", flush=True)
            startup_result = startup(bench, args.startup_feeds)
        if not args.no_profile and "monitor" in args.contenders:
            profile_cold(bench, args.feeds[0])
    finally:
        server.stop()
    rows = summarise(bench.runs)
    result = {
        "command": command.strip(),
        "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine(),
        "load_before": load_before,
        "load_after": list(os.getloadavg()),
        "rules": args.rules,
        "hosts": args.hosts,
        "reps": args.reps,
        "latencies": [0.0, *[m for m in args.latency if m]],
        "rows": rows,
        "verdicts": verdicts(rows, args.latency),
        "startup": startup_result,
        "runs": [asdict(r) for r in bench.runs],
    }
    table = markdown(result)
    (out / "cycle.md").write_text("# bench/cycle.py\n\n" + table)
    (out / "cycle.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    try:
        chart(result, out / "cycle.png")
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart")
    if not args.no_readme:
        write_readme(result, table)
    print()
    print(table)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    bad = [r for r in bench.runs if r.problems]
    if bad:
        print(f"{len(bad)} runs failed their correctness checks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
