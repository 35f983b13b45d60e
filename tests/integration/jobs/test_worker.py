"""The worker loop with real handlers, on both databases: outcomes, retries, time limits,
stages, cancellation, graceful stop, drain mode, limits at enqueue, schedules."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import Connection

from tikrelay.config.settings import JobKindSettings, JobSettings, Settings
from tikrelay.domain.errors import ErrorKind, InvalidJobError, TikrelayError
from tikrelay.domain.jobs import JobDeferredError, JobEvent, JobStatus
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import Schedule, fire_due, save
from tikrelay.engine.service import JobService
from tikrelay.engine.worker import Worker
from tikrelay.store import JobQueue, open_engine


class Greeting(BaseModel):
    name: str


registry = Registry()


class Gate:
    """Set by the blocking handler once it runs; each test makes a fresh one on its loop."""

    event: asyncio.Event


@registry.handler("greet", payload=Greeting)
async def greet(ctx: JobContext, payload: Greeting) -> None:
    async with ctx.stage("compose"):
        await ctx.event("GREETING_COMPOSED", name=payload.name)


@registry.handler("flaky")
async def flaky(ctx: JobContext, payload: dict[str, object]) -> None:
    if ctx.attempt == 1:
        raise TikrelayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=0)


@registry.handler("forbidden")
async def forbidden(ctx: JobContext, payload: dict[str, object]) -> None:
    raise TikrelayError(ErrorKind.AUTH, "cookies expired")


LEAKY_TOKEN = "123456789:AAEhBP0av28sKs7-abcdefghijklmnopqrs"


@registry.handler("leaky", max_attempts=1)
async def leaky(ctx: JobContext, payload: dict[str, object]) -> None:
    # A peer's error text that quotes the URL it called, token and all.
    raise TikrelayError(ErrorKind.HTTP, f"POST https://api.telegram.org/bot{LEAKY_TOKEN}/x: 502")


@registry.handler("slow", timeout_seconds=0.05, max_attempts=1)
async def slow(ctx: JobContext, payload: dict[str, object]) -> None:
    await asyncio.sleep(30)


@registry.handler("slow-stage", stage_timeouts={"download": 0.05}, max_attempts=1)
async def slow_stage(ctx: JobContext, payload: dict[str, object]) -> None:
    async with ctx.stage("download"):
        await asyncio.sleep(30)


@registry.handler("blocking")
async def blocking(ctx: JobContext, payload: dict[str, object]) -> None:
    Gate.event.set()
    await asyncio.sleep(3600)


seen_after_outcome: list[tuple[int, JobStatus, int]] = []


class Queues:
    """The queue the patient handler looks at (each test sets it)."""

    queue: JobQueue


@registry.handler("patient", max_attempts=1)
async def patient(ctx: JobContext, payload: dict[str, object]) -> None:
    async def look() -> None:  # the outcome is in the database by now
        job = ctx.job
        found = await ctx.db(Queues.queue.get, job.id)
        seen_after_outcome.append((job.id, found.status, found.attempts))

    ctx.after_outcome(look)
    if ctx.job.payload.get("defer"):
        raise JobDeferredError(
            ctx.job.created_at + timedelta(days=1), "waits for another job to go first"
        )


@pytest.fixture
def service(settings: Settings) -> Iterator[JobService]:
    engine = open_engine(settings)
    jobs = JobSettings(
        lease_seconds=0.3,
        poll_interval_seconds=0.05,
        shutdown_grace_seconds=0,
        kinds={"forbidden": JobKindSettings(max_attempts=4)},
    )
    yield JobService(JobQueue(engine), registry, jobs)
    engine.dispose()


def timeline(queue: JobQueue, job_id: int) -> list[str]:
    return [e.type for e in queue.events(job_id)]


async def drain(service: JobService) -> None:
    await Worker(service, concurrency=3, drain=True).run()


async def test_outcomes_retries_and_timeouts(service: JobService) -> None:
    queue = service.queue
    ok = service.enqueue("greet", {"name": "Ada"}).job
    flaky_job = service.enqueue("flaky", {}).job
    auth = service.enqueue("forbidden", {}).job
    slow_job = service.enqueue("slow", {}).job
    stage_job = service.enqueue("slow-stage", {}).job
    assert auth.max_attempts == 4  # config beats the default
    await drain(service)
    assert queue.get(ok.id).status is JobStatus.COMPLETED  # type: ignore[union-attr]
    assert "GREETING_COMPOSED" in timeline(queue, ok.id)
    assert JobEvent.STAGE_FINISHED in timeline(queue, ok.id)
    again = queue.get(flaky_job.id)
    assert again is not None
    assert (again.status, again.attempts) == (JobStatus.COMPLETED, 2)
    assert JobEvent.RETRY_SCHEDULED in timeline(queue, flaky_job.id)
    failed = queue.get(auth.id)
    assert failed is not None
    assert (failed.status, failed.error_kind, failed.attempts) == (JobStatus.FAILED, "auth", 1)
    assert JobEvent.RETRY_SKIPPED in timeline(queue, auth.id)
    for job_id, marker in (
        (slow_job.id, JobEvent.JOB_TIMED_OUT),
        (stage_job.id, JobEvent.STAGE_FAILED),
    ):
        timed_out = queue.get(job_id)
        assert timed_out is not None
        assert (timed_out.status, timed_out.error_kind) == (JobStatus.FAILED, "timeout")
        assert marker in timeline(queue, job_id)
        assert JobEvent.MAX_RETRIES_REACHED in timeline(queue, job_id)


async def test_error_texts_are_stored_without_secrets(service: JobService) -> None:
    job = service.enqueue("leaky", {}).job
    await drain(service)
    failed = service.queue.get(job.id)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error_message is not None
    assert "/bot[redacted]/x: 502" in failed.error_message
    stored = [str(e.data) for e in service.queue.events(job.id)]
    assert any("502" in text for text in stored)
    assert not any(LEAKY_TOKEN in text for text in stored)


async def test_cancelling_a_running_job(service: JobService) -> None:
    Gate.event = asyncio.Event()
    job = service.enqueue("blocking", {}).job
    run = asyncio.create_task(drain(service))
    await Gate.event.wait()
    await asyncio.to_thread(service.queue.cancel, job.id)
    await run
    cancelled = service.queue.get(job.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.error_kind) == (JobStatus.FAILED, "cancelled")


async def test_stop_releases_running_jobs(service: JobService) -> None:
    Gate.event = asyncio.Event()
    job = service.enqueue("blocking", {}).job
    worker = Worker(service, concurrency=2)
    run = asyncio.create_task(worker.run())
    await Gate.event.wait()
    worker.stop()
    stats = await run
    assert stats.released == 1
    released = service.queue.get(job.id)
    assert released is not None
    assert (released.status, released.attempts) == (JobStatus.QUEUED, 0)
    assert JobEvent.JOB_RELEASED in timeline(service.queue, job.id)


def test_bad_input_is_refused_and_nothing_written(service: JobService) -> None:
    with pytest.raises(InvalidJobError, match="unknown job kind 'nope'"):
        service.enqueue("nope", {})
    with pytest.raises(InvalidJobError, match="invalid payload for job kind 'greet': name"):
        service.enqueue("greet", {"nom": "x"})
    with pytest.raises(InvalidJobError, match="not JSON-serialisable"):
        service.enqueue("flaky", {"when": object()})
    assert service.queue.list_jobs() == []


def test_schedule_fires_once_per_occurrence(service: JobService, settings: Settings) -> None:
    other_engine = open_engine(settings)
    other = JobService(JobQueue(other_engine), registry, service.settings)
    rng = random.Random(1)
    save(service, Schedule(name="hourly", kind="flaky", interval_seconds=3600), rng)
    assert fire_due(service, rng) == 0
    later = service.queue.clock() + timedelta(hours=1, seconds=1)
    service.queue.clock = other.queue.clock = lambda: later
    assert fire_due(service, rng) + fire_due(other, rng) == 1
    assert fire_due(other, rng) == 0
    (job,) = service.queue.list_jobs()
    assert job.dedupe_key == "schedule:hourly"
    other_engine.dispose()


async def test_a_deferred_job_waits_without_spending_an_attempt(service: JobService) -> None:
    Queues.queue = service.queue
    seen_after_outcome.clear()
    waits = service.enqueue("patient", {"defer": True}).job
    done = service.enqueue("patient", {}).job
    await drain(service)  # max_attempts 1: a counted attempt would have failed it for good
    deferred = service.queue.get(waits.id)
    assert deferred is not None
    assert (deferred.status, deferred.attempts) == (JobStatus.PENDING, 0)
    assert deferred.run_at == waits.created_at + timedelta(days=1)
    assert deferred.error_message == "waits for another job to go first"
    events = service.queue.events(waits.id)
    assert events[-1].type == JobEvent.JOB_DEFERRED
    assert events[-1].data["reason"] == "waits for another job to go first"
    # Callbacks run once the outcome is written, whatever it is.
    assert sorted(seen_after_outcome) == [
        (waits.id, JobStatus.PENDING, 0),
        (done.id, JobStatus.COMPLETED, 1),
    ]


async def test_a_draining_worker_waits_for_a_job_another_process_runs(
    service: JobService,
) -> None:
    """``run --once`` beside a bot service on one database: a job of the run that the
    service's worker claimed still counts, and so does the work it makes."""
    queue = service.queue
    first = service.enqueue("greet", {"name": "Ada"}).job
    queue.register_worker("bot-service", "elsewhere", os.getpid())
    [held] = queue.claim("bot-service", 1, timedelta(seconds=30))
    assert held.id == first.id
    run = asyncio.create_task(drain(service))
    await asyncio.sleep(0.3)  # six polls of the idle worker
    assert not run.done()  # it waits: the other process may make more work for it

    def make_more(conn: Connection) -> None:
        service.enqueue("greet", {"name": "Bo"}, conn=conn)

    assert queue.complete(first.id, "bot-service", [make_more])
    await asyncio.wait_for(run, 10)
    [made] = [job for job in queue.list_jobs(JobStatus.COMPLETED, 10, None) if job.id != first.id]
    assert made.payload == {"name": "Bo"}


