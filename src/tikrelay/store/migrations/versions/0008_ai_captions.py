"""ai_captions: what a language model wrote for a post, per prompt

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_captions",
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("prompt_key", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ai_captions")
