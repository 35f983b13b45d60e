"""Taking updates from Telegram, durably: each update becomes a ``bot_update`` job, recorded in
``bot_updates`` in the same transaction, before the next getUpdates (whose offset confirms it to
Telegram) is asked. A crash before that transaction leaves the update with Telegram, which sends
it again; a crash after it leaves the job in the queue. An update is never taken twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from tikrelay.bot.model import BOT_UPDATE, UpdatePayload
from tikrelay.domain.errors import TikrelayError
from tikrelay.engine.service import JobService
from tikrelay.store import bot_sql

if TYPE_CHECKING:
    from telegram import Update

    from tikrelay.destinations.telegram import TelegramSender

log = structlog.get_logger("tikrelay.bot")

#: getUpdates waits this long for an update before answering with none.
LONG_POLL_SECONDS = 20
#: After Telegram could not be reached, the next try waits this long (doubling up to a minute).
RETRY_SECONDS = 1.0


class Intake:
    def __init__(self, sender: TelegramSender, service: JobService) -> None:
        self.sender = sender
        self.service = service

    async def run(self, stop: asyncio.Event) -> None:
        """Take updates until ``stop`` is set."""
        queue = self.service.queue

        def last() -> int | None:
            with queue.engine.connect() as conn:
                return bot_sql.last_update_id(conn)

        newest = await asyncio.to_thread(last)
        offset = None if newest is None else newest + 1
        pause = RETRY_SECONDS
        while not stop.is_set():
            try:
                updates = await _unless_stopped(
                    self.sender.updates(offset, long_poll=LONG_POLL_SECONDS), stop
                )
            except TikrelayError as exc:
                log.warning("bot_updates_failed", kind=str(exc.kind), error=exc.message)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, 60.0)
                continue
            pause = RETRY_SECONDS
            if updates:
                await asyncio.to_thread(self.take, updates)
                offset = max(update.update_id for update in updates) + 1

    def take(self, updates: list[Update]) -> None:
        """One transaction: a job per update not taken before, and its row."""
        queue = self.service.queue
        with queue.transaction() as conn:
            for update in updates:
                if bot_sql.is_taken(conn, update.update_id):
                    continue
                payload = UpdatePayload(update=update.to_dict())
                made = self.service.enqueue(
                    BOT_UPDATE,
                    payload,
                    dedupe_key=f"update:{update.update_id}",
                    # One at a time per chat, in the order they came: replies keep that order.
                    concurrency_key=_conversation(update),
                    conn=conn,
                )
                user, chat = update.effective_user, update.effective_chat
                bot_sql.take_update(
                    conn,
                    update.update_id,
                    made.job.id,
                    queue.clock(),
                    user_id=user.id if user else None,
                    chat_id=chat.id if chat else None,
                )
        log.info("bot_updates_taken", count=len(updates))


def _conversation(update: Update) -> str:
    chat, user = update.effective_chat, update.effective_user
    if chat is not None:
        return f"bot-chat:{chat.id}"
    return f"bot-user:{user.id}" if user is not None else "bot"


async def _unless_stopped(
    work: Coroutine[Any, Any, list[Update]], stop: asyncio.Event
) -> list[Update]:
    """``work``'s result, or an empty list once ``stop`` is set (``work`` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        result: list[Update] = task.result()
        return result
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return []