class Together:
    """How many jobs of the own-slots test run at once; each waits until four do."""

    running: dict[str, int]
    most: dict[str, int]
    four: asyncio.Event


async def run_together(kind: str) -> None:
    Together.running[kind] += 1
    Together.most[kind] = max(Together.most[kind], Together.running[kind])
    if sum(Together.running.values()) >= 4:
        Together.four.set()
    try:
        await asyncio.wait_for(Together.four.wait(), 10)
    finally:
        Together.running[kind] -= 1


slotted = Registry()


@slotted.handler("feed", max_running=3, own_slots=True)
async def feed(ctx: JobContext, payload: dict[str, object]) -> None:
    await run_together("feed")


@slotted.handler("send")
async def send(ctx: JobContext, payload: dict[str, object]) -> None:
    await run_together("send")


async def test_kinds_with_own_slots_run_beside_the_shared_ones(settings: Settings) -> None:
    """A worker of one shared slot runs three feeds (their max_running) and a send at once:
    a kind with slots of its own neither waits for the shared slot nor takes it."""
    Together.running = {"feed": 0, "send": 0}
    Together.most = {"feed": 0, "send": 0}
    Together.four = asyncio.Event()
    engine = open_engine(settings)
    try:
        service = JobService(JobQueue(engine), slotted, JobSettings(poll_interval_seconds=0.05))
        feeds = [service.enqueue("feed", {}).job for _ in range(5)]
        sent = service.enqueue("send", {}).job
        await Worker(service, concurrency=1, drain=True).run()
        done = [service.queue.get(job.id) for job in (*feeds, sent)]
        assert [job.status for job in done if job] == [JobStatus.COMPLETED] * 6
        assert Together.most == {"feed": 3, "send": 1}
    finally:
        engine.dispose()
