"""The bot's update queue (getUpdates with long polling, or a webhook's deliveries) and people
acting in the world."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from typing import Any

from tikrelay.sandbox.telegram.errors import ApiError
from tikrelay.sandbox.telegram.world import Chat, User, World, post_message, resolve_thread

CONFLICT = ApiError(
    409,
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)
WEBHOOK_ACTIVE = ApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)


class UpdateQueue:
    """Updates wait here until a getUpdates call confirms them with a higher ``offset`` (or a
    webhook took them: ``confirm``).

    People may be injected from another thread; the waiting poll is woken on its own loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: list[dict[str, Any]] = []
        self._ids = itertools.count(100_000_001)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._generation = 0
        self.parked = asyncio.Event()
        self._arrived: asyncio.Event | None = None
        #: Set while a webhook is set: getUpdates is refused with 409 then.
        self.webhook_active = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self._arrived = asyncio.Event()
        # Set while a poll waits for updates: lets tests line up a competing poll without sleeps.
        self.parked = asyncio.Event()

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            update = {"update_id": next(self._ids), kind: payload}
            self._updates.append(update)
        self.wake()
        return update

    def wake(self) -> None:
        """Wake whoever waits for updates: a poll (which ends with 409 once a webhook is set)
        and the webhook's deliveries."""
        loop, event, arrived = self._loop, self._event, self._arrived
        if loop is None or event is None or arrived is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for waiting in (event, arrived):
            if running is loop:
                waiting.set()
            else:
                loop.call_soon_threadsafe(waiting.set)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    def confirm(self, update_id: int) -> None:
        """The update was taken (its webhook answered 2xx): it is not sent again."""
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] != update_id]

    def drop(self) -> None:
        """drop_pending_updates: every waiting update is gone."""
        with self._lock:
            self._updates = []

    async def first(self) -> dict[str, Any]:
        """The oldest waiting update, waiting for one to arrive."""
        arrived = self._arrived
        if arrived is None:
            raise RuntimeError("the update queue is not bound to a loop")
        while True:
            arrived.clear()
            with self._lock:
                if self._updates:
                    return self._updates[0]
            await arrived.wait()

    def _take(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return self._updates[:limit]

    async def get(self, offset: int | None, limit: int, wait: float) -> list[dict[str, Any]]:
        """Unconfirmed updates; wait up to ``wait`` seconds for the first one to arrive."""
        event = self._event
        if event is None:
            raise RuntimeError("the update queue is not bound to a loop")
        if self.webhook_active:
            raise WEBHOOK_ACTIVE
        self._generation += 1
        generation = self._generation
        event.set()  # a poll that is still waiting loses: Telegram answers it with 409
        await asyncio.sleep(0)
        deadline = time.monotonic() + wait
        while True:
            event.clear()
            if self.webhook_active:
                raise WEBHOOK_ACTIVE
            if generation != self._generation:
                raise CONFLICT
            found = self._take(offset, limit)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            self.parked.set()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                self.parked.clear()


class People:
    """People who write to the bot, press its buttons and query it inline."""

    def __init__(self, world: World, queue: UpdateQueue) -> None:
        self.world = world
        self.queue = queue
        self.open_callbacks: set[str] = set()
        self.open_inline: set[str] = set()
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self._query_ids = itertools.count(4_242_000_001)

    def _sender(self, chat: Chat, user_id: int | None) -> User:
        if user_id is not None:
            return self.world.user(user_id)
        if chat.person is not None:
            return chat.person
        return self.world.default_user()

    def message(
        self,
        chat_id: int | str,
        text: str,
        *,
        user_id: int | None = None,
        thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person's text message; returns the update as the bot will receive it."""
        chat = self.world.chat(chat_id)
        sender = self._sender(chat, user_id)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        with self.world.lock:
            chat.members.setdefault(sender.id, "member")
        message = post_message(self.world, chat, sender, resolve_thread(chat, thread_id), content)
        return self.queue.push("channel_post" if chat.kind == "channel" else "message", message)

    def command(
        self,
        chat_id: int | str,
        command: str,
        args: str = "",
        *,
        user_id: int | None = None,
        thread_id: int | None = None,
        mention: bool = False,
    ) -> dict[str, Any]:
        """``/command[@bot] args`` with its ``bot_command`` entity, as a person types it."""
        head = f"/{command.lstrip('/')}"
        if mention:
            head += f"@{self.world.bot.username}"
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": len(head)}
        return self.message(chat_id, text, user_id=user_id, thread_id=thread_id, entities=[entity])

    def press_button(
        self, chat_id: int | str, message_id: int, data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """A callback query from an inline keyboard button under a message in the chat."""
        chat = self.world.chat(chat_id)
        with self.world.lock:
            message = chat.messages.get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat.id}")
            snapshot = dict(message)
        query_id = str(next(self._query_ids))
        self.open_callbacks.add(query_id)
        payload = {
            "id": query_id,
            "from": self._sender(chat, user_id).to_json(),
            "message": snapshot,
            # Telegram's chat_instance is an opaque, stable per-chat string.
            "chat_instance": str(abs(chat.id) * 7919 % 10**18),
            "data": data,
        }
        return self.queue.push("callback_query", payload)

    def inline_query(
        self, query: str, *, user_id: int | None = None, offset: str = "", chat_type: str = "sender"
    ) -> dict[str, Any]:
        user = self.world.user(user_id) if user_id is not None else self.world.default_user()
        query_id = str(next(self._query_ids))
        self.open_inline.add(query_id)
        payload = {
            "id": query_id,
            "from": user.to_json(),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        return self.queue.push("inline_query", payload)
