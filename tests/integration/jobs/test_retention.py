"""Finished jobs and their events go after their retention, on SQLite and PostgreSQL: completed
ones after ``keep_days`` (a kind's own for polls), failed and cancelled ones after
``keep_failed_days``, waiting and running ones never; what references a job (deliveries, bot
requests) stays valid, ids are never given out twice, and a backlog goes a batch at a time."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.jobs_db import FakeClock
from tikrelay.config.settings import JobKindSettings, JobSettings
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.domain.retention import Retention
from tikrelay.engine import housekeeping
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import fire_due
from tikrelay.engine.service import JobService
from tikrelay.engine.worker import Worker
from tikrelay.store import JobQueue, NewJob, bot_sql, retention_sql
from tikrelay.store import relay as relay_sql
from tikrelay.store.tables import bot_requests, deliveries, job_events, jobs

LEASE = timedelta(seconds=30)
DAY = 86400
RETENTION = Retention(
    completed=timedelta(days=7), failed=timedelta(days=30), per_kind={"poll": timedelta(days=1)}
)


def new(kind: str = "deliver", **kw: Any) -> NewJob:
    return NewJob(kind=kind, payload={"n": 1}, max_attempts=1, **kw)


def completed(queue: JobQueue, kind: str = "deliver") -> int:
    job_id = queue.enqueue(new(kind)).job.id
    [claimed] = queue.claim("w", 1, LEASE)
    assert claimed.id == job_id
    assert queue.complete(job_id, "w")
    return job_id


def failed(queue: JobQueue) -> int:
    job_id = queue.enqueue(new()).job.id
    queue.claim("w", 1, LEASE)
    assert queue.fail(job_id, "w", error_kind="deleted", message="gone")
    return job_id


def cancelled(queue: JobQueue) -> int:
    job_id = queue.enqueue(new()).job.id
    queue.cancel(job_id)
    return job_id


def job_ids(queue: JobQueue) -> set[int]:
    with queue.engine.connect() as conn:
        return set(conn.execute(select(jobs.c.id)).scalars())


def events_of(queue: JobQueue) -> set[int]:
    """The jobs that have events."""
    with queue.engine.connect() as conn:
        return set(conn.execute(select(job_events.c.job_id).distinct()).scalars())


def test_finished_jobs_go_after_their_retention_and_what_names_them_stays(
    queue: JobQueue, clock: FakeClock
) -> None:
    poll = completed(queue, "poll")
    sent = completed(queue)
    broken = failed(queue)
    stopped = cancelled(queue)
    later = queue.enqueue(new(run_at=clock.now + timedelta(days=60))).job.id  # waits long
    running = queue.enqueue(new()).job.id
    assert [j.id for j in queue.claim("w", 1, LEASE)] == [running]
    with queue.transaction() as conn:
        relay_sql.record_delivery(
            conn,
            post_key="tiktok:1",
            destination="clips",
            chat_id="-100",
            topic_id=None,
            message_ids=[7],
            job_id=sent,
            reconciled=False,
            now=clock.now,
        )
        bot_sql.add_request(conn, broken, 5, 5, 1, clock.now)
        bot_sql.add_request(conn, later, 5, 5, 2, clock.now)

    clock.advance(2 * DAY)  # past a poll's day, within the others'
    assert queue.prune_finished(RETENTION) == retention_sql.Pruned(jobs=1, events=3)
    assert job_ids(queue) == {sent, broken, stopped, later, running}
    assert queue.get(poll) is None

    clock.advance(6 * DAY)  # eight days: past keep_days, within keep_failed_days
    recent = completed(queue)
    found = queue.prune_finished(RETENTION)
    assert found.jobs == 1
    assert job_ids(queue) == {broken, stopped, later, running, recent}
    assert events_of(queue) == {broken, stopped, later, running, recent}
    assert queue.get(sent) is None

    clock.advance(30 * DAY)  # past keep_failed_days too; `recent` is the newest job: it stays
    assert queue.prune_finished(RETENTION).jobs == 2
    assert job_ids(queue) == {later, running, recent}
    # Nothing that names a pruned job went with it.
    with queue.engine.connect() as conn:
        [delivery] = conn.execute(select(deliveries)).mappings()
        assert (delivery["job_id"], delivery["message_ids"]) == (sent, [7])
        assert relay_sql.delivered_ids(conn, "tiktok:1", "clips") == [7]
        requests = set(conn.execute(select(bot_requests.c.job_id)).scalars())
        assert requests == {broken, later}
        counts = bot_sql.request_counts(conn, 5, 5, clock.now - timedelta(days=60))
    assert (counts.active, counts.user_last_hour) == (1, 2)  # the waiting one still counts
    # A new job never gets an id a pruned one had (SQLite would reuse the highest).
    assert queue.enqueue(new()).job.id > recent


def test_the_newest_job_stays_so_no_id_is_given_out_twice(
    queue: JobQueue, clock: FakeClock
) -> None:
    first, newest = completed(queue), completed(queue)
    clock.advance(365 * DAY)
    assert queue.prune_finished(RETENTION).jobs == 1
    assert job_ids(queue) == {newest}
    assert queue.enqueue(new()).job.id == newest + 1 > first


def test_a_backlog_goes_a_batch_per_transaction(
    queue: JobQueue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = []
    kept = []
    for n in range(13):
        expired.append(completed(queue))
        if n % 3 == 0:
            kept.append(failed(queue))  # kept rows between expired ones
    clock.advance(10 * DAY)
    kept.append(completed(queue))  # young: the walk stops here
    batches: list[int] = []
    original = retention_sql.prune_batch

    def counted(*args: Any, **kwargs: Any) -> Any:
        pruned, resume = original(*args, **kwargs)
        batches.append(pruned.jobs)
        return pruned, resume

    monkeypatch.setattr(retention_sql, "prune_batch", counted)
    found = queue.prune_finished(RETENTION, batch=4)
    assert found.jobs == 13
    assert job_ids(queue) == set(kept)
    assert max(batches) <= 4
    assert len(batches) >= 5
    assert queue.prune_finished(RETENTION, batch=4).jobs == 0


def test_retention_from_settings_per_kind(queue: JobQueue, clock: FakeClock) -> None:
    kinds = Registry()

    @kinds.handler("poll", keep_days=1)
    @kinds.handler("deliver")
    @kinds.handler("archive", keep_days=1)
    async def nothing(ctx: JobContext, payload: dict[str, object]) -> None:
        pass

    settings = JobSettings(
        keep_days=3, keep_failed_days=10, kinds={"archive": JobKindSettings(keep_days=5)}
    )
    service = JobService(queue, kinds, settings)
    assert service.retention() == Retention(
        completed=timedelta(days=3),
        failed=timedelta(days=10),
        per_kind={"poll": timedelta(days=1), "archive": timedelta(days=5)},
    )
    poll, deliver, archive = completed(queue, "poll"), completed(queue), completed(queue, "archive")
    broken = failed(queue)
    clock.advance(2 * DAY)
    last = queue.enqueue(new()).job.id
    assert housekeeping.prune_jobs(service).jobs == 1
    assert job_ids(queue) == {deliver, archive, broken, last}
    clock.advance(2 * DAY)
    assert housekeeping.prune_jobs(service).jobs == 1
    clock.advance(2 * DAY)
    assert housekeeping.prune_jobs(service).jobs == 1
    assert job_ids(queue) == {broken, last}
    assert poll < deliver < archive


def test_the_engine_prunes_every_hour_as_a_job(queue: JobQueue, clock: FakeClock) -> None:
    service = JobService(queue, Registry(), JobSettings(poll_interval_seconds=0.05))
    service.registry.include(housekeeping.registry(service))
    old = [completed(queue) for _ in range(3)]
    clock.advance(8 * DAY)
    rng = random.Random(1)
    housekeeping.schedule(service, rng)
    assert fire_due(service, rng) == 0
    clock.advance(housekeeping.PRUNE_INTERVAL_SECONDS + 1)
    assert fire_due(service, rng) == 1
    asyncio.run(Worker(service, drain=True).run())
    [job] = queue.list_jobs(kind=housekeeping.PRUNE_JOBS)
    assert job.status is JobStatus.COMPLETED
    [pruned] = [e for e in queue.events(job.id) if e.type == JobEvent.JOBS_PRUNED]
    assert pruned.data == {"jobs": 3, "events": 3 * 3}
    assert not job_ids(queue) & set(old)
    with queue.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 1
