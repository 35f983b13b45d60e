"""``/subscribe``, ``/unsubscribe`` and ``/subscriptions``: a chat's admins route a creator's new
posts to it. These are the reposter's sources in the catalog (origin ``bot``); those of the
config file are shown, never changed, here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Message
from telegram.constants import ChatType

from tikrelay.bot import texts
from tikrelay.destinations.telegram import TelegramSender
from tikrelay.domain.errors import TikrelayError
from tikrelay.reposter.catalog import FromFileError, InvalidEntryError, Origin
from tikrelay.runtime.app import Runtime
from tikrelay.sources.refs import parse_creator

Reply = Callable[[Message, str], Awaitable[None]]
Say = Callable[..., Awaitable[None]]  # (message, template, **values): in the writer's language
Words = Callable[..., Awaitable[str]]  # the same, returned


def destination_name(chat_id: int | str, topic_id: int | None) -> str:
    """The catalog's name for a chat (and topic) subscribed from Telegram."""
    return f"chat:{chat_id}" + (f":{topic_id}" if topic_id is not None else "")


class Subscriptions:
    def __init__(self, runtime: Runtime, sender: TelegramSender, say: Say, words: Words) -> None:
        self.runtime = runtime
        self.sender = sender
        self.say = say
        self.words = words

    async def subscribe(self, message: Message, args: list[str]) -> None:
        await self._change(message, args, subscribe=True)

    async def unsubscribe(self, message: Message, args: list[str]) -> None:
        await self._change(message, args, subscribe=False)

    async def _change(self, message: Message, args: list[str], *, subscribe: bool) -> None:
        usage = texts.SUBSCRIBE_USAGE if subscribe else texts.UNSUBSCRIBE_USAGE
        where = self._where(message, args)
        if not args or where is None:
            private = message.chat.type == ChatType.PRIVATE
            await self.say(message, texts.NEEDS_CHANNEL if args and private else usage)
            return
        chat_id, topic_id = where
        try:
            creator = parse_creator(args[0])
        except ValueError as exc:
            await self.reply_raw(message, str(exc))
            return
        user = message.from_user
        try:
            allowed = user is not None and await self.sender.is_admin(chat_id, user.id)
        except TikrelayError:
            await self.say(message, texts.CANNOT_SEE_CHAT)
            return
        if not allowed:
            await self.say(message, texts.ONLY_ADMINS)
            return
        name = destination_name(chat_id, topic_id)
        catalog = self.runtime.catalog()
        shown = await self._shown(message, chat_id)
        try:
            if subscribe:
                _, changed = await asyncio.to_thread(
                    catalog.subscribe, creator, name, chat_id, topic_id, origin=Origin.BOT
                )
                said = texts.SUBSCRIBED if changed else texts.ALREADY_SUBSCRIBED
            else:
                changed = await asyncio.to_thread(catalog.unsubscribe, creator, name)
                said = texts.UNSUBSCRIBED if changed else texts.NOT_SUBSCRIBED
        except FromFileError:
            await self.say(message, texts.FROM_FILE, creator=creator)
            return
        except InvalidEntryError as exc:
            await self.reply_raw(message, str(exc))
            return
        if changed:
            await asyncio.to_thread(self.runtime.reload_catalog)
        await self.say(message, said, creator=creator, where=shown)

    async def subscriptions(self, message: Message, args: list[str]) -> None:
        where = self._where(message, ["", *args])
        if where is None:
            await self.say(message, texts.SUBSCRIBE_USAGE)
            return
        chat_id, topic_id = where
        catalog = self.runtime.catalog()
        destinations = await asyncio.to_thread(catalog.destination_entries)
        here = {
            entry.name
            for entry in destinations
            if entry.settings.telegram is not None
            and str(entry.settings.telegram.chat_id) == str(chat_id)
            and entry.settings.telegram.topic_id == topic_id
        }
        sources = await asyncio.to_thread(catalog.source_entries)
        lines = []
        for source in sources:
            if here & set(source.settings.to):
                marks = (
                    [await self.words(message, texts.READ_ONLY)]
                    if source.origin == Origin.FILE
                    else []
                )
                marks += [await self.words(message, texts.PAUSED)] if source.paused else []
                lines.append(" ".join([f"• {source.key.split(':', 1)[1]}", *marks]))
        shown = await self._shown(message, chat_id)
        if not lines:
            await self.say(message, texts.NO_SUBSCRIPTIONS, where=shown)
            return
        head = await self.words(message, texts.SUBSCRIPTIONS, where=shown)
        await self.reply_raw(message, "\n".join([head, *lines]))

    async def _shown(self, message: Message, chat_id: int | str) -> str:
        """Where the posts go, as the answer says it: here, or in @channel."""
        if chat_id == message.chat.id:
            return _plain(await self.words(message, texts.HERE))
        return _plain(await self.words(message, texts.IN_CHAT, chat=chat_id))

    async def reply_raw(self, message: Message, text: str) -> None:
        """A text that is no message of ``texts`` (e.g. a catalog error, a list)."""
        await self.say(message, "{text}", text=text)

    @staticmethod
    def _where(message: Message, args: list[str]) -> tuple[int | str, int | None] | None:
        """The chat (and topic) a command is about: this one, or in a private chat the channel
        named after the creator."""
        if message.chat.type != ChatType.PRIVATE:
            topic = message.message_thread_id if message.is_topic_message else None
            return message.chat.id, topic
        if len(args) < 2:
            return None
        named = args[1].strip()
        return (int(named) if named.lstrip("-").isdigit() else named), None


def _plain(text: str) -> str:
    """A piece put inside another message: without its own right-to-left mark."""
    return text.removeprefix("\u200f")
