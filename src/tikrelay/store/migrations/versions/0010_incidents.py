"""incidents: failures that need a person, each notified once

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-15 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("notified_at", UtcDateTime, nullable=True),
        sa.Column("closed_at", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("incidents")
