"""What a handler gets besides its payload: the job, events, stages and the completing
transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.jobs import Job, JobEvent
from tikrelay.store import CommitHook

#: Runs a blocking store call off the event loop (on the worker's database thread).
RunDb = Callable[..., Awaitable[Any]]
#: Called once the attempt's outcome is written (completed, retry scheduled, failed, deferred).
AfterOutcome = Callable[[], Awaitable[None]]


class JobContext:
    """One attempt of one job."""

    def __init__(
        self,
        job: Job,
        *,
        run_db: RunDb,
        add_event: Callable[[int, str, Mapping[str, Any]], None],
        stage_timeouts: Mapping[str, float],
        after_outcome: list[AfterOutcome] | None = None,
        hold_events: bool = False,
    ) -> None:
        self.job = job
        #: Events not written yet (``hold_events``): they go with the outcome.
        self.held: list[tuple[str, dict[str, Any]]] | None = [] if hold_events else None
        self._run_db = run_db
        self._add_event = add_event
        self._stage_timeouts = dict(stage_timeouts)
        self.commit_hooks: list[CommitHook] = []
        self._after_outcome = after_outcome if after_outcome is not None else []

    async def db(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store call on the worker's database thread."""
        return await self._run_db(func, *args, **kwargs)

    @property
    def attempt(self) -> int:
        return self.job.attempts

    def on_complete(self, hook: CommitHook) -> None:
        """Write ``hook(connection)`` in the transaction that marks the job COMPLETED: both
        happen or neither does (a Delivery row, follow-up jobs via ``queue.enqueue(…, conn)``)."""
        self.commit_hooks.append(hook)

    def after_outcome(self, callback: AfterOutcome) -> None:
        """Call ``callback()`` once this attempt's outcome is in the database, whatever it is
        (also when the worker gives the job back on shutdown): e.g. to let the next job of a
        chat go only once it can see whether this one will be retried."""
        self._after_outcome.append(callback)

    async def event(self, type_: str, **data: Any) -> None:
        """Add a timeline row (and a log line) now, in its own transaction; for a kind that
        holds its events, with the outcome."""
        if self.held is not None:
            self.held.append((type_, data))
            return
        await self._run_db(self._add_event, self.job.id, type_, data)

    def take_held(self) -> list[tuple[str, dict[str, Any]]]:
        """The held events, which the caller writes now."""
        held = list(self.held or [])
        if self.held is not None:
            self.held.clear()
        return held

    @asynccontextmanager
    async def stage(self, name: str, *, seconds: float | None = None) -> AsyncIterator[None]:
        """``async with ctx.stage("download"):`` times the block out (configured
        ``stage_timeouts`` or ``seconds``) and writes STAGE_STARTED / FINISHED / FAILED."""
        limit = seconds if seconds is not None else self._stage_timeouts.get(name)
        await self.event(JobEvent.STAGE_STARTED, stage=name)
        started = time.monotonic()
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as exc:
            await self.event(JobEvent.STAGE_FAILED, stage=name, error_kind=ErrorKind.TIMEOUT)
            raise TikrelayError(
                ErrorKind.TIMEOUT, f"stage {name} took longer than {limit} s"
            ) from exc
        except Exception as exc:
            await self.event(JobEvent.STAGE_FAILED, stage=name, error_kind=classify(exc).kind)
            raise
        seconds = round(time.monotonic() - started, 3)
        await self.event(JobEvent.STAGE_FINISHED, stage=name, seconds=seconds)
