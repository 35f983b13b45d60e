"""The emulator's messaging, chats, rights and topics, driven by the real python-telegram-bot."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReactionTypeEmoji
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken

from tests.support.telegram import (  # noqa: F401 - fixtures
    assert_clean,
    bot,
    emu,
    make_bot,
    ptb_timedelta,
    said,
)
from tikrelay.sandbox.telegram import TelegramEmulator


async def test_get_me_and_commands(bot: Bot, emu: TelegramEmulator) -> None:
    me = await bot.get_me()
    assert_clean(me)
    assert me.is_bot
    assert me.id == 123456
    assert me.username == "tikrelay_sandbox_bot"
    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c["command"] for c in emu.commands] == ["start", "help"]
    assert await bot.delete_webhook()


async def test_text_message_with_html_and_keyboard(bot: Bot, emu: TelegramEmulator) -> None:
    group = emu.add_chat("group", title="Friends")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="v1:go")]])
    sent = await bot.send_message(
        group.id, "  <b>Hi</b> <a href='https://x.test'>link</a>  ", "HTML", reply_markup=keyboard
    )
    assert_clean(sent)
    assert sent.text == "Hi link"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 2),
        ("text_link", 3, 4),
    ]
    assert sent.reply_markup == keyboard
    assert sent.from_user is not None
    assert sent.from_user.id == bot.id
    second = await bot.send_message(group.id, "again")
    assert second.message_id == sent.message_id + 1
    [record] = emu.calls("sendMessage")[:1]
    assert (record.chat_id, record.kind, record.text) == (group.id, "text", "Hi link")


async def test_text_limits_and_bad_html(bot: Bot, emu: TelegramEmulator) -> None:
    chat = emu.add_chat("private")
    with pytest.raises(BadRequest, match=said("message is too long")):
        await bot.send_message(chat.id, "x" * 4097)
    with pytest.raises(BadRequest, match=said("message text is empty")):
        await bot.send_message(chat.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=said("can't parse entities")):
        await bot.send_message(chat.id, "<blink>x</blink>", parse_mode="HTML")
    assert await bot.send_message(chat.id, "😀" * 2048)  # 4096 UTF-16 code units
    refused = emu.calls("sendMessage", ok=False)
    assert [r.status for r in refused] == [400, 400, 400]


async def test_edit_delete_react_and_chat_action(bot: Bot, emu: TelegramEmulator) -> None:
    chat = emu.add_chat("supergroup", title="Crew")
    sent = await bot.send_message(chat.id, "draft")
    edited = await bot.edit_message_text("final", chat.id, sent.message_id)
    assert_clean(edited)
    assert isinstance(edited, type(sent))
    assert edited.text == "final"
    assert edited.edit_date
    with pytest.raises(BadRequest, match=said("message is not modified")):
        await bot.edit_message_text("final", chat.id, sent.message_id)
    with pytest.raises(BadRequest, match=said("there is no caption in the message to edit")):
        await bot.edit_message_caption(chat.id, sent.message_id, caption="c")
    assert await bot.set_message_reaction(chat.id, sent.message_id, [ReactionTypeEmoji("👍")])
    assert await bot.send_chat_action(chat.id, ChatAction.UPLOAD_VIDEO)
    kept = await bot.send_message(chat.id, "kept")
    assert await bot.delete_message(chat.id, sent.message_id)
    with pytest.raises(BadRequest, match=said("message to delete not found")):
        await bot.delete_message(chat.id, sent.message_id)
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await bot.edit_message_text("x", chat.id, 999)
    assert [m["text"] for m in emu.messages(chat.id)] == ["kept"]
    assert emu.messages(chat.id)[0]["message_id"] == kept.message_id


@pytest.mark.parametrize(
    ("kind", "status", "rights", "error", "message"),
    [
        ("private", "kicked", None, Forbidden, "bot was blocked by the user"),
        ("group", "kicked", None, Forbidden, "bot was kicked from the group chat"),
        ("supergroup", "kicked", None, Forbidden, "bot was kicked from the supergroup chat"),
        ("supergroup", "left", None, Forbidden, "bot is not a member of the supergroup chat"),
        ("channel", "left", None, Forbidden, "bot is not a member of the channel chat"),
        (
            "channel",
            "administrator",
            {"can_post_messages": False},
            BadRequest,
            "need administrator rights in the channel chat",
        ),
        (
            "supergroup",
            "restricted",
            {"can_send_messages": False},
            BadRequest,
            "not enough rights to send text messages to the chat",
        ),
    ],
)
async def test_membership_and_rights_refusals(
    bot: Bot,
    emu: TelegramEmulator,
    kind: str,
    status: str,
    rights: dict[str, bool] | None,
    error: type[Exception],
    message: str,
) -> None:
    chat = emu.add_chat(kind, bot_status=status, rights=rights)  # type: ignore[arg-type]
    with pytest.raises(error, match=said(message)):
        await bot.send_message(chat.id, "hello")
    [record] = emu.record[-1:]
    assert (record.ok, record.chat_id, record.error) == (False, chat.id, error_text(message))


def error_text(message: str) -> str:
    prefix = "Forbidden" if message.startswith(("bot ", "user ")) else "Bad Request"
    return f"{prefix}: {message}"


async def test_chat_lookup_by_username_and_unknown_chat(bot: Bot, emu: TelegramEmulator) -> None:
    channel = emu.add_chat("channel", title="Demo", username="demo_channel")
    sent = await bot.send_message("@demo_channel", "post")
    assert sent.chat.id == channel.id
    assert sent.sender_chat is not None
    with pytest.raises(BadRequest, match=said("chat not found")):
        await bot.send_message(-100999, "nobody")


async def test_get_chat_and_members(bot: Bot, emu: TelegramEmulator) -> None:
    alice = emu.add_user("Alice", username="alice")
    chats = [
        emu.add_chat("private", person=alice),
        emu.add_chat("group", title="G"),
        emu.add_chat("supergroup", title="S", forum=True, bot_status="restricted"),
        emu.add_chat("channel", title="C", username="cc", bot_status="creator"),
    ]
    for chat in chats:
        info = await bot.get_chat(chat.id)
        assert_clean(info)
        assert (info.id, info.type) == (chat.id, chat.kind)
        member = await bot.get_chat_member(chat.id, bot.id)
        assert_clean(member)
    forum_info = await bot.get_chat(chats[2].id)
    assert forum_info.is_forum
    assert (await bot.get_chat_member(chats[2].id, bot.id)).status == "restricted"
    assert (await bot.get_chat_member(chats[3].id, bot.id)).status == "creator"
    emu.user_message(chats[1].id, "hi", user_id=alice.id)
    member = await bot.get_chat_member(chats[1].id, alice.id)
    assert_clean(member)
    assert member.status == "member"


async def test_forum_topics_and_the_general_quirk(bot: Bot, emu: TelegramEmulator) -> None:
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    clips = emu.add_topic(forum.id, "Clips")
    created = await bot.create_forum_topic(forum.id, "Music")
    assert_clean(created)
    assert created.message_thread_id > clips.message_thread_id > 1
    in_topic = await bot.send_message(forum.id, "t", message_thread_id=created.message_thread_id)
    assert in_topic.message_thread_id == created.message_thread_id
    assert in_topic.is_topic_message
    general = await bot.send_message(forum.id, "g")
    assert general.message_thread_id is None
    assert not general.is_topic_message
    assert general.message_id > in_topic.message_id > created.message_thread_id
    for thread in (1, 999):
        with pytest.raises(BadRequest, match=said("message thread not found")):
            await bot.send_message(forum.id, "x", message_thread_id=thread)
    plain = emu.add_chat("supergroup", title="Plain")
    with pytest.raises(BadRequest, match=said("message thread not found")):
        await bot.send_message(plain.id, "x", message_thread_id=clips.message_thread_id)
    with pytest.raises(BadRequest, match=said("the chat is not a forum")):
        await bot.create_forum_topic(plain.id, "Nope")
    emu.set_bot_membership(forum.id, "administrator", {"can_manage_topics": False})
    with pytest.raises(BadRequest, match=said("not enough rights to create a topic")):
        await bot.create_forum_topic(forum.id, "Nope")
    topic_calls = [r.thread_id for r in emu.calls("sendMessage", ok=True)]
    assert topic_calls == [created.message_thread_id, None]


async def test_unknown_method_and_wrong_token(bot: Bot, emu: TelegramEmulator) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as client:
        unknown = await client.post(f"/bot{emu.token}/sendTelepathy", json={})
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        wrong = await client.get("/bot654321:WRONG/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        by_query = await client.get(f"/bot{emu.token}/sendMessage?chat_id=1000001&text=q")
        assert by_query.status_code == 400  # nobody is in chat 1000001 yet
    with pytest.raises(InvalidToken):
        async with make_bot(emu, token="654321:WRONG") as wrong_bot:
            await wrong_bot.get_me()


async def test_params_in_every_encoding(emu: TelegramEmulator) -> None:
    chat = emu.add_chat("private")
    url = f"/bot{emu.token}/sendMessage"
    async with httpx.AsyncClient(base_url=emu.url) as client:
        answers = [
            await client.post(url, json={"chat_id": chat.id, "text": "json"}),
            await client.post(url, data={"chat_id": str(chat.id), "text": "form"}),
            await client.get(url, params={"chat_id": chat.id, "text": "query"}),
            await client.post(url, files={"chat_id": (None, str(chat.id)), "text": (None, "mp")}),
        ]
    assert [a.json()["result"]["text"] for a in answers] == ["json", "form", "query", "mp"]
    assert [m["text"] for m in emu.messages(chat.id)] == ["json", "form", "query", "mp"]
