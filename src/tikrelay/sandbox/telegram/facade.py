"""What a test (or the control API) does with a running Telegram emulator: build its world, plan
faults, act as people, and look at what the bot did. ``TelegramEmulator`` adds serving it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tikrelay.sandbox.telegram.context import Env
from tikrelay.sandbox.telegram.flood import FloodLimiter, FloodLimits
from tikrelay.sandbox.telegram.methods_chats import add_topic
from tikrelay.sandbox.telegram.webhook import Delivery
from tikrelay.sandbox.telegram.world import (
    TOPIC_COLORS,
    CallRecord,
    Chat,
    ChatKind,
    MemberStatus,
    Topic,
    User,
)


class EmulatorFacade:
    token: str
    env: Env
    _url: str | None
    _clock: Callable[[], float]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; PTB takes ``base_url=f"{url}/bot"``."""
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    # -- the world -------------------------------------------------------------------------

    @property
    def bot(self) -> User:
        return self.env.world.bot

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> User:
        """A person; ``language_code`` is their Telegram app's language (None: not sent)."""
        return self.env.world.add_user(
            first_name, username=username, user_id=user_id, language_code=language_code
        )

    def add_chat(
        self,
        kind: ChatKind,
        *,
        title: str | None = None,
        username: str | None = None,
        forum: bool = False,
        bot_status: MemberStatus | None = None,
        rights: dict[str, bool] | None = None,
        person: User | None = None,
        chat_id: int | None = None,
    ) -> Chat:
        """A chat; the bot is an administrator with every right unless told otherwise.

        ``bot_status`` "left"/"kicked" makes sends fail with 403 ("kicked" in a private chat
        means the person blocked the bot); ``rights`` switches single admin rights (or, with
        "restricted", permissions such as ``can_send_videos``) off.
        """
        options: dict[str, Any] = {"title": title, "username": username, "forum": forum}
        options.update(rights=dict(rights or {}), chat_id=chat_id)
        if bot_status is not None:
            options["bot_status"] = bot_status
        if person is not None:
            options["person"] = person
        return self.env.world.add_chat(kind, **options)

    def add_topic(self, chat_id: int, name: str, icon_color: int = TOPIC_COLORS[0]) -> Topic:
        chat = self.env.world.chat(chat_id)
        if not chat.forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        return add_topic(self.env.world, chat, name, icon_color)

    def set_bot_membership(
        self, chat_id: int, status: MemberStatus, rights: dict[str, bool] | None = None
    ) -> None:
        chat = self.env.world.chat(chat_id)
        with self.env.world.lock:
            chat.bot_status = status
            chat.rights = dict(rights or {})

    def chat(self, chat_id: int | str) -> Chat:
        return self.env.world.chat(chat_id)

    # -- faults and flood limits -----------------------------------------------------------

    def fail_call(
        self,
        method: str,
        *,
        nth: int = 1,
        status: int = 400,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Refuse the ``nth`` call of ``method`` (counted from now) with this status."""
        if description is None:
            retry = (parameters or {}).get("retry_after")
            description = (
                f"Too Many Requests: retry after {retry}"
                if status == 429 and retry
                else "Bad Request: injected failure"
            )
        self.env.faults.fail_call(
            method, nth=nth, status=status, description=description, parameters=parameters
        )

    def fail_album(self, *, nth: int = 1, delivered: int = 1, retry_after: int = 8) -> None:
        """Deliver only ``delivered`` items of the ``nth`` album, then refuse the rest with 400."""
        self.env.faults.fail_album(nth=nth, delivered=delivered, retry_after=retry_after)

    def delay_call(self, method: str, *, seconds: float, nth: int = 1) -> None:
        """Answer the ``nth`` call of ``method`` only ``seconds`` after it was carried out."""
        self.env.faults.delay_call(method, nth=nth, seconds=seconds)

    def clear_faults(self) -> None:
        self.env.faults.clear()

    def set_flood_limits(self, limits: bool | FloodLimits) -> None:
        """Switch Telegram's flood limits on (True or custom numbers) or off (False)."""
        if limits is False:
            self.env.flood = None
        else:
            chosen = limits if isinstance(limits, FloodLimits) else FloodLimits()
            self.env.flood = FloodLimiter(chosen, self._clock)

    # -- the webhook -------------------------------------------------------------------------

    @property
    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo answers now (``url`` is "" while no webhook is set)."""
        return self.env.webhook.info()

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every POST of an update to a webhook, oldest first, with the answer's status."""
        return self.env.webhook.deliveries

    def lose_webhook_answer(self, nth: int = 1) -> None:
        """Take the ``nth`` 2xx answer from the webhook (counted from now) as never received:
        that update is posted again, as Telegram re-sends one whose answer did not come."""
        self.env.webhook.lose_answer(nth)

    # -- people ------------------------------------------------------------------------------

    def user_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        user_id: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A person writes ``text`` in the chat; returns the update the bot will receive."""
        return self.env.people.message(chat_id, text, user_id=user_id, thread_id=thread_id)

    def user_command(
        self,
        chat_id: int | str,
        command: str,
        args: str = "",
        *,
        user_id: int | None = None,
        thread_id: int | None = None,
        mention: bool = False,
    ) -> dict[str, Any]:
        return self.env.people.command(
            chat_id, command, args, user_id=user_id, thread_id=thread_id, mention=mention
        )

    def press_button(
        self, chat_id: int | str, message_id: int, data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        return self.env.people.press_button(chat_id, message_id, data, user_id=user_id)

    def inline_query(
        self, query: str, *, user_id: int | None = None, offset: str = ""
    ) -> dict[str, Any]:
        return self.env.people.inline_query(query, user_id=user_id, offset=offset)

    # -- what happened -----------------------------------------------------------------------

    @property
    def record(self) -> list[CallRecord]:
        """Every call answered so far, accepted or refused, oldest first."""
        with self.env.world.lock:
            return list(self.env.world.record)

    def calls(self, method: str, *, ok: bool | None = None) -> list[CallRecord]:
        return [r for r in self.record if r.method == method and (ok is None or r.ok == ok)]

    def messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages now in the chat (deleted ones gone, edits applied), oldest first."""
        chat = self.env.world.chat(chat_id)
        with self.env.world.lock:
            return copy.deepcopy(list(chat.messages.values()))

    def file_path(self, file_id: str) -> Path:
        """Where the emulator keeps the file behind ``file_id``."""
        stored = self.env.files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.path

    @property
    def callback_answers(self) -> dict[str, dict[str, Any]]:
        return dict(self.env.people.callback_answers)

    @property
    def inline_answers(self) -> dict[str, dict[str, Any]]:
        return dict(self.env.people.inline_answers)

    @property
    def commands(self) -> list[dict[str, Any]]:
        return list(self.env.world.commands)
