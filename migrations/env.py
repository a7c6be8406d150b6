"""Alembic environment: runs with the engine/connection handed over by monitor.store.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from monitor.store.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = config.attributes.get("engine") or create_engine(
            config.get_main_option("sqlalchemy.url")
        )
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
