"""bench/cycle.py runs end to end on a tiny set, and its correctness check has teeth.

The benchmark itself is not part of the suite (minutes); this runs its harness on three
feeds with the press-monitor contender (cold, then warm) and the parser
ceiling, once, against its own feed server on 127.0.0.x, then shows that the check it
applies to the daemon's SQLite file reports a wrong article count and a missing alert.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import cycle  # noqa: E402


def test_harness_runs_and_its_check_catches_a_wrong_count(tmp_path: Path) -> None:
    out, work = tmp_path / "results", tmp_path / "work"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cycle.py"), "--feeds", "3", "--reps", "1",
         "--rules", "12", "--contenders", "monitor", "ceiling-default-1p", "--no-profile",
         "--no-startup", "--no-readme", "--latency", "0", "--out", str(out), "--keep", str(work)],
        capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads((out / "cycle.json").read_text())
    rows = {r["contender"]: r for r in result["rows"]}
    assert set(rows) == {"ceiling-default-1p", "monitor-cold", "monitor-warm-0ms"}
    assert all(r["correct"] == "ok" for r in rows.values()), rows
    cold = next(r for r in result["runs"] if r["contender"] == "monitor-cold")
    assert cold["entries"] == 3 * 50 and cold["peak_rss_mb"] > 20 and cold["cpu_s"] > 0
    assert "| monitor-cold |" in (out / "cycle.md").read_text()

    db = work / "monitor-3-1" / "monitor.db"
    planted = cycle.planted_rules(3, 12)
    assert len(planted) == 3
    assert cycle.check_store(db, articles=150, planted=planted) == []
    with sqlite3.connect(db) as con:  # one article and one alert fewer than the truth
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("DELETE FROM alerts WHERE id = (SELECT max(id) FROM alerts)")
        con.execute("DELETE FROM sightings WHERE article_id = (SELECT max(id) FROM articles)")
        con.execute("DELETE FROM articles WHERE id = (SELECT max(id) FROM articles)")
    problems = cycle.check_store(db, articles=150, planted=planted)
    assert any(p.startswith("articles 149 != expected 150") for p in problems), problems
    assert any(p.startswith("alerts 2 != planted 3") for p in problems), problems
