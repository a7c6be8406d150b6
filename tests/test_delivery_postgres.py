"""The outbox and delivery tests again, on PostgreSQL (skipped without a server).

Uses the throwaway server of ``tests/pg.py``; the row transitions (conditional claims,
``attempts + 1`` in SQL, ordering by priority) must behave the same as on SQLite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from monitor.store import db

pg = pytest.importorskip("tests.pg", reason="tests/pg.py (PostgreSQL fixture) is not here")
postgres_url = pg.postgres_url

pytest_plugins = ["tests.test_delivery_support"]


@pytest.fixture
def factory(postgres_url):  # type: ignore[no-untyped-def]
    """Same as the SQLite factory, on an emptied PostgreSQL schema."""
    engine = db.make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    yield db.make_session_factory(engine)
    engine.dispose()


from tests.test_delivery import *  # noqa: E402, F403
from tests.test_outbox import *  # noqa: E402, F403
