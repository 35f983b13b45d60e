"""Table definitions (SQLAlchemy Core). Migrations create them; queries import them from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, fixed-width UTC text on SQLite
    (fixed width keeps string comparison in SQL equal to time order)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"aware datetime required, got {value!r}")
        utc: datetime = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"datetime column returned {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ACTIVE = "status IN ('PENDING', 'QUEUED', 'RUNNING')"

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("worker_id", String(64)),
    Column("dedupe_key", String(300)),
    Column("concurrency_key", String(300)),
    Column("concurrency_limit", Integer, nullable=False, server_default="1"),
    Column("timeout_seconds", Float),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("error_kind", String(40)),
    Column("error_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
)


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


def _only(status: str) -> dict[str, Any]:
    return _where(f"status = '{status}'")


# Every status move writes a new row version with an entry in each index whose predicate it
# matches, so every index but the primary key is partial: a job enters only the ones its
# status (and keys) call for, and completing a plain job touches no index but the key.
# The claim reads QUEUED jobs in exactly this order, so it never sorts; promotion reads PENDING
# jobs by run_at; lease renewal and recovery read RUNNING jobs by worker; limits count running
# jobs per concurrency key; listings of failed or cancelled jobs go newest first.
Index("ix_jobs_queued", jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id, **_only("QUEUED"))
Index("ix_jobs_pending", jobs.c.run_at, **_only("PENDING"))
Index("ix_jobs_running", jobs.c.worker_id, **_only("RUNNING"))
Index(
    "ix_jobs_running_key",
    jobs.c.concurrency_key,
    **_where("status = 'RUNNING' AND concurrency_key IS NOT NULL"),
)
Index("ix_jobs_failed", jobs.c.id, **_only("FAILED"))
Index("ix_jobs_cancelled", jobs.c.id, **_only("CANCELLED"))
# One waiting-or-running job per dedupe key: double clicks and overlapping polls enqueue once.
Index(
    "uq_jobs_dedupe_active",
    jobs.c.dedupe_key,
    unique=True,
    **_where(f"{ACTIVE} AND dedupe_key IS NOT NULL"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_job_events_job", "job_id", "id"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("interval_seconds", Float),
    Column("cron", String(200)),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("active_from", String(5)),
    Column("active_until", String(5)),
    Column("jitter_seconds", Float, nullable=False, server_default="0"),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("last_run_at", UtcDateTime),
    Column("enabled", Boolean, nullable=False, server_default=true()),
)
