"""tiktok_accounts and tiktok_uploads: TikTok accounts' tokens (encrypted) and uploads under way

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-15 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tiktok_accounts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("open_id", sa.String(200), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),  # Fernet-encrypted JSON
        sa.Column("access_expires_at", UtcDateTime, nullable=False),
        sa.Column("refresh_expires_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "tiktok_uploads",
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("destination", sa.String(200), primary_key=True),
        sa.Column("publish_id", sa.String(200), nullable=False),
        sa.Column("upload_url", sa.Text, nullable=True),
        sa.Column("next_chunk", sa.Integer, nullable=False),
        sa.Column("video_size", sa.BigInteger, nullable=False),
        sa.Column("chunk_size", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tiktok_uploads")
    op.drop_table("tiktok_accounts")
