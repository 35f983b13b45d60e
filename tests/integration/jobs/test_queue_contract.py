"""The storage contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import Connection, func, insert, select

from tests.support.jobs_db import FakeClock
from tikrelay.domain.errors import InvalidJobError, QueueFullError
from tikrelay.domain.jobs import IllegalTransitionError, JobEvent, JobStatus
from tikrelay.store import ClaimLimits, Completion, JobQueue, NewJob
from tikrelay.store.tables import job_events, jobs
from tikrelay.store.transition import move

LEASE = timedelta(seconds=30)


def job(kind: str = "noop", **kw: object) -> NewJob:
    return NewJob(kind=kind, payload=kw.pop("payload", {"n": 1}), max_attempts=3, **kw)  # type: ignore[arg-type]


def event_types(queue: JobQueue, job_id: int) -> list[str]:
    return [e.type for e in queue.events(job_id)]


def count_rows(queue: JobQueue) -> tuple[int, int]:
    with queue.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(jobs)).scalar_one(),
            conn.execute(select(func.count()).select_from(job_events)).scalar_one(),
        )


def test_enqueue_due_job_is_queued_with_created_event(queue: JobQueue) -> None:
    created = queue.enqueue(job(payload={"url": "https://x", "n": [1, 2]}))
    assert created.created
    assert created.job.status is JobStatus.QUEUED
    assert created.job.payload == {"url": "https://x", "n": [1, 2]}
    assert event_types(queue, created.job.id) == [JobEvent.JOB_CREATED]


def test_future_job_waits_pending_until_promoted(queue: JobQueue, clock: FakeClock) -> None:
    later = queue.enqueue(job(run_at=clock.now + timedelta(seconds=60))).job
    assert later.status is JobStatus.PENDING
    assert queue.claim("w", 5, LEASE) == []
    assert queue.promote_due() == 0
    clock.advance(61)
    assert queue.promote_due() == 1
    assert [j.id for j in queue.claim("w", 5, LEASE)] == [later.id]


def test_dedupe_key_returns_the_active_job(queue: JobQueue) -> None:
    first = queue.enqueue(job(dedupe_key="post:1"))
    again = queue.enqueue(job(dedupe_key="post:1"))
    assert not again.created
    assert again.job.id == first.job.id
    assert count_rows(queue)[0] == 1
    (claimed,) = queue.claim("w", 1, LEASE)
    assert not queue.enqueue(job(dedupe_key="post:1")).created  # running still holds the key
    assert queue.complete(claimed.id, "w")
    assert queue.enqueue(job(dedupe_key="post:1")).created  # finished jobs release it


@pytest.mark.parametrize(
    "payload", [{"x": object()}, {"x": math.nan}, {"x": {1, 2}}], ids=["object", "nan", "set"]
)
def test_unserialisable_payload_writes_nothing(queue: JobQueue, payload: dict[str, object]) -> None:
    with pytest.raises(InvalidJobError, match="not JSON-serialisable"):
        queue.enqueue(job(payload=payload))
    assert count_rows(queue) == (0, 0)


def test_queue_length_cap_refuses_clearly(queue: JobQueue) -> None:
    queue.max_queue_length = 2
    queue.enqueue_many([job(), job()])
    with pytest.raises(QueueFullError, match="queue is full"):
        queue.enqueue(job())
    assert count_rows(queue)[0] == 2


def test_claim_orders_by_priority_then_age_and_counts_attempts(queue: JobQueue) -> None:
    low, high, low2 = (queue.enqueue(job(priority=p)).job for p in (0, 5, 0))
    claimed = queue.claim("w", 2, LEASE)
    assert [j.id for j in claimed] == [high.id, low.id]
    assert all(j.status is JobStatus.RUNNING and j.attempts == 1 for j in claimed)
    assert all(j.worker_id == "w" and j.lease_until is not None for j in claimed)
    assert [j.id for j in queue.claim("v", 5, LEASE)] == [low2.id]


def test_completion_runs_hooks_in_the_same_transaction(queue: JobQueue) -> None:
    first = queue.enqueue(job()).job
    queue.claim("w", 1, LEASE)

    def marker(conn: Connection) -> None:
        conn.execute(
            insert(job_events).values(job_id=first.id, type="EFFECT", data={}, at=queue.clock())
        )

    def broken(conn: Connection) -> None:
        marker(conn)
        raise RuntimeError("destination write failed")

    with pytest.raises(RuntimeError):
        queue.complete(first.id, "w", [broken])
    current = queue.get(first.id)
    assert current is not None
    assert current.status is JobStatus.RUNNING
    assert "EFFECT" not in event_types(queue, first.id)
    assert not queue.complete(first.id, "someone-else", [marker])
    assert queue.complete(first.id, "w", [marker])
    assert event_types(queue, first.id)[-2:] == [JobEvent.STATUS_CHANGED, "EFFECT"]


def test_illegal_move_is_refused_and_writes_nothing(queue: JobQueue) -> None:
    created = queue.enqueue(job()).job
    before = count_rows(queue)
    with pytest.raises(IllegalTransitionError), queue.transaction() as conn:
        move(
            conn,
            where=jobs.c.id == created.id,
            expected=JobStatus.QUEUED,
            target=JobStatus.COMPLETED,
            now=queue.clock(),
        )
    assert count_rows(queue) == before
    assert queue.get(created.id).status is JobStatus.QUEUED  # type: ignore[union-attr]


def test_concurrency_key_allows_n_running(queue: JobQueue) -> None:
    a1, a2, a3 = (queue.enqueue(job(concurrency_key="chat:1")).job for _ in range(3))
    b1, b2 = (
        queue.enqueue(job(concurrency_key="chat:2", concurrency_limit=2)).job for _ in range(2)
    )
    free = queue.enqueue(job()).job
    claimed = {j.id for j in queue.claim("w", 10, LEASE)}
    assert claimed == {a1.id, b1.id, b2.id, free.id}
    assert queue.claim("v", 10, LEASE) == []
    assert queue.complete(a1.id, "w")
    assert [j.id for j in queue.claim("v", 10, LEASE)] == [a2.id]
    assert a3.id not in claimed


def test_global_and_per_kind_limits(queue: JobQueue) -> None:
    for _ in range(3):
        queue.enqueue(job("send"))
        queue.enqueue(job("poll"))
    per_kind = ClaimLimits(per_kind={"send": 1})
    claimed = queue.claim("w", 10, LEASE, per_kind)
    assert sorted(j.kind for j in claimed) == ["poll", "poll", "poll", "send"]
    assert queue.claim("w", 10, LEASE, per_kind) == []
    overall = ClaimLimits(max_running=5)
    assert len(queue.claim("w", 10, LEASE, overall)) == 1
    assert queue.claim("w", 10, LEASE, overall) == []


def test_cancel_waiting_and_running_jobs(queue: JobQueue) -> None:
    waiting, running = queue.enqueue(job()).job, queue.enqueue(job()).job
    assert queue.cancel(waiting.id).status is JobStatus.CANCELLED
    (claimed,) = queue.claim("w", 1, LEASE)
    assert claimed.id == running.id
    assert queue.cancel(running.id).cancel_requested
    assert queue.renew("w", "host", 1, LEASE) == {running.id}
    with pytest.raises(IllegalTransitionError):
        queue.cancel(waiting.id)
    assert JobEvent.JOB_CANCELLED in event_types(queue, waiting.id)
    assert JobEvent.CANCEL_REQUESTED in event_types(queue, running.id)


def test_retry_failed_job_creates_a_new_one(queue: JobQueue, clock: FakeClock) -> None:
    first = queue.enqueue(job(dedupe_key="k")).job
    queue.claim("w", 1, LEASE)
    assert queue.fail(first.id, "w", error_kind="auth", message="cookies expired")
    failed = queue.get(first.id)
    assert failed is not None
    assert failed.error_kind == "auth"
    again = queue.retry(first.id)
    assert again.created
    assert again.job.status is JobStatus.QUEUED
    assert again.job.id != first.id
    assert JobEvent.RETRY_REQUESTED in event_types(queue, first.id)
    queue.claim("w", 1, LEASE)
    queue.complete(again.job.id, "w")
    with pytest.raises(IllegalTransitionError):
        queue.retry(again.job.id)  # a completed job never runs twice


def test_retry_later_then_manual_retry_makes_it_due(queue: JobQueue, clock: FakeClock) -> None:
    first = queue.enqueue(job()).job
    queue.claim("w", 1, LEASE)
    assert queue.retry_later(
        first.id, "w", run_at=clock.now + timedelta(hours=1), error_kind="network", message="reset"
    )
    assert queue.get(first.id).status is JobStatus.PENDING  # type: ignore[union-attr]
    assert queue.retry(first.id).job.status is JobStatus.QUEUED
    assert queue.claim("w", 1, LEASE)[0].attempts == 2


def test_expired_lease_is_recovered_then_failed_when_attempts_run_out(
    queue: JobQueue, clock: FakeClock
) -> None:
    first = queue.enqueue(NewJob(kind="noop", payload={}, max_attempts=2)).job
    for attempt in (1, 2):
        queue.register_worker(f"w{attempt}", "host", 1)
        (claimed,) = queue.claim(f"w{attempt}", 1, LEASE)
        assert claimed.attempts == attempt
        assert queue.recover(host="host", is_alive=lambda pid: True, lease=LEASE).requeued == []
        clock.advance(31)
        found = queue.recover(host="other", is_alive=lambda pid: True, lease=LEASE)
    assert found.failed == [first.id]
    final = queue.get(first.id)
    assert final is not None
    assert final.status is JobStatus.FAILED
    assert final.error_kind == "stale"
    types = event_types(queue, first.id)
    assert types.count(JobEvent.JOB_RECOVERED_STALE) == 1
    assert JobEvent.STALE_JOB_MARKED_FAILED in types
    assert JobEvent.MAX_RETRIES_REACHED in types
    assert not queue.complete(first.id, "w2")


def test_job_of_a_dead_process_on_this_host_is_recovered_at_once(queue: JobQueue) -> None:
    first = queue.enqueue(job()).job
    queue.register_worker("dead", "host", 4242)
    queue.register_worker("alive", "host", 1)
    queue.claim("dead", 1, LEASE)
    found = queue.recover(host="host", is_alive=lambda pid: pid != 4242, lease=LEASE)
    assert found.requeued == [first.id]
    assert queue.get(first.id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert [j.id for j in queue.claim("alive", 1, LEASE)] == [first.id]


def test_a_killed_process_gives_its_jobs_back_in_their_place_without_spending_attempts(
    queue: JobQueue, clock: FakeClock
) -> None:
    older = queue.enqueue(NewJob(kind="noop", payload={}, max_attempts=2)).job
    clock.advance(1)
    younger = queue.enqueue(NewJob(kind="noop", payload={}, max_attempts=2)).job
    for pid in range(100, 105):  # killed again and again: far more often than max_attempts
        queue.register_worker(f"w{pid}", "host", pid)
        claimed = queue.claim(f"w{pid}", 1, LEASE)
        assert [j.id for j in claimed] == [older.id]  # the older job keeps its place
        assert claimed[0].attempts == 1
        clock.advance(1)
        found = queue.recover(host="host", is_alive=lambda p, dead=pid: p != dead, lease=LEASE)
        assert found.requeued == [older.id]
        assert found.failed == []
    assert queue.get(younger.id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    events = [e for e in queue.events(older.id) if e.type == JobEvent.JOB_RECOVERED_STALE]
    assert len(events) == 5
    assert all(e.data == {"attempt_refunded": True} for e in events)


def test_release_gives_jobs_back_without_counting_the_attempt(queue: JobQueue) -> None:
    first = queue.enqueue(job()).job
    queue.claim("w", 1, LEASE)
    assert queue.release([first.id], "w") == 1
    again = queue.claim("v", 1, LEASE)[0]
    assert again.id == first.id
    assert again.attempts == 1
    assert JobEvent.JOB_RELEASED in event_types(queue, first.id)


def test_group_completion_isolates_a_failing_hook(queue: JobQueue) -> None:
    plain, hooked, broken = (queue.enqueue(job()).job for _ in range(3))
    queue.claim("w", 3, LEASE)

    def effect(conn: Connection) -> None:
        conn.execute(
            insert(job_events).values(job_id=hooked.id, type="EFFECT", data={}, at=queue.clock())
        )

    def fails(conn: Connection) -> None:
        raise RuntimeError("destination write failed")

    held = [("STAGE_STARTED", {"stage": "x"}), ("STAGE_FINISHED", {"stage": "x"})]
    results = queue.complete_many(
        "w",
        [
            Completion(plain.id),
            Completion(hooked.id, [effect], held),
            Completion(broken.id, [fails], held),
            Completion(999),
        ],
    )
    assert results[plain.id] is True
    assert results[hooked.id] is True
    assert isinstance(results[broken.id], RuntimeError)
    assert results[999] is False
    # Held events come before the move to COMPLETED, hooks' writes after it.
    assert event_types(queue, hooked.id)[-4:] == [
        "STAGE_STARTED",
        "STAGE_FINISHED",
        JobEvent.STATUS_CHANGED,
        "EFFECT",
    ]
    assert "STAGE_STARTED" not in event_types(queue, broken.id)  # rolled back with its hook
    assert queue.get(broken.id).status is JobStatus.RUNNING  # type: ignore[union-attr]


def test_a_claims_status_changed_names_the_worker(queue: JobQueue) -> None:
    # JobEvent has no WORKER_ASSIGNED: the move to RUNNING carries the worker, on both claim paths.
    free = queue.enqueue(NewJob(kind="noop", payload={}, max_attempts=3)).job
    keyed = queue.enqueue(
        NewJob(kind="noop", payload={}, max_attempts=3, concurrency_key="chat:1")
    ).job
    queue.claim("w-free", 1, LEASE)
    queue.claim("w-keyed", 1, LEASE, ClaimLimits(max_running=10))
    for job_id, worker in ((free.id, "w-free"), (keyed.id, "w-keyed")):
        moves = [e.data for e in queue.events(job_id) if e.type == JobEvent.STATUS_CHANGED]
        assert moves == [{"from": "QUEUED", "to": "RUNNING", "worker_id": worker}]
