"""editMessageReplyMarkup in the emulator, driven by the real python-telegram-bot."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden

from tests.support.telegram import (  # noqa: F401 - fixtures
    assert_clean,
    bot,
    emu,
    ptb_timedelta,
    said,
)
from tikrelay.sandbox.telegram import TelegramEmulator

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.test")]])
NOT_MODIFIED = "message is not modified: specified new message content and reply markup"


async def test_set_then_remove_a_keyboard(bot: Bot, emu: TelegramEmulator) -> None:
    group = emu.add_chat("supergroup", title="G")
    sent = await bot.send_message(group.id, "hello")
    edited = await bot.edit_message_reply_markup(group.id, sent.message_id, reply_markup=KEYBOARD)
    assert isinstance(edited, Message)
    assert_clean(edited)
    assert edited.reply_markup == KEYBOARD
    assert edited.edit_date is not None
    assert emu.messages(group.id)[0]["reply_markup"] == KEYBOARD.to_dict()
    with pytest.raises(BadRequest, match=said(NOT_MODIFIED)):
        await bot.edit_message_reply_markup(group.id, sent.message_id, reply_markup=KEYBOARD)
    removed = await bot.edit_message_reply_markup(group.id, sent.message_id)
    assert isinstance(removed, Message)
    assert removed.reply_markup is None
    assert "reply_markup" not in emu.messages(group.id)[0]
    assert emu.messages(group.id)[0]["text"] == "hello"  # only the keyboard changed


async def test_no_keyboard_to_remove_is_not_modified(bot: Bot, emu: TelegramEmulator) -> None:
    channel = emu.add_chat("channel", title="C")
    sent = await bot.send_message(channel.id, "plain")
    with pytest.raises(BadRequest, match=said(NOT_MODIFIED)):
        await bot.edit_message_reply_markup(channel.id, sent.message_id)
    empty = InlineKeyboardMarkup([])  # an empty keyboard is no keyboard
    with pytest.raises(BadRequest, match=said(NOT_MODIFIED)):
        await bot.edit_message_reply_markup(channel.id, sent.message_id, reply_markup=empty)
    [*_, last] = emu.calls("editMessageReplyMarkup")
    assert (last.status, last.chat_id, last.message_ids) == (400, channel.id, [sent.message_id])


async def test_missing_and_foreign_messages(bot: Bot, emu: TelegramEmulator) -> None:
    group = emu.add_chat("group", title="G")
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await bot.edit_message_reply_markup(group.id, 999)
    written = emu.user_message(group.id, "a person wrote this")["message"]
    with pytest.raises(BadRequest, match=said("message can't be edited")):
        await bot.edit_message_reply_markup(group.id, written["message_id"], reply_markup=KEYBOARD)


async def test_channel_posts_need_the_edit_right(bot: Bot, emu: TelegramEmulator) -> None:
    channel = emu.add_chat("channel", title="C")
    post = emu.user_message(channel.id, "an admin posted this")["channel_post"]
    edited = await bot.edit_message_reply_markup(
        channel.id, post["message_id"], reply_markup=KEYBOARD
    )
    assert isinstance(edited, Message)
    assert edited.reply_markup == KEYBOARD
    strict = emu.add_chat("channel", title="S", rights={"can_edit_messages": False})
    other = emu.user_message(strict.id, "not ours")["channel_post"]
    with pytest.raises(BadRequest, match=said("message can't be edited")):
        await bot.edit_message_reply_markup(strict.id, other["message_id"], reply_markup=KEYBOARD)


async def test_inline_messages_and_membership(bot: Bot, emu: TelegramEmulator) -> None:
    assert await bot.edit_message_reply_markup(inline_message_id="AgAAAB", reply_markup=KEYBOARD)
    gone = emu.add_chat("supergroup", title="Left", bot_status="left")
    with pytest.raises(Forbidden, match=said("bot is not a member of the supergroup chat")):
        await bot.edit_message_reply_markup(gone.id, 1)
