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
) -> tuple[list[str], list[str]]:
    """Workers that are gone, and among them those whose process is provably dead here."""
    gone, dead = [], []
    for row in conn.execute(
        select(workers.c.id, workers.c.host, workers.c.pid, workers.c.heartbeat_at)
    ):
        dead_here = row.host == host and not is_alive(row.pid)
        if dead_here:
            dead.append(row.id)
        if dead_here or row.heartbeat_at < now - lease:
            gone.append(row.id)
    return gone, dead


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
    gone, dead = _gone_workers(conn, now, host, is_alive, lease)
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
    # A process that was killed (kill -9, out of memory, a reboot) interrupted its jobs; it
    # says nothing about them, so their attempt is given back instead of counted. A job that
    # hangs (its lease ran out under a live worker) or whose worker went silent counts.
    interrupted = [r.id for r in candidates if r.worker_id in dead]
    others = [r for r in candidates if r.worker_id not in dead]
    retry = [r.id for r in others if r.attempts < r.max_attempts]
    give_up = [r.id for r in others if r.attempts >= r.max_attempts]
    if interrupted:
        move(
            conn,
            where=jobs.c.id.in_(interrupted),
            expected=JobStatus.RUNNING,
            target=JobStatus.PENDING,
            now=now,
            # run_at stays: the job keeps its place in the claim order (older posts first).
            values={"worker_id": None, "lease_until": None, "attempts": jobs.c.attempts - 1},
            data={"reason": "worker-died"},
            extra_events=lambda row: [(JobEvent.JOB_RECOVERED_STALE, {"attempt_refunded": True})],
        )
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
    return Recovered(requeued=interrupted + retry, failed=give_up)


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
