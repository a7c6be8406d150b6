"""What ``monitor db migrate-to`` costs: rows per second and memory; prints its numbers.

    .venv/bin/python bench/migrate_speed.py URL [ARTICLES]   (default 100000)

URL is a PostgreSQL server's URL whose user may create databases
(``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); a fresh database is made
on it for the run and dropped afterwards. Builds a SQLite database with ARTICLES
articles (bench_ops.py's builder: one sighting each, 5% matched with an alert), then
times the copy, a second run (which reads SQLite to check the fingerprints and copies
nothing) and a dry run, and prints this process's peak RSS (the PostgreSQL server's
own memory is not counted).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.bench_ops import build  # noqa: E402
from monitor.store.migrate import migrate_to  # noqa: E402


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    name = f"pm_bench_migrate_{int(time.time())}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "monitor.db"
            start = time.perf_counter()
            build(path, n)
            print(
                f"built SQLite, {n:,} articles: {time.perf_counter() - start:.1f} s, "
                f"{path.stat().st_size / 2**20:.0f} MiB"
            )
            source = f"sqlite:///{path}"
            for label, dry in (("dry run", True), ("copy", False), ("second run", False)):
                start = time.perf_counter()
                report = migrate_to(source, target, dry_run=dry)
                took = time.perf_counter() - start
                rows = sum(t.source_rows for t in report.tables)
                print(
                    f"{label:<11} {took:6.2f} s  {rows / took:9,.0f} rows/s  "
                    f"copied {report.copied:,} of {rows:,}  ok={report.ok}"
                )
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of this process: {peak:.0f} MiB")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


if __name__ == "__main__":
    main()
