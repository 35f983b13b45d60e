"""bot: the updates the bot took from Telegram, the requests people made, its shared switches;
telegram_files: the file ids of what was sent, to send it again without a download or upload

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import Id, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("job_id", Id),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("chat_id", sa.BigInteger),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_bot_updates_user", "bot_updates", ["user_id", "received_at"])
    op.create_table(
        "bot_requests",
        sa.Column("job_id", Id, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_bot_requests_user", "bot_requests", ["user_id", "created_at"])
    op.create_index("ix_bot_requests_chat", "bot_requests", ["chat_id", "created_at"])
    op.create_index(
        "uq_bot_requests_message", "bot_requests", ["chat_id", "message_id"], unique=True
    )
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )

    op.create_table(
        "telegram_files",
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("file_ids", sa.JSON, nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("duration", sa.Float),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )

    op.create_table(
        "bot_users",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bot_users")
    op.drop_table("telegram_files")
    op.drop_table("bot_state")
    op.drop_table("bot_requests")
    op.drop_table("bot_updates")
