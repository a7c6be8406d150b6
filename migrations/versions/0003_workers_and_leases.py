"""work sharing: feeds.lease_owner and lease_until; the workers and leases tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN in place (SQLite has it): a batch copy of feeds would trip the
    # foreign keys of the articles that point at it.
    op.add_column("feeds", sa.Column("lease_owner", sa.String(length=160), nullable=True))
    op.add_column("feeds", sa.Column("lease_until", sa.DateTime(), nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("last_cycle_at", sa.DateTime(), nullable=True),
        sa.Column("last_cycle_feeds", sa.Integer(), nullable=True),
        sa.Column("last_cycle_new", sa.Integer(), nullable=True),
        sa.Column("last_cycle_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=160), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("workers")
    # In place again (SQLite >= 3.35 drops columns itself; a batch copy of feeds would
    # trip the foreign keys that point at it).
    for column in ("lease_until", "lease_owner"):
        op.execute(f"ALTER TABLE feeds DROP COLUMN {column}")
