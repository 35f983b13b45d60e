"""catalog: sources and destinations as rows, each with its origin

New tables rather than columns on `sources`: that table is the reposter's memory of a creator
(secUid, polls, what it listed) and must outlive the user removing the source, while a catalog
row is the user's wish and goes with it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_destinations",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "catalog_sources",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_sources")
    op.drop_table("catalog_destinations")
