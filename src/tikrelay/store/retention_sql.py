"""Finished jobs past their retention, and their events, deleted a batch at a time.

Every index on ``jobs`` but the primary key is partial (completing a job must touch no other
index), so nothing finds old completed jobs by date. Job ids grow with time instead: one
batch walks the primary key from where the last one stopped and stops at the first job too
young to have expired, so a pass reads what it deletes plus the few older jobs still kept
(failed ones, jobs still waiting), never the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from tikrelay.domain.jobs import FINAL_STATUSES, JobStatus
from tikrelay.domain.retention import Retention
from tikrelay.store.tables import job_events, jobs


@dataclass(frozen=True)
class Pruned:
    """What a pass deleted."""

    jobs: int = 0
    events: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(self.jobs + other.jobs, self.events + other.events)


def newest_job_id(conn: Connection) -> int | None:
    found = conn.execute(select(func.max(jobs.c.id))).scalar()
    return None if found is None else int(found)


def prune_batch(
    conn: Connection,
    retention: Retention,
    now: datetime,
    *,
    after: int,
    below: int,
    limit: int,
) -> tuple[Pruned, int | None]:
    """Delete the expired jobs among the next ``limit`` with ids in (``after``, ``below``), with
    their events; return what went and the id the next batch starts after (None: done)."""
    young = now - retention.shortest()
    rows = conn.execute(
        select(
            jobs.c.id,
            jobs.c.kind,
            jobs.c.status,
            jobs.c.created_at,
            jobs.c.finished_at,
            jobs.c.updated_at,
        )
        .where(jobs.c.id > after, jobs.c.id < below)
        .order_by(jobs.c.id)
        .limit(limit)
    ).all()
    expired: list[int] = []
    resume: int | None = rows[-1].id if len(rows) == limit else None
    for row in rows:
        if row.created_at > young:  # this one and every later one are too young
            resume = None
            break
        finished = row.finished_at or row.updated_at
        if retention.expired(row.kind, JobStatus(row.status), finished, now):
            expired.append(row.id)
    if not expired:
        return Pruned(), resume
    # The events first, to count them; the foreign key's ON DELETE CASCADE still takes an
    # event written meanwhile (a `jobs retry` of a failed job adds one to it). The id range
    # beside the list keeps the planner on the indexes even before PostgreSQL has statistics
    # (a list alone it may guess to match most of the table, and scan all of it).
    lowest, highest = expired[0], expired[-1]
    events = conn.execute(
        delete(job_events).where(
            job_events.c.job_id.between(lowest, highest), job_events.c.job_id.in_(expired)
        )
    ).rowcount
    final = [status.value for status in FINAL_STATUSES]
    gone = conn.execute(
        delete(jobs).where(
            jobs.c.id.between(lowest, highest), jobs.c.id.in_(expired), jobs.c.status.in_(final)
        )
    ).rowcount
    return Pruned(gone, events), resume
