"""How fast a delivery cycle drains the outbox: prints alerts/s for three shapes.

    /work/venv/bin/python bench/delivery_throughput.py [N]

1. N alerts to console:// (unlimited: one message each, stdout to /dev/null);
2. N alerts to a json:// receiver on 127.0.0.1 with rate_limit "100000/s" and a burst
   (folded into summaries of 20);
3. planning only: N held digest alerts (how long a cycle spends looking at them).
Each uses a fresh SQLite file; times include claims and commits. One cycle looks at
one page of due rows (monitor.delivery.PAGE = 500); the rest wait for the next tick. One cycle looks at
one page of due rows (monitor.delivery.PAGE = 500); the rest wait for the next tick.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.units import parse_digest, parse_rate  # noqa: E402
from monitor.delivery import deliver_due  # noqa: E402
from monitor.records import RuleConfig  # noqa: E402
from monitor.store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from tests.support import LocalServer  # noqa: E402
from tests.test_delivery_support import NOW, FakeClock, add_alert, channel, make_config  # noqa: E402


def fresh_db(tmp: str, name: str):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp}/{name}.db")
    upgrade(engine)
    return make_session_factory(engine)


def run(label: str, factory, config, n: int, at=NOW) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        report = deliver_due(factory, config, at, **FakeClock().kw())
    took = time.perf_counter() - started
    done = report.sent + report.held  # a cycle looks at one page (monitor.delivery.PAGE)
    print(
        f"{label:<40} rows={done:<5} {took * 1000:7.0f} ms {done / took:7.0f} rows/s  "
        f"sent={report.sent} held={report.held} messages={report.messages}"
    )


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        factory = fresh_db(tmp, "console")
        for i in range(n):
            add_alert(factory, title=f"Story {i}", link=f"https://news.example/{i}")
        run(
            "console:// one message per alert",
            factory,
            make_config([channel("c", "console://")]),
            n,
        )

        server = LocalServer().start()
        server.static("/hook", b"{}")
        try:
            factory = fresh_db(tmp, "json")
            for i in range(n):
                add_alert(factory, title=f"Story {i}", link=f"https://news.example/{i}")
            url = server.url("/hook").replace("http://", "json://")
            config = make_config([channel("c", url, rate_limit=parse_rate("100000/s"))])
            run("json:// burst folded into summaries", factory, config, n)
        finally:
            server.stop()

        factory = fresh_db(tmp, "digest")
        for i in range(n):
            add_alert(factory, title=f"Story {i}", delivery="digest")
        config = make_config(
            [channel("c", "console://")],
            rules=[
                RuleConfig("r", "x", ("c",), delivery="digest", digest=parse_digest("daily 08:00"))
            ],
        )
        run("digest rows held (planning only)", factory, config, n, NOW + timedelta(minutes=1))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
