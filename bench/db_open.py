"""What opening the database costs ``monitor run`` and ``run --once``; prints its numbers.

    .venv/bin/python bench/db_open.py [ARTICLES] [--cold]   (default 200000)

Builds a migrated database with ARTICLES articles (bench_ops.py's builder: one
sighting each, 5% matched with an alert), then times the ``PRAGMA quick_check`` that
:func:`monitor.store.db.upgrade` runs before anything writes, and the whole of
``upgrade`` on an up-to-date file, and prints the check's cost per GiB. ``--cold``
(root) drops the kernel's page cache first, as after a reboot: the whole machine's,
so not by default on a shared one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ops import build  # noqa: E402
from monitor.store.db import check_integrity, make_engine, upgrade  # noqa: E402


def drop_page_cache() -> bool:
    """Drop the kernel's page cache (root only): a cold start after a reboot."""
    if os.geteuid() != 0:
        return False
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--cold"]
    n = int(args[0]) if args else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "monitor.db"
        started = time.perf_counter()
        build(path, n)
        size = path.stat().st_size
        print(
            f"built {n} articles: {size / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s"
        )
        cold = "--cold" in sys.argv and drop_page_cache()
        for label in ("cold" if cold else "first", "warm"):
            engine = make_engine(f"sqlite:///{path}", create=False)
            started = time.perf_counter()
            check_integrity(engine)
            took = time.perf_counter() - started
            engine.dispose()
            print(
                f"quick_check, {label:<28} {took * 1000:8.1f} ms"
                f"   ({took / (size / 2**30):.2f} s per GiB)"
            )
        engine = make_engine(f"sqlite:///{path}", create=False)
        started = time.perf_counter()
        upgrade(engine)
        print(
            f"upgrade (check + no migration)        {(time.perf_counter() - started) * 1000:8.1f} ms"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
