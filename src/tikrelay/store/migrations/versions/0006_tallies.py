"""tallies: totals per UTC day kept up as deliveries are written; sources: posts listed and
delivered kept up, and how long the last poll took; indexes to find a post's sources and the
deliveries of a period

The dashboard's overview counted every delivery and every listed post on each request: with a
year of history that was most of a second. The totals now grow in the transaction that writes
what they count; this migration fills them from the history once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 01:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LISTED = "SELECT count(*) FROM source_posts sp WHERE sp.source_id = sources.id"
DELIVERED = (
    "SELECT count(*) FROM source_posts sp JOIN deliveries d ON d.post_key = sp.post_key "
    "WHERE sp.source_id = sources.id"
)


def upgrade() -> None:
    op.create_table(
        "tallies",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("label", sa.String(300), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("last_at", UtcDateTime, nullable=False),
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("last_poll_seconds", sa.Float))
        batch.add_column(sa.Column("listed", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("delivered", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_source_posts_post_key", "source_posts", ["post_key"])
    op.create_index("ix_deliveries_delivered_at", "deliveries", ["delivered_at"])
    op.execute(f"UPDATE sources SET listed = ({LISTED}), delivered = ({DELIVERED})")  # noqa: S608 - constants
    # SQLite keeps UTC times as fixed-width text (the day is its first ten characters).
    day = (
        "(delivered_at AT TIME ZONE 'UTC')::date"
        if op.get_bind().dialect.name == "postgresql"
        else "substr(delivered_at, 1, 10)"
    )
    fill = (
        "INSERT INTO tallies (name, label, day, value, last_at) "  # noqa: S608 - constants only
        f"SELECT 'delivered', destination, {day}, count(*), max(delivered_at) "
        f"FROM deliveries GROUP BY destination, {day}"
    )
    op.execute(fill)


def downgrade() -> None:
    op.drop_index("ix_deliveries_delivered_at", table_name="deliveries")
    op.drop_index("ix_source_posts_post_key", table_name="source_posts")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("delivered")
        batch.drop_column("listed")
        batch.drop_column("last_poll_seconds")
    op.drop_table("tallies")
