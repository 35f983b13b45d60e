"""Many claimers at once: no job claimed twice, none lost, concurrency keys respected."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from tikrelay.config.settings import Settings
from tikrelay.domain.jobs import JobStatus
from tikrelay.store import JobQueue, NewJob, migrate, open_engine
from tikrelay.store.tables import jobs

LEASE = timedelta(seconds=60)


def drain(queue: JobQueue, name: str, claimed: list[int], key_overflow: list[int]) -> None:
    while batch := queue.claim(name, 5, LEASE):
        with queue.engine.connect() as conn:
            worst = conn.execute(
                select(func.count())
                .where(
                    jobs.c.status == JobStatus.RUNNING.value, jobs.c.concurrency_key.is_not(None)
                )
                .group_by(jobs.c.concurrency_key)
                .order_by(func.count().desc())
                .limit(1)
            ).scalar()
        if worst is not None and worst > 1:
            key_overflow.append(worst)
        for job in batch:
            claimed.append(job.id)
            assert queue.complete(job.id, name)


def test_parallel_claimers_never_double_claim(settings: Settings) -> None:
    engine = open_engine(settings, pool_size=8)
    queue = JobQueue(engine)
    batch = [NewJob(kind="noop", payload={"i": i}, max_attempts=1) for i in range(240)]
    batch += [
        NewJob(kind="noop", payload={"i": i}, max_attempts=1, concurrency_key=f"chat:{i % 3}")
        for i in range(60)
    ]
    queue.enqueue_many(batch)
    claimed: list[int] = []
    overflow: list[int] = []
    threads = [
        threading.Thread(target=drain, args=(queue, f"w{i}", claimed, overflow)) for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 300
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert overflow == []
    assert queue.counts()[JobStatus.COMPLETED] == 300
    engine.dispose()


def test_migrations_are_idempotent(settings: Settings) -> None:
    engine = open_engine(settings)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.upgrade(engine) is False
    engine.dispose()


def enqueue_together(queue: JobQueue, new: NewJob, callers: int) -> tuple[list[object], list[bool]]:
    """``callers`` threads enqueue ``new`` at the same moment; returns job ids and created flags
    (or the exception a caller got)."""
    start = threading.Barrier(callers)
    results: list[object] = []
    created: list[bool] = []

    def call() -> None:
        start.wait()
        try:
            enqueued = queue.enqueue(new)
        except Exception as exc:
            results.append(exc)
        else:
            results.append(enqueued.job.id)
            created.append(enqueued.created)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, created


def test_simultaneous_enqueues_with_one_dedupe_key_share_one_job(settings: Settings) -> None:
    engine = open_engine(settings, pool_size=8)
    queue = JobQueue(engine)
    new = NewJob(kind="noop", payload={}, max_attempts=1, dedupe_key="post:1:chat:2")
    for _ in range(5):
        results, created = enqueue_together(queue, new, 6)
        assert len(set(results)) == 1, results  # one job id, and no caller got an error
        assert created.count(True) <= 1
        queue.cancel(int(str(results[0])))  # frees the key for the next round
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 5
    engine.dispose()


def test_simultaneous_enqueues_never_pass_the_queue_cap(settings: Settings) -> None:
    engine = open_engine(settings, pool_size=8)
    queue = JobQueue(engine)
    queue.max_queue_length = 3
    results, _ = enqueue_together(queue, NewJob(kind="noop", payload={}, max_attempts=1), 8)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 5
    assert all(type(r).__name__ == "QueueFullError" for r in refused)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 3
    engine.dispose()
