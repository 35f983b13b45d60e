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
