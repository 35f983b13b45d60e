"""relay: sources, what they listed, posts, deliveries and send intents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import Id, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("handle", sa.String(200), nullable=False),
        sa.Column("native_id", sa.String(200)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("first_polled_at", UtcDateTime),
        sa.Column("last_polled_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("key", name="uq_sources_key"),
    )
    op.create_table(
        "source_posts",
        sa.Column(
            "source_id",
            Id,
            sa.ForeignKey(
                "sources.id", ondelete="CASCADE", name="fk_source_posts_source_id_sources"
            ),
            primary_key=True,
        ),
        sa.Column("post_key", sa.String(300), primary_key=True),
        sa.Column("seen_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "posts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("native_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("author", sa.String(200)),
        sa.Column("created_at", UtcDateTime),
        sa.Column("data", sa.JSON),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("post_key", sa.String(300), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("topic_id", sa.Integer),
        sa.Column("message_ids", sa.JSON, nullable=False),
        sa.Column("job_id", Id),
        sa.Column("reconciled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("delivered_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "uq_deliveries_post_destination", "deliveries", ["post_key", "destination"], unique=True
    )
    op.create_index("ix_deliveries_chat", "deliveries", ["chat_id"])
    op.create_table(
        "send_intents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("post_key", sa.String(300), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("expected", sa.Integer, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("after_message_id", sa.BigInteger),
        sa.Column("message_ids", sa.JSON),
        sa.Column("arrived", sa.JSON),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("confirmed_at", UtcDateTime),
    )
    op.create_index(
        "uq_send_intents_part", "send_intents", ["post_key", "destination", "part"], unique=True
    )


def downgrade() -> None:
    for table in ("send_intents", "deliveries", "posts", "source_posts", "sources"):
        op.drop_table(table)
