"""filtered_posts: the posts a source's filters kept from a destination, with the reason

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import Id, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filtered_posts",
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("destination", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("job_id", Id),
        sa.Column("decided_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_filtered_posts_decided_at", "filtered_posts", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_filtered_posts_decided_at", table_name="filtered_posts")
    op.drop_table("filtered_posts")
