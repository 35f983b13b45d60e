"""Group commit for completions: jobs that finish while one commit is in flight share the next,
so a busy worker pays one transaction (and one fsync) for many jobs, an idle one no delay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tikrelay.engine.context import RunDb
from tikrelay.store import CommitHook, Completion, HeldEvent, JobQueue

MAX_BATCH = 64
Outcome = bool | Exception


class Completer:
    def __init__(self, queue: JobQueue, worker_id: str, run_db: RunDb) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.run_db = run_db
        self._pending: list[tuple[Completion, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(
        self, job_id: int, hooks: Sequence[CommitHook], held: Sequence[HeldEvent] = ()
    ) -> asyncio.Future[Outcome]:
        """Resolves to True: completed (``held`` events and hooks written with it). False: the
        lease was lost, nothing written. An exception: a hook failed and its job's savepoint
        rolled back."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((Completion(job_id, hooks, held), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                results = await self.run_db(
                    self.queue.complete_many, self.worker_id, [c for c, _ in batch]
                )
            except Exception as exc:  # the whole commit failed: every job in it sees why
                results = {c.job_id: exc for c, _ in batch}
            for completion, future in batch:
                if not future.done():
                    future.set_result(results[completion.job_id])
