"""What a reposter job records, bound to that job: its reads and writes of the reposter's tables
(each in a transaction of its own on the job's database thread), its events, and what is written
in the transaction that completes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from tikrelay.engine.context import JobContext
from tikrelay.store import JobQueue, tallies_sql

T = TypeVar("T")


class Ledger:
    def __init__(self, ctx: JobContext, queue: JobQueue) -> None:
        self.ctx = ctx
        self._queue = queue

    @property
    def job_id(self) -> int:
        return self.ctx.job.id

    def now(self) -> datetime:
        return self._queue.clock()

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(conn, *args, **kwargs)`` (a function of ``store.relay``) in its own
        transaction."""

        def run() -> T:
            with self._queue.transaction() as conn:
                return func(conn, *args, **kwargs)

        result: T = await self.ctx.db(run)
        return result

    async def event(self, type_: str, **data: Any) -> None:
        """A line on the job's timeline, now."""
        await self.ctx.event(type_, **data)

    async def count_bytes(self, name: str, label: str, amount: int) -> None:
        """Bytes this job moved (``tallies_sql.BYTES_DOWNLOADED`` or ``BYTES_UPLOADED``), added
        to today's tally now: they were moved whatever the job's outcome."""
        if amount > 0:
            await self.run(tallies_sql.add, name, label, amount, self.now())

    def on_complete(self, write: Callable[[Connection], None]) -> None:
        """``write(conn)`` in the transaction that marks the job COMPLETED."""
        self.ctx.on_complete(write)
