"""jobs: only partial indexes change with a job's status

Every status move writes a new row version, and each index whose predicate the new version
matches gets an entry. The status index and the concurrency index covered every job; they give
way to partial indexes that only the jobs a query looks for enter: running jobs with a
concurrency key, failed and cancelled jobs (listings), waiting or running jobs with a dedupe key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:20:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_index("ix_jobs_concurrency", table_name="jobs")
    op.drop_index("uq_jobs_dedupe_active", table_name="jobs")
    op.create_index(
        "uq_jobs_dedupe_active",
        "jobs",
        ["dedupe_key"],
        unique=True,
        **_where(f"{ACTIVE} AND dedupe_key IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_running_key",
        "jobs",
        ["concurrency_key"],
        **_where("status = 'RUNNING' AND concurrency_key IS NOT NULL"),
    )
    op.create_index("ix_jobs_failed", "jobs", ["id"], **_where("status = 'FAILED'"))
    op.create_index("ix_jobs_cancelled", "jobs", ["id"], **_where("status = 'CANCELLED'"))


def downgrade() -> None:
    op.drop_index("ix_jobs_cancelled", table_name="jobs")
    op.drop_index("ix_jobs_failed", table_name="jobs")
    op.drop_index("ix_jobs_running_key", table_name="jobs")
    op.drop_index("uq_jobs_dedupe_active", table_name="jobs")
    op.create_index("uq_jobs_dedupe_active", "jobs", ["dedupe_key"], unique=True, **_where(ACTIVE))
    op.create_index("ix_jobs_concurrency", "jobs", ["concurrency_key", "status"])
    op.create_index("ix_jobs_status", "jobs", ["status", "id"])
