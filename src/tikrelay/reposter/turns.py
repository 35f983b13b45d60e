"""Posts reach a chat in the order they were published, one send at a time.

Deliver jobs download in parallel, so a newer post can be ready before an older one. A job joins
its chat when it starts and takes its turn before sending: the turn comes when no other job holds
the chat and no older job (a lower id: jobs are enqueued oldest post first) for the same chat is
still running in this process. It holds the chat until it leaves. A job waiting for a retry is not
running, so it never holds the others up.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Engine

from tikrelay.store import locks


class ChatTurns:
    def __init__(self) -> None:
        self._active: dict[str, set[int]] = defaultdict(set)
        self._holder: dict[str, int] = {}
        self._changed = asyncio.Condition()

    async def join(self, chat: str, job_id: int) -> None:
        """The job runs and will send to ``chat``: younger jobs wait for it."""
        async with self._changed:
            self._active[chat].add(job_id)

    async def leave(self, chat: str, job_id: int) -> None:
        async with self._changed:
            self._active[chat].discard(job_id)
            if not self._active[chat]:
                del self._active[chat]
            if self._holder.get(chat) == job_id:
                del self._holder[chat]
            self._changed.notify_all()

    def _may_send(self, chat: str, job_id: int) -> bool:
        return chat not in self._holder and min(self._active[chat]) == job_id

    @asynccontextmanager
    async def turn(self, chat: str, job_id: int) -> AsyncIterator[None]:
        """Wait for the chat to be free and no older job of it to be running; hold it."""
        async with self._changed:
            self._active[chat].add(job_id)
            await self._changed.wait_for(lambda: self._may_send(chat, job_id))
            self._holder[chat] = job_id
        yield


class Chats:
    """A process's hold on its destination chats: the turns of its own jobs, and a named lock
    shared with other processes (several workers, a cron run beside the service), so that sends
    to one chat stay one at a time, which reconciliation relies on."""

    def __init__(self, engine: Engine, lock_folder: Path) -> None:
        self.turns = ChatTurns()
        self._engine = engine
        self._lock_folder = lock_folder

    @asynccontextmanager
    async def lock(self, chat: str) -> AsyncIterator[None]:
        held = locks.held(self._engine, f"chat:{chat}", self._lock_folder)
        loop = asyncio.get_running_loop()
        taking = loop.run_in_executor(None, held.__enter__)

        def give_back(took: asyncio.Future[None]) -> None:
            if not took.cancelled() and took.exception() is None:
                loop.run_in_executor(None, held.__exit__, None, None, None)

        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:
            # Cancelled while waiting (a job timeout, a shutdown): the thread still gets the
            # lock in the end, and must hand it back then, or the chat stays locked.
            taking.add_done_callback(give_back)
            raise
        try:
            yield
        finally:
            await asyncio.to_thread(held.__exit__, None, None, None)
