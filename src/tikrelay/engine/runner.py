"""One attempt of one job: run its handler under its time limit, then write exactly one outcome
(complete, retry later, or fail) with the policy's events."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from tikrelay.config.logging import redact_text
from tikrelay.domain.errors import ErrorKind, InvalidJobError, TikrelayError, classify
from tikrelay.domain.jobs import Job, JobDeferredError, JobEvent
from tikrelay.domain.retry import decide_retry
from tikrelay.engine.completer import Completer, Outcome
from tikrelay.engine.context import AfterOutcome, JobContext, RunDb
from tikrelay.engine.service import JobService
from tikrelay.store.transition import EventData

log = structlog.get_logger("tikrelay.worker")


@dataclass
class Attempt:
    """The worker's handle on a running attempt; ``cancel_requested`` and ``releasing`` tell a
    cancelled task why it was cancelled."""

    job: Job
    cancel_requested: bool = False
    releasing: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class JobRunner:
    """``on_fatal`` hears of a problem no job can get past (a full disk): the worker stops."""

    def __init__(
        self,
        service: JobService,
        worker_id: str,
        run_db: RunDb,
        rng: random.Random,
        on_fatal: Callable[[TikrelayError], None] = lambda error: None,
    ) -> None:
        self.service = service
        self.on_fatal = on_fatal
        self.queue = service.queue
        self.worker_id = worker_id
        self.run_db = run_db
        self.rng = rng
        self.completer = Completer(self.queue, worker_id, run_db)
        self._kind_limits: dict[str, tuple[float, Mapping[str, float]]] = {}

    async def run(self, attempt: Attempt) -> None:
        """Run in the attempt's own task: the log context bound here is that task's alone."""
        job = attempt.job
        structlog.contextvars.bind_contextvars(job_id=job.id, kind=job.kind)
        after: list[AfterOutcome] = []
        try:
            await self._attempt(attempt, after)
        except Exception as exc:  # the outcome could not be written: recovery gives it back
            error = classify(exc)
            if error.kind is ErrorKind.DISK_FULL:
                self.on_fatal(error)
            else:
                log.error("outcome_not_written", job_id=job.id, exc_info=exc)
        finally:
            for callback in after:
                await callback()

    async def _attempt(self, attempt: Attempt, after: list[AfterOutcome]) -> None:
        job = attempt.job
        ctx = self._context(job, after)
        try:
            await self._execute(job, ctx)
        except asyncio.CancelledError:
            if attempt.releasing or not attempt.cancel_requested:
                raise  # shutting down: the worker releases the job
            error = TikrelayError(ErrorKind.CANCELLED, "cancelled while running")
            await self._write_held(ctx)
            await self._finish(self._fail(job, error, retry=False))
            return
        except JobDeferredError as deferred:
            await self._write_held(ctx)
            await self._finish(self._defer(job, deferred))
            return
        except Exception as exc:
            error = classify(exc)
            if error.kind is ErrorKind.DISK_FULL:  # not the job's fault: give it back
                self.on_fatal(error)
                await self._finish(
                    asyncio.ensure_future(self.run_db(self.queue.release, [job.id], self.worker_id))
                )
                return
            await self._write_held(ctx)
            await self._finish(self._failed(job, exc))
            return
        await self._complete(job, ctx)

    def _context(self, job: Job, after: list[AfterOutcome]) -> JobContext:
        kind = self.service.registry.get(job.kind) if job.kind in self.service.registry else None
        return JobContext(
            job,
            run_db=self.run_db,
            add_event=self.queue.add_event,
            stage_timeouts=self._limits(job.kind)[1] if kind is not None else {},
            after_outcome=after,
            hold_events=kind is not None and kind.hold_events,
        )

    async def _write_held(self, ctx: JobContext) -> None:
        """Before a failure's outcome: the events the attempt held, in their order."""
        held = ctx.take_held()
        if held:
            await self.run_db(self.queue.add_events, ctx.job.id, held)

    def _limits(self, kind: str) -> tuple[float, Mapping[str, float]]:
        """A kind's time limit and stage limits, worked out once per worker."""
        found = self._kind_limits.get(kind)
        if found is None:
            found = (self.service.timeout(kind, None), self.service.stage_timeouts(kind))
            self._kind_limits[kind] = found
        return found

    async def _execute(self, job: Job, ctx: JobContext) -> None:
        kind = self.service.registry.get(job.kind)
        payload = kind.parse(job.payload)
        kind_limit, _ = self._limits(job.kind)
        limit = kind_limit if job.timeout_seconds is None else job.timeout_seconds
        try:
            async with asyncio.timeout(limit):
                await kind.handler(ctx, payload)
        except TimeoutError as exc:
            await ctx.event(JobEvent.JOB_TIMED_OUT, seconds=limit)
            raise TikrelayError(ErrorKind.TIMEOUT, f"job took longer than {limit} s") from exc

    async def _finish(self, outcome: asyncio.Future[None] | asyncio.Task[None]) -> None:
        # The outcome write must not be cut short by a shutdown: shield it and wait it out.
        try:
            await asyncio.shield(outcome)
        except asyncio.CancelledError:
            await outcome
            raise

    async def _complete(self, job: Job, ctx: JobContext) -> None:
        # Shielded like _finish; what the outcome asks for is done even when cancelled.
        outcome = self.completer.submit(job.id, ctx.commit_hooks, ctx.take_held())
        try:
            done = await asyncio.shield(outcome)
        except asyncio.CancelledError:
            await self._completed(job, await outcome)
            raise
        await self._completed(job, done)

    async def _completed(self, job: Job, done: Outcome) -> None:
        if isinstance(done, Exception):  # a hook failed: the completion rolled back with it
            await self._finish(self._failed(job, done))
        elif not done:
            log.warning("lease_lost", job_id=job.id, worker_id=self.worker_id)

    def _defer(self, job: Job, deferred: JobDeferredError) -> asyncio.Future[None]:
        reason = redact_text(deferred.reason)
        return asyncio.ensure_future(
            self.run_db(
                self.queue.defer, job.id, self.worker_id, run_at=deferred.run_at, reason=reason
            )
        )

    def _failed(self, job: Job, exc: BaseException) -> asyncio.Future[None]:
        if isinstance(exc, InvalidJobError):  # unknown kind or payload no longer valid
            error = TikrelayError(ErrorKind.UNSUPPORTED, str(exc))
            return self._fail(job, error, retry=False)
        error = classify(exc)
        if error.kind is ErrorKind.UNKNOWN:
            log.error("handler_crashed", job_id=job.id, exc_info=exc)
        return self._fail(job, error, retry=True)

    def _fail(self, job: Job, error: TikrelayError, *, retry: bool) -> asyncio.Future[None]:
        now = self.queue.clock()
        decision = decide_retry(
            error.kind,
            job.attempts,
            job.max_attempts,
            error.retry_after,
            now,
            self.rng,
            retryable=error.retryable if retry else False,
            policy=self.service.backoff(),
        )
        # Error texts reach the database and the dashboard: never with a token or password in them.
        message = redact_text(error.message)
        facts: EventData = {"error_kind": error.kind.value, "message": message[:500]}
        if decision.run_at is not None:
            scheduled: EventData = {
                **facts,
                "attempt": job.attempts,
                "run_at": decision.run_at.isoformat(),
                # The wait as decided: the event is written a moment later, on the database's
                # thread, so its own time cannot give it back.
                "wait_seconds": round((decision.run_at - now).total_seconds(), 3),
                "reason": decision.reason,
            }
            return asyncio.ensure_future(
                self.run_db(
                    self.queue.retry_later,
                    job.id,
                    self.worker_id,
                    run_at=decision.run_at,
                    error_kind=error.kind.value,
                    message=message,
                    events=[(JobEvent.RETRY_SCHEDULED, scheduled)],
                )
            )
        why = (
            JobEvent.MAX_RETRIES_REACHED
            if decision.reason == "max-attempts"
            else JobEvent.RETRY_SKIPPED
        )
        events = [(JobEvent.JOB_FAILED, facts), (why, {"attempts": job.attempts})]
        return asyncio.ensure_future(
            self.run_db(
                self.queue.fail,
                job.id,
                self.worker_id,
                error_kind=error.kind.value,
                message=message,
                events=events,
            )
        )
