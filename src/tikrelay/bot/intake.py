"""Taking updates from Telegram, durably: each update becomes a ``bot_update`` job, recorded in
``bot_updates`` in the same transaction (``store_updates``, the one way an update is kept),
before Telegram is told it arrived: by the next getUpdates' offset here, by the HTTP 200 of a
webhook (``bot/webhook.py``). A crash before that transaction leaves the update with Telegram,
which sends it again; a crash after it leaves the job in the queue. An update is never taken
twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import structlog
from telegram.error import TelegramError

from tikrelay.bot.model import BOT_UPDATE, UpdatePayload
from tikrelay.destinations.telegram_redaction import REDACTOR
from tikrelay.domain.errors import TikrelayError, classify
from tikrelay.engine.service import JobService
from tikrelay.store import bot_sql

if TYPE_CHECKING:
    from telegram import Bot, Update

    from tikrelay.destinations.telegram import TelegramSender

T = TypeVar("T")
log = structlog.get_logger("tikrelay.bot")

#: getUpdates waits this long for an update before answering with none.
LONG_POLL_SECONDS = 20
#: After Telegram could not be reached, the next try waits this long (doubling up to a minute).
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0


class Intake:
    """Long polling: getUpdates, each batch stored before the next call confirms it."""

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
        webhook_gone = False
        while not stop.is_set():
            try:
                if not webhook_gone:
                    await unless_stopped(delete_webhook(self.sender.bot), stop)
                    webhook_gone = True
                polled = self.sender.updates(offset, long_poll=LONG_POLL_SECONDS)
                updates = await unless_stopped(polled, stop) or []
            except TikrelayError as exc:
                log.warning("bot_updates_failed", kind=str(exc.kind), error=exc.message)
                pause = await backoff(stop, pause, exc)
                continue
            pause = RETRY_SECONDS
            if updates:
                await asyncio.to_thread(store_updates, self.service, updates)
                offset = max(update.update_id for update in updates) + 1


def store_updates(service: JobService, updates: Sequence[Update]) -> int:
    """One transaction: a job per update not taken before, and its row; how many were new.
    An update_id taken before (Telegram sending it again) makes nothing."""
    queue = service.queue
    new = 0
    with queue.transaction() as conn:
        for update in updates:
            if bot_sql.is_taken(conn, update.update_id):
                continue
            payload = UpdatePayload(update=update.to_dict())
            made = service.enqueue(
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
            new += 1
    log.info("bot_updates_taken", count=len(updates), new=new)
    return new


async def delete_webhook(bot: Bot) -> None:
    """getUpdates answers 409 while a webhook is set: delete it, keeping the updates that wait
    for it (getUpdates hands them out then)."""
    info = await telegram_call(bot.get_webhook_info)
    if not info.url:
        return
    await telegram_call(lambda: bot.delete_webhook(drop_pending_updates=False))
    # The host only: a webhook's path may be a secret of whoever set it.
    host = urlsplit(info.url).hostname
    log.warning("bot_webhook_deleted", host=host, pending=info.pending_update_count)


async def telegram_call(request: Callable[[], Awaitable[T]]) -> T:
    """``request``, a Telegram refusal raised as the taxonomy's error (the token scrubbed)."""
    try:
        return await request()
    except TelegramError as exc:
        failure = exc
    # Raised outside the except block, so that nothing chains the request URL (the token).
    raise classify(failure) from REDACTOR.scrubbed(failure)


async def backoff(stop: asyncio.Event, pause: float, exc: TikrelayError) -> float:
    """Wait ``pause`` (Telegram's retry-after when it gave one) or until ``stop``; the next
    pause, doubled up to a minute."""
    wait = exc.retry_after if exc.retry_after else pause
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), wait)
    return min(pause * 2, MAX_RETRY_SECONDS)


def _conversation(update: Update) -> str:
    chat, user = update.effective_chat, update.effective_user
    if chat is not None:
        return f"bot-chat:{chat.id}"
    return f"bot-user:{user.id}" if user is not None else "bot"


async def unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None once ``stop`` is set (``work`` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None
