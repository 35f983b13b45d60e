"""tallies: totals per UTC day kept up as deliveries are written; stage_seconds: stage
durations as histogram buckets per day; sources: posts listed and delivered kept up, and how
long the last poll took; indexes to find a post's sources and the deliveries of a period

The dashboard's overview counted every delivery and every listed post on each request: with a
year of history that was most of a second. The totals now grow in the transaction that writes
what they count; this migration fills them from the history once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 01:50:00.000000
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

from tikrelay.store.tables import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The histogram's bucket bounds at this revision (``tallies_sql.DURATION_BUCKETS``).
BOUNDS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
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
    op.create_table(
        "stage_seconds",
        sa.Column("stage", sa.String(40), primary_key=True),
        sa.Column("bound", sa.String(16), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
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
    _fill_stage_seconds()


def _fill_stage_seconds() -> None:
    """The stages of the timelines kept so far, into their buckets (bounds as the program's
    at this revision)."""
    conn = op.get_bind()
    events = sa.table(
        "job_events", sa.column("type", sa.String), sa.column("data", sa.JSON), sa.column("at")
    )
    found: dict[tuple[str, str, date], list[float]] = {}
    rows = conn.execute(
        sa.select(events.c.data, events.c.at).where(events.c.type == "STAGE_FINISHED")
    )
    for data, at in rows:
        stage, seconds = (data or {}).get("stage"), (data or {}).get("seconds")
        if not isinstance(stage, str) or not isinstance(seconds, int | float):
            continue
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        key = (stage[:40], _bound(float(seconds)), moment.date())
        count_seconds = found.setdefault(key, [0, 0.0])
        count_seconds[0] += 1
        count_seconds[1] += float(seconds)
    if found:
        table = sa.table(
            "stage_seconds",
            sa.column("stage"),
            sa.column("bound"),
            sa.column("day"),
            sa.column("count"),
            sa.column("seconds"),
        )
        op.bulk_insert(
            table,
            [
                {"stage": s, "bound": b, "day": d, "count": int(n), "seconds": t}
                for (s, b, d), (n, t) in found.items()
            ],
        )


def _bound(seconds: float) -> str:
    for bound in BOUNDS:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


def downgrade() -> None:
    op.drop_index("ix_deliveries_delivered_at", table_name="deliveries")
    op.drop_index("ix_source_posts_post_key", table_name="source_posts")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("delivered")
        batch.drop_column("listed")
        batch.drop_column("last_poll_seconds")
    op.drop_table("stage_seconds")
    op.drop_table("tallies")
