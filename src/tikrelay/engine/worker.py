"""The worker: an asyncio loop with a bounded pool of running jobs that wakes on new work
(LISTEN/NOTIFY on PostgreSQL, an in-process signal on SQLite) or every poll interval, keeps
its leases, recovers what dead workers left behind, and stops gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.engine.runner import Attempt, JobRunner
from tikrelay.engine.schedules import fire_due
from tikrelay.engine.service import JobService
from tikrelay.store import ClaimLimits, notify

log = structlog.get_logger("tikrelay.worker")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


@dataclass
class WorkerStats:
    claimed: int = 0
    released: int = 0


class Worker:
    def __init__(
        self,
        service: JobService,
        *,
        concurrency: int | None = None,
        drain: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.queue = service.queue
        self.settings = service.settings
        self.concurrency = concurrency or self.settings.worker_concurrency
        self.drain = drain
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=self.settings.lease_seconds)
        self.grace = self.settings.shutdown_grace_seconds
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.stats = WorkerStats()
        self._running: dict[int, Attempt] = {}
        self._idle_since: float | None = None  # drain mode: since when it waits for others
        self._housekept = time.monotonic()  # when due jobs and schedules were last looked at
        self._stopping = False
        #: Why the worker stopped on its own (a full disk): the command says so and exits.
        self.fatal: TikrelayError | None = None
        self._wake = asyncio.Event()
        # SQLite has one writer connection: one database thread keeps calls from queueing on it.
        threads = 1 if not self.queue.is_postgres else self.concurrency + 2
        self._db = ThreadPoolExecutor(threads, thread_name_prefix="tikrelay-db")
        # Claim only kinds this worker can run: the others wait for a worker that knows them.
        # Kinds with slots of their own are claimed apart, up to their max_running each.
        limits = service.limits()
        self._own_slots = {
            kind.name: limits.per_kind.get(kind.name) or 1
            for kind in service.registry
            if kind.own_slots
        }
        shared = [name for name in service.registry.names() if name not in self._own_slots]
        self._pools: list[tuple[str | None, int, ClaimLimits]] = [
            (None, self.concurrency, dataclasses.replace(limits, kinds=shared))
        ]
        self._pools += [
            (name, slots, dataclasses.replace(limits, kinds=[name]))
            for name, slots in self._own_slots.items()
        ]
        self._runner = JobRunner(service, self.id, self.run_db, self.rng, self._stop_for)

    async def run_db(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: func(*args, **kwargs))

    def wake(self) -> None:
        self._wake.set()

    def stop(self, *, now: bool = False) -> None:
        """Stop claiming; running jobs get the grace period (none with ``now``)."""
        if now or self._stopping:
            self.grace = 0
        self._stopping = True
        self._wake.set()

    def _stop_for(self, error: TikrelayError) -> None:
        """No job can get past this (a full disk): stop now, give running jobs back."""
        if self.fatal is None:
            self.fatal = error
            log.info("worker_stopping", worker_id=self.id, error=str(error))
        self.stop(now=True)

    async def _unless_fatal(self, step: Awaitable[Any]) -> None:
        """Run a database step of start-up or shutdown; a full disk stops the worker instead
        of crashing it (jobs it could not give back are recovered by the next start)."""
        try:
            await step
        except Exception as exc:
            error = classify(exc)
            if error.kind is not ErrorKind.DISK_FULL:
                raise
            self._stop_for(error)

    async def run(self) -> WorkerStats:
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called from other threads (the LISTEN thread, enqueuers)
            loop.call_soon_threadsafe(self._wake.set)

        self.queue.on_enqueue.append(wake)
        await self.run_db(self.queue.register_worker, self.id, self.host, self.pid)
        log.info("worker_started", worker_id=self.id, concurrency=self.concurrency)
        background = [asyncio.create_task(self._keep_leases())]
        listener = notify.Listener(self.queue.engine, wake) if self.queue.is_postgres else None
        if listener is not None:
            background.append(asyncio.create_task(asyncio.to_thread(listener.run)))
        try:
            await self._unless_fatal(self._recover())
            if not self._stopping:
                await self._unless_fatal(self._loop())
        finally:
            await self._unless_fatal(self._shutdown())
            if listener is not None:
                listener.stop()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self.queue.on_enqueue.remove(wake)
            await self._unless_fatal(self.run_db(self.queue.unregister_worker, self.id))
            self._db.shutdown(wait=True)
            log.info("worker_stopped", worker_id=self.id, claimed=self.stats.claimed)
        return self.stats

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            claimed, filled = 0, False
            for kind, slots, limits in self._pools:
                busy = self._busy(kind)
                free = slots - busy
                # Short jobs in slots of their own are claimed in batches, once half their slots
                # are free: one claim for several polls, not one per poll that ends.
                batch = 1 if kind is None or not busy else max(1, slots // 2)
                if free >= batch and limits.kinds:
                    found = await self._claim(free, limits)
                    claimed += found
                    filled = filled or found == free
            # Busy with short jobs, the worker may never wait a whole poll interval; due
            # schedules and retries must not wait for it to be idle.
            overdue = time.monotonic() - self._housekept > self.settings.poll_interval_seconds
            if overdue and await self._housekeeping():
                continue
            if filled:
                continue  # there may be more: claim again as soon as a slot frees
            if not claimed and not self._running:
                if await self._housekeeping():
                    continue
                if self.drain:
                    wait = await self._soon_due()
                    if wait is None and await self._elsewhere():
                        # Another process (a bot service on the same database) runs a job of
                        # this run: what it makes is this run's to finish and count; waited for
                        # up to drain_wait_seconds without a job of its own.
                        wait = self.settings.poll_interval_seconds
                    if wait is None:
                        return
                    # A retry comes due in a moment (a 429's retry_after): wait for it.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                    continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_seconds)
            except TimeoutError:
                await self._housekeeping()

    def _busy(self, kind: str | None) -> int:
        """Running jobs in the slots of ``kind`` (None: the shared slots)."""
        if kind is None:
            return sum(a.job.kind not in self._own_slots for a in self._running.values())
        return sum(a.job.kind == kind for a in self._running.values())

    async def _claim(self, free: int, limits: ClaimLimits) -> int:
        jobs = await self.run_db(self.queue.claim, self.id, free, self.lease, limits)
        for job in jobs:
            attempt = Attempt(job)
            attempt.task = asyncio.create_task(self._runner.run(attempt))
            attempt.task.add_done_callback(functools.partial(self._done, job.id))
            self._running[job.id] = attempt
        self.stats.claimed += len(jobs)
        if jobs:
            self._idle_since = None
        return len(jobs)

    def _done(self, job_id: int, _task: object) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _housekeeping(self) -> bool:
        """Promote due jobs, fire due schedules; True when that produced claimable work."""
        self._housekept = time.monotonic()
        promoted = await self.run_db(self.queue.promote_due)
        fired = await self.run_db(fire_due, self.service, self.rng)
        if promoted or fired:
            return True
        if self.drain:
            return bool(await self.run_db(self.queue.has_due_work, self.service.registry.names()))
        return False

    async def _soon_due(self) -> float | None:
        """Seconds until the next waiting job of ours comes due, if within the drain wait."""
        kinds = [kind.name for kind in self.service.registry if kind.drain_wait]
        due = await self.run_db(self.queue.next_run_at, kinds)
        if due is None:
            return None
        wait = max(0.0, (due - self.queue.clock()).total_seconds())
        return wait if wait <= self.settings.drain_wait_seconds else None

    async def _elsewhere(self) -> bool:
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since > self.settings.drain_wait_seconds:
            return False
        names = self.service.registry.names()
        return bool(await self.run_db(self.queue.running_elsewhere, names, self.id))

    async def _recover(self) -> None:
        found = await self.run_db(
            self.queue.recover, host=self.host, is_alive=pid_alive, lease=self.lease
        )
        if found.requeued or found.failed:
            log.info("recovered", requeued=len(found.requeued), failed=len(found.failed))

    async def _keep_leases(self) -> None:
        """Renew leases and heartbeat every third of a lease; act on cancel requests; recover
        jobs of workers that died meanwhile."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                cancel = await self.run_db(
                    self.queue.renew, self.id, self.host, self.pid, self.lease
                )
                for job_id in cancel:
                    attempt = self._running.get(job_id)
                    if attempt is not None and attempt.task is not None:
                        attempt.cancel_requested = True
                        attempt.task.cancel()
                await self._recover()
            except Exception:  # a database hiccup must not end lease keeping
                log.exception("lease_renewal_failed", worker_id=self.id)

    async def _shutdown(self) -> None:
        attempts = list(self._running.values())
        tasks = [a.task for a in attempts if a.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=self.grace)
        unfinished = [a for a in attempts if a.task in pending]
        for attempt in unfinished:
            attempt.releasing = True
            if attempt.task is not None:
                attempt.task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        ids = [a.job.id for a in unfinished]
        self.stats.released = await self.run_db(self.queue.release, ids, self.id)
        if ids:
            log.info("released", worker_id=self.id, jobs=ids)
