"""A real PTB ``Application`` polling the emulator while people act through its injection API."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
)

from tests.support.telegram import (  # noqa: F401 - fixtures
    assert_clean,
    bot,
    emu,
    ptb_timedelta,
)
from tikrelay.sandbox.telegram import TelegramEmulator

STEP_TIMEOUT = 10


class Flow:
    """The bot under test: /start offers a button, the button edits the message."""

    def __init__(self) -> None:
        self.done: asyncio.Queue[str] = asyncio.Queue()
        self.updates: list[Update] = []

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.updates.append(update)
        assert update.message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Like", callback_data="v1:like")]])
        await update.message.reply_text(f"hello {context.args}", reply_markup=keyboard)
        await self.done.put("start")

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.updates.append(update)
        query = update.callback_query
        assert query is not None
        await query.answer("liked")
        await query.edit_message_text(f"you chose {query.data}")
        await self.done.put("pressed")

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.updates.append(update)
        assert update.inline_query is not None
        article = InlineQueryResultArticle(
            "1", "Latest clip", InputTextMessageContent(update.inline_query.query)
        )
        await update.inline_query.answer([article], cache_time=dtm.timedelta(seconds=0))
        await self.done.put("inline")

    async def next_step(self) -> str:
        return await asyncio.wait_for(self.done.get(), STEP_TIMEOUT)


@pytest.fixture
async def polling(emu: TelegramEmulator) -> AsyncIterator[Flow]:
    flow = Flow()
    app = (
        Application.builder()
        .token(emu.token)
        .base_url(f"{emu.url}/bot")
        .base_file_url(f"{emu.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", flow.start))
    app.add_handler(CallbackQueryHandler(flow.pressed))
    app.add_handler(InlineQueryHandler(flow.inline))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(timeout=dtm.timedelta(seconds=5))
        await app.start()
        yield flow
        await app.updater.stop()
        await app.stop()


async def test_command_then_button_then_inline_query(emu: TelegramEmulator, polling: Flow) -> None:
    alice = emu.add_user("Alice", username="alice")
    chat = emu.add_chat("private", person=alice)
    emu.user_command(chat.id, "start", "clip42")
    assert await polling.next_step() == "start"
    [command, reply] = emu.messages(chat.id)
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert reply["text"] == "hello ['clip42']"
    assert "reply_to_message" not in reply  # PTB quotes only outside private chats

    emu.press_button(chat.id, reply["message_id"], "v1:like")
    assert await polling.next_step() == "pressed"
    assert emu.messages(chat.id)[1]["text"] == "you chose v1:like"
    assert "reply_markup" not in emu.messages(chat.id)[1]  # an edit without markup drops it
    [answer] = emu.callback_answers.values()
    assert answer["text"] == "liked"

    emu.inline_query("cats")
    assert await polling.next_step() == "inline"
    [inline] = emu.inline_answers.values()
    assert inline["results"][0]["input_message_content"]["message_text"] == "cats"
    for update in polling.updates:
        assert_clean(update)
    assert polling.updates[1].callback_query is not None
    assert polling.updates[1].callback_query.chat_instance


async def test_group_command_with_mention_in_a_topic(emu: TelegramEmulator, polling: Flow) -> None:
    forum = emu.add_chat("supergroup", title="Fans", forum=True)
    topic = emu.add_topic(forum.id, "Requests")
    emu.user_command(forum.id, "start", thread_id=topic.message_thread_id, mention=True)
    assert await polling.next_step() == "start"
    incoming = polling.updates[0].message
    assert incoming is not None
    assert incoming.is_topic_message
    assert incoming.message_thread_id == topic.message_thread_id
    reply = emu.messages(forum.id)[-1]
    assert reply["message_thread_id"] == topic.message_thread_id
    assert reply["reply_to_message"]["message_id"] == incoming.message_id


async def test_get_updates_offsets_and_conflict(emu: TelegramEmulator) -> None:
    chat = emu.add_chat("private")
    first = emu.user_message(chat.id, "one")["update_id"]
    emu.user_message(chat.id, "two")
    url = f"/bot{emu.token}/getUpdates"
    async with httpx.AsyncClient(base_url=emu.url) as client:
        both = (await client.post(url, json={})).json()["result"]
        assert [u["message"]["text"] for u in both] == ["one", "two"]
        again = (await client.post(url, json={"offset": first + 1})).json()["result"]
        assert [u["message"]["text"] for u in again] == ["two"]
        waiting = asyncio.create_task(client.post(url, json={"offset": first + 2, "timeout": 5}))
        await asyncio.wait_for(emu.env.queue.parked.wait(), STEP_TIMEOUT)
        newer = await client.post(url, json={"offset": first + 2, "timeout": 0})
        older = await waiting
    assert older.status_code == 409
    assert older.json()["description"].startswith("Conflict: terminated by other getUpdates")
    assert newer.json() == {"ok": True, "result": []}
