"""Schema: Alembic's head on an empty SQLite file equals the models (no drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor import db
from monitor.errors import StaleSchemaError
from monitor.models import Base


def test_upgrade_on_empty_file_matches_models(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/fresh.db")
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert db.current_revision(engine) == db.head_revision(engine)


def test_stale_schema_is_refused_until_upgraded(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/old.db")
    with pytest.raises(StaleSchemaError, match="monitor db upgrade"):
        db.check_schema(engine)
    db.upgrade(engine)
    db.check_schema(engine)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
