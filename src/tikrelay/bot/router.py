"""An update's way through python-telegram-bot's ``Application``: one handler per concern, each
only replying or enqueuing (the work happens in jobs)."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from telegram import Bot, CallbackQuery, InlineQuery, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from tikrelay.bot import texts
from tikrelay.bot.model import QUALITY_BUTTON, SOUND_BUTTON, RequestPayload
from tikrelay.sources.refs import is_short_link, parse_post_link
from tikrelay.sources.web import site_extractor

#: Anything like a URL, of any scheme: an ftp:// or file:// link gets a polite refusal.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]{0,15}://\S+", re.IGNORECASE)
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class Desk(Protocol):
    """What handlers may do: answer in a chat, and hand a request over as a job."""

    async def reply(self, message: Message, text: str) -> None: ...

    async def say(self, message: Message, template: str, **values: object) -> None: ...

    async def started(self, message: Message) -> None: ...

    async def request(self, message: Message, payload: RequestPayload) -> None: ...

    async def choose_language(self, message: Message, args: list[str]) -> None: ...

    async def archive_switch(self, message: Message, on: bool) -> None: ...

    async def settings(self, message: Message, args: list[str]) -> None: ...

    async def subscribe(self, message: Message, args: list[str]) -> None: ...

    async def unsubscribe(self, message: Message, args: list[str]) -> None: ...

    async def list_subscriptions(self, message: Message, args: list[str]) -> None: ...

    async def admin(self, command: str, message: Message, args: list[str]) -> None: ...

    async def inline(self, query: InlineQuery) -> None: ...

    async def sound_button(self, query: CallbackQuery) -> None: ...

    async def quality_button(self, query: CallbackQuery) -> None: ...


#: The admin commands (``telegram.admins`` only).
ADMIN_COMMANDS = (
    "health",
    "queue",
    "job",
    "retry",
    "cancel",
    "pause",
    "resume",
    "maintenance",
    "stats",
    "broadcast",
    "debug",
)


def build_router(bot: Bot, desk: Desk) -> Application:  # type: ignore[type-arg]
    """The Application that routes updates (without an updater: the intake fetches them)."""
    app = Application.builder().bot(bot).updater(None).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await desk.started(update.effective_message)
            await desk.say(update.effective_message, texts.START)

    async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await desk.say(update.effective_message, texts.HELP)

    async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        links = links_in(message)
        # In a private chat the first link, whatever it is (refused politely if need be); in a
        # group only a link that is surely media, so that talk about a web page stays talk.
        supported = links[:1] if private else [link for link in links if is_media_link(link)][:1]
        if supported:
            user = message.from_user
            await desk.request(
                message,
                RequestPayload(
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    topic_id=message.message_thread_id if message.is_topic_message else None,
                    user_id=user.id if user else None,
                    url=supported[0],
                ),
            )
        elif private:  # in a group, the bot stays quiet about what is not for it
            await desk.say(message, texts.NO_LINK)

    async def other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.chat.type == ChatType.PRIVATE:
            await desk.say(message, texts.NO_LINK)

    def command(action: Callable[[Message, list[str]], Awaitable[None]]) -> Callback:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.effective_message is not None:
                await action(update.effective_message, list(context.args or []))

        return handle

    async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.inline_query is not None:
            await desk.inline(update.inline_query)

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await desk.sound_button(update.callback_query)

    async def quality(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await desk.quality_button(update.callback_query)

    app.add_handler(InlineQueryHandler(inline))
    app.add_handler(CallbackQueryHandler(button, pattern=f"^{SOUND_BUTTON}"))
    app.add_handler(CallbackQueryHandler(quality, pattern=f"^{QUALITY_BUTTON}"))
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_))
    app.add_handler(CommandHandler("lang", command(desk.choose_language)))
    app.add_handler(CommandHandler("settings", command(desk.settings)))
    for name, on in (("archive_on", True), ("archive_off", False)):

        async def archive(message: Message, args: list[str], on: bool = on) -> None:
            await desk.archive_switch(message, on)

        app.add_handler(CommandHandler(name, command(archive)))
    app.add_handler(CommandHandler("subscribe", command(desk.subscribe)))
    app.add_handler(CommandHandler("unsubscribe", command(desk.unsubscribe)))
    app.add_handler(CommandHandler("subscriptions", command(desk.list_subscriptions)))
    for name in ADMIN_COMMANDS:
        app.add_handler(CommandHandler(name, command(functools.partial(desk.admin, name))))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
    app.add_handler(MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, other))
    return app


def links_in(message: Message) -> list[str]:
    """The message's links in order: its URL entities, text links, else anything like a URL."""
    found = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
    links = [
        entity.url if entity.type == MessageEntity.TEXT_LINK and entity.url else text
        for entity, text in sorted(found.items(), key=lambda item: item[0].offset)
    ]
    if not links and message.text:
        links = links_in_text(message.text)
    return [link.strip() for link in links]


def links_in_text(text: str) -> list[str]:
    """Anything like a URL in plain text (an inline query has no entities)."""
    return [link.rstrip(".,;:!?)") for link in _URL.findall(text)]


def is_media_link(link: str) -> bool:
    """A TikTok post or share link, a link one of yt-dlp's site extractors takes (not its
    generic one, which would read any page), or a link to a media file by its extension."""
    return bool(parse_post_link(link) or is_short_link(link) or site_extractor(link))
