"""Workers, leases and recovery: a job held by a worker that is gone comes back, with an event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, true, update

from tikrelay.domain.errors import ErrorKind
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.store.tables import jobs, workers
from tikrelay.store.transition import move


@dataclass(frozen=True)
class Recovered:
    requeued: list[int]
    failed: list[int]


def register_worker(conn: Connection, worker_id: str, host: str, pid: int, now: datetime) -> None:
    conn.execute(
        insert(workers).values(id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now)
    )


def unregister_worker(conn: Connection, worker_id: str) -> None:
    conn.execute(delete(workers).where(workers.c.id == worker_id))


def renew(
    conn: Connection, worker_id: str, host: str, pid: int, now: datetime, lease: timedelta
) -> set[int]:
    """Heartbeat and extend the lease of every job this worker runs; return the ids of those
    a user asked to cancel. A worker declared dead while it was only slow registers again."""
    beat = conn.execute(
        update(workers).where(workers.c.id == worker_id).values(heartbeat_at=now)
    ).rowcount
    if not beat:
        register_worker(conn, worker_id, host, pid, now)
    rows = conn.execute(
        update(jobs)
        .where(jobs.c.worker_id == worker_id, jobs.c.status == JobStatus.RUNNING.value)
        .values(lease_until=now + lease)
        .returning(jobs.c.id, jobs.c.cancel_requested)
    ).all()
    return {row.id for row in rows if row.cancel_requested}


def _gone_workers(
    conn: Connection, now: datetime, host: str, is_alive: Callable[[int], bool], lease: timedelta
) -> list[str]:
    gone = []
    for row in conn.execute(
        select(workers.c.id, workers.c.host, workers.c.pid, workers.c.heartbeat_at)
    ):
        silent = row.heartbeat_at < now - lease
        dead_here = row.host == host and not is_alive(row.pid)
        if silent or dead_here:
            gone.append(row.id)
    return gone


def recover(
    conn: Connection,
    now: datetime,
    *,
    host: str,
    is_alive: Callable[[int], bool],
    lease: timedelta,
) -> Recovered:
    """Find RUNNING jobs whose lease ran out or whose worker is provably gone (same host and its
    pid dead, no heartbeat for a whole lease, or no worker row at all) and retry or fail them."""
    gone = _gone_workers(conn, now, host, is_alive, lease)
    live = select(workers.c.id).where(workers.c.id.not_in(gone) if gone else true())
    stale = (
        select(jobs.c.id, jobs.c.attempts, jobs.c.max_attempts, jobs.c.worker_id)
        .where(
            jobs.c.status == JobStatus.RUNNING.value,
            (jobs.c.lease_until < now) | jobs.c.worker_id.not_in(live) | jobs.c.worker_id.is_(None),
        )
        .with_for_update(skip_locked=True)
    )
    candidates = conn.execute(stale).all()
    retry = [r.id for r in candidates if r.attempts < r.max_attempts]
    give_up = [r.id for r in candidates if r.attempts >= r.max_attempts]
    if retry:
        move(
            conn,
            where=jobs.c.id.in_(retry),
            expected=JobStatus.RUNNING,
            target=JobStatus.PENDING,
            now=now,
            values={"run_at": now, "worker_id": None, "lease_until": None},
            data={"reason": "stale"},
            extra_events=lambda row: [(JobEvent.JOB_RECOVERED_STALE, {})],
        )
    if give_up:
        _fail_stale(conn, give_up, now)
    if gone:
        conn.execute(delete(workers).where(workers.c.id.in_(gone)))
    return Recovered(requeued=retry, failed=give_up)


def _fail_stale(conn: Connection, job_ids: list[int], now: datetime) -> None:
    move(
        conn,
        where=jobs.c.id.in_(job_ids),
        expected=JobStatus.RUNNING,
        target=JobStatus.FAILED,
        now=now,
        values={
            "finished_at": now,
            "lease_until": None,
            "error_kind": ErrorKind.STALE.value,
            "error_message": "its worker stopped while running it, on every attempt",
        },
        extra_events=lambda row: [
            (JobEvent.STALE_JOB_MARKED_FAILED, {}),
            (JobEvent.MAX_RETRIES_REACHED, {"attempts": row.attempts}),
        ],
    )
