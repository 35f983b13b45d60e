"""digest_entries: posts a destination's schedule gathers into one catch-up message

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-15 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import Id, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_entries",
        sa.Column("destination", sa.String(200), primary_key=True),
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("author", sa.String(300), nullable=True),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.Column("job_id", Id, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("digest_entries")
