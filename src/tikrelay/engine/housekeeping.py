"""The engine's own recurring work: finished jobs and their timelines are deleted once past
their retention (``jobs.keep_days``, ``jobs.keep_failed_days``, ``jobs.kinds.<kind>.keep_days``),
so that the queue stays small however many jobs go through it."""

from __future__ import annotations

import asyncio
import random

import structlog

from tikrelay.domain.jobs import JobEvent
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import Schedule, save
from tikrelay.engine.service import JobService
from tikrelay.store.retention_sql import Pruned

log = structlog.get_logger("tikrelay.worker")

PRUNE_JOBS = "prune_jobs"
#: Every hour: a pass then deletes about an hour's worth of jobs, a batch at a time.
PRUNE_INTERVAL_SECONDS = 3600.0


def prune_jobs(service: JobService) -> Pruned:
    """Delete now the finished jobs past their retention, and their events."""
    found = service.queue.prune_finished(service.retention())
    if found.jobs:
        log.info("jobs_pruned", jobs=found.jobs, events=found.events)
    return found


def registry(service: JobService) -> Registry:
    """The ``prune_jobs`` kind, bound to ``service`` (its settings say what is kept)."""
    kinds = Registry()

    @kinds.handler(PRUNE_JOBS, max_attempts=1, max_running=1)
    async def prune(ctx: JobContext, payload: dict[str, object]) -> None:
        # Its own thread, not the worker's database thread: between two batches the worker's
        # claims and completions get the connection.
        found = await asyncio.to_thread(prune_jobs, service)
        await ctx.event(JobEvent.JOBS_PRUNED, jobs=found.jobs, events=found.events)

    return kinds


def schedule(service: JobService, rng: random.Random) -> None:
    """Prune every hour, in whichever worker sees the occurrence first."""
    save(
        service,
        Schedule(name=PRUNE_JOBS, kind=PRUNE_JOBS, interval_seconds=PRUNE_INTERVAL_SECONDS),
        rng,
    )
