"""How a running job ends (complete, fail, retry later, release) and what users may do to a job
(cancel, retry). Each function runs inside the caller's transaction."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from tikrelay.domain.jobs import IllegalTransitionError, Job, JobEvent, JobStatus, is_allowed
from tikrelay.store.queue_sql import Enqueued, NewJob, ids_in, insert_job
from tikrelay.store.tables import jobs
from tikrelay.store.transition import (
    EventData,
    TransitionRefusedError,
    add_events,
    move,
    row_to_job,
)


def _held(job_id: int, worker_id: str) -> Any:
    # A worker may only finish a job it still holds: after recovery gave the job to someone
    # else, this guard turns the late write into a no-op instead of a double completion.
    return (jobs.c.id == job_id) & (jobs.c.worker_id == worker_id)


def complete(conn: Connection, job_id: int, worker_id: str, now: datetime) -> bool:
    rows = move(
        conn,
        where=_held(job_id, worker_id),
        expected=JobStatus.RUNNING,
        target=JobStatus.COMPLETED,
        now=now,
        values={"finished_at": now, "lease_until": None},
        returning=[jobs.c.id],
    )
    return bool(rows)


@functools.lru_cache(maxsize=2)
def _held_batch(dialect: str) -> Any:
    return ids_in(dialect, "job_ids") & (jobs.c.worker_id == bindparam("holder"))


def complete_all(conn: Connection, job_ids: list[int], worker_id: str, now: datetime) -> list[int]:
    """Complete every listed job this worker still holds, in one statement; return those."""
    rows = move(
        conn,
        where=_held_batch(conn.dialect.name),
        expected=JobStatus.RUNNING,
        target=JobStatus.COMPLETED,
        now=now,
        values={"finished_at": bindparam("finished_at"), "lease_until": None},
        returning=[jobs.c.id],
        params={"job_ids": job_ids, "holder": worker_id, "finished_at": now},
        reuse="complete_all",
    )
    return [row.id for row in rows]


def fail(
    conn: Connection,
    job_id: int,
    worker_id: str | None,
    now: datetime,
    *,
    error_kind: str,
    message: str,
    events: list[tuple[str, EventData]],
) -> bool:
    where = jobs.c.id == job_id if worker_id is None else _held(job_id, worker_id)
    rows = move(
        conn,
        where=where,
        expected=JobStatus.RUNNING,
        target=JobStatus.FAILED,
        now=now,
        values={
            "finished_at": now,
            "lease_until": None,
            "error_kind": error_kind,
            "error_message": message[:2000],
        },
        data={"error_kind": error_kind},
        extra_events=lambda row: events,
    )
    return bool(rows)


def retry_later(
    conn: Connection,
    job_id: int,
    worker_id: str,
    now: datetime,
    *,
    run_at: datetime,
    error_kind: str,
    message: str,
    events: list[tuple[str, EventData]],
) -> bool:
    rows = move(
        conn,
        where=_held(job_id, worker_id),
        expected=JobStatus.RUNNING,
        target=JobStatus.PENDING,
        now=now,
        values={
            "run_at": run_at,
            "worker_id": None,
            "lease_until": None,
            "error_kind": error_kind,
            "error_message": message[:2000],
        },
        data={"run_at": run_at.isoformat()},
        extra_events=lambda row: events,
    )
    return bool(rows)


def defer(
    conn: Connection, job_id: int, worker_id: str, now: datetime, *, run_at: datetime, reason: str
) -> bool:
    """The job may not run yet: it waits until ``run_at``, its attempt not counted."""
    rows = move(
        conn,
        where=_held(job_id, worker_id),
        expected=JobStatus.RUNNING,
        target=JobStatus.PENDING,
        now=now,
        values={
            "run_at": run_at,
            "worker_id": None,
            "lease_until": None,
            "attempts": jobs.c.attempts - 1,
            "error_kind": None,
            "error_message": reason[:2000],
        },
        data={"run_at": run_at.isoformat()},
        extra_events=lambda row: [
            (JobEvent.JOB_DEFERRED, {"run_at": run_at.isoformat(), "reason": reason[:500]})
        ],
    )
    return bool(rows)


def release(conn: Connection, job_ids: list[int], worker_id: str, now: datetime) -> int:
    """Give running jobs back (worker shutting down): due again at once, attempt not counted."""
    rows = move(
        conn,
        where=jobs.c.id.in_(job_ids) & (jobs.c.worker_id == worker_id),
        expected=JobStatus.RUNNING,
        target=JobStatus.PENDING,
        now=now,
        values={
            "run_at": now,
            "worker_id": None,
            "lease_until": None,
            "attempts": jobs.c.attempts - 1,
        },
        extra_events=lambda row: [(JobEvent.JOB_RELEASED, {"worker_id": worker_id})],
    )
    return len(rows)


def _current(conn: Connection, job_id: int) -> Job:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        raise TransitionRefusedError(job_id, JobStatus.PENDING, None)
    return row_to_job(row)


def cancel(conn: Connection, job_id: int, now: datetime) -> Job:
    """Waiting jobs are cancelled at once; a running job is asked to stop (its worker sees the
    request at the next lease renewal and fails it as ``cancelled``)."""
    job = _current(conn, job_id)
    if job.status is JobStatus.RUNNING:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(cancel_requested=True))
        add_events(conn, [(job_id, JobEvent.CANCEL_REQUESTED, {})], now)
        return _current(conn, job_id)
    if not is_allowed(job.status, JobStatus.CANCELLED):
        raise IllegalTransitionError(job.status, JobStatus.CANCELLED)  # a user's mistake: no log
    rows = move(
        conn,
        where=jobs.c.id == job_id,
        expected=job.status,
        target=JobStatus.CANCELLED,
        now=now,
        values={"finished_at": now},
        extra_events=lambda row: [(JobEvent.JOB_CANCELLED, {})],
    )
    if not rows:
        raise TransitionRefusedError(job_id, job.status, _current(conn, job_id).status)
    return row_to_job(rows[0])


def request_retry(conn: Connection, job_id: int, now: datetime) -> Enqueued:
    """A failed or cancelled job runs again as a new job (its timeline stays as it was);
    a job waiting for its retry time becomes due now."""
    job = _current(conn, job_id)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        new = NewJob(
            kind=job.kind,
            payload=job.payload,
            max_attempts=job.max_attempts,
            priority=job.priority,
            dedupe_key=job.dedupe_key,
            concurrency_key=job.concurrency_key,
            concurrency_limit=job.concurrency_limit,
            timeout_seconds=job.timeout_seconds,
        )
        enqueued = insert_job(conn, new, now)
        add_events(conn, [(job_id, JobEvent.RETRY_REQUESTED, {"new_job_id": enqueued.job.id})], now)
        return enqueued
    if job.status is JobStatus.PENDING:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(run_at=now))
        add_events(conn, [(job_id, JobEvent.RETRY_REQUESTED, {"run_at": now.isoformat()})], now)
        rows = move(
            conn,
            where=jobs.c.id == job_id,
            expected=JobStatus.PENDING,
            target=JobStatus.QUEUED,
            now=now,
        )
        return Enqueued(row_to_job(rows[0]), created=False)
    if job.status is JobStatus.QUEUED:
        return Enqueued(job, created=False)
    raise IllegalTransitionError(job.status, JobStatus.PENDING)
