"""The bot itself, chats and members, topics, updates, callback and inline answers."""

from __future__ import annotations

import re
from typing import Any

from tikrelay.sandbox.telegram.context import Call, check_member, method
from tikrelay.sandbox.telegram.errors import QUERY_TOO_OLD, bad_request
from tikrelay.sandbox.telegram.webhook import Webhook, check_webhook
from tikrelay.sandbox.telegram.world import TOPIC_COLORS, Chat, Topic, User, World

_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_CHANNEL_RIGHTS = ("can_post_messages", "can_edit_messages")
_GROUP_RIGHTS = ("can_pin_messages",)
_RESTRICTIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
)
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


def bot_json(bot: User) -> dict[str, Any]:
    return {
        **bot.to_json(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("getMe")
async def get_me(call: Call) -> dict[str, Any]:
    return bot_json(call.env.world.bot)


@method("getUpdates")
async def get_updates(call: Call) -> list[dict[str, Any]]:
    params = call.params
    limit = min(100, max(1, params.get_int("limit") or 100))
    try:
        timeout = max(0.0, float(params.raw("timeout") or 0))
    except (TypeError, ValueError):
        raise bad_request("invalid timeout specified") from None
    return await call.env.queue.get(params.get_int("offset"), limit, timeout)


@method("setWebhook")
async def set_webhook(call: Call) -> bool:
    """An empty url removes the webhook, as deleteWebhook does."""
    params, webhook = call.params, call.env.webhook
    url = params.get_str("url") or ""
    if not url:
        await webhook.delete(drop_pending=params.get_bool("drop_pending_updates"))
        return True
    secret = params.get_str("secret_token")
    check_webhook(url, secret)
    allowed = params.get_json("allowed_updates")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)
    ):
        raise bad_request("can't parse allowed updates")
    connections = min(100, max(1, params.get_int("max_connections") or 40))
    if params.get_bool("drop_pending_updates"):
        call.env.queue.drop()
    webhook.set(Webhook(url, secret, allowed, connections))
    return True


@method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    await call.env.webhook.delete(drop_pending=call.params.get_bool("drop_pending_updates"))
    return True


@method("getWebhookInfo")
async def get_webhook_info(call: Call) -> dict[str, Any]:
    return call.env.webhook.info()


@method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    commands = call.params.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands must be a list of at most 100 items")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    with call.env.world.lock:
        call.env.world.commands = commands
    return True


@method("getMyCommands")
async def get_my_commands(call: Call) -> list[dict[str, Any]]:
    return list(call.env.world.commands)


@method("getChat")
async def get_chat(call: Call) -> dict[str, Any]:
    chat = call.chat()
    if chat.bot_status in ("left", "kicked") and chat.kind != "private" and not chat.username:
        raise bad_request("chat not found")
    return {
        **chat.to_json(),
        "accent_color_id": abs(chat.id) % 7,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def member_json(chat: Chat, user: User, status: str) -> dict[str, Any]:
    """A ChatMember of the given status with every field PTB requires for it."""
    data: dict[str, Any] = {"user": user.to_json(), "status": status}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        names = _ADMIN_RIGHTS + (_CHANNEL_RIGHTS if chat.kind == "channel" else _GROUP_RIGHTS)
        if chat.kind == "supergroup":
            names += ("can_manage_topics",)
        data.update({"can_be_edited": False, "is_anonymous": False})
        data.update({name: chat.rights.get(name, True) for name in names})
    elif status == "restricted":
        data.update({name: chat.rights.get(name, True) for name in _RESTRICTIONS})
        data.update({"is_member": True, "until_date": 0, "can_react_to_messages": True})
    elif status == "kicked":
        data["until_date"] = 0
    return data


@method("getChatMember")
async def get_chat_member(call: Call) -> dict[str, Any]:
    chat = call.chat()
    check_member(chat)
    user = call.env.world.user(call.params.get_int("user_id", required=True) or 0)
    if user.id == call.env.world.bot.id:
        return member_json(chat, user, chat.bot_status)
    if chat.person is not None and chat.person.id == user.id:
        return member_json(chat, user, "member")
    with call.env.world.lock:
        status = chat.members.get(user.id, "left")
    return member_json(chat, user, status)


@method("createForumTopic")
async def create_forum_topic(call: Call) -> dict[str, Any]:
    chat = call.chat()
    check_member(chat)
    if not chat.forum:
        raise bad_request("the chat is not a forum")
    admin = chat.bot_status == "creator" or chat.bot_status == "administrator"
    if not admin or not chat.rights.get("can_manage_topics", True):
        raise bad_request("not enough rights to create a topic")
    name = call.params.get_str("name") or ""
    if not 1 <= len(name) <= 128:
        raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
    color = call.params.get_int("icon_color") or TOPIC_COLORS[0]
    if color not in TOPIC_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    topic = add_topic(call.env.world, chat, name, color)
    call.record.thread_id = topic.message_thread_id
    return topic.to_json()


def add_topic(world: World, chat: Chat, name: str, color: int = TOPIC_COLORS[0]) -> Topic:
    """A new topic; like Telegram, its id is the id of the message that created it."""
    with world.lock:
        topic = Topic(chat.take_message_id(), name, color)
        chat.topics[topic.message_thread_id] = topic
    return topic


@method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    query_id = call.params.get_str("callback_query_id") or ""
    people = call.env.people
    if query_id not in people.open_callbacks:
        raise bad_request(QUERY_TOO_OLD)
    text = call.params.get_str("text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    people.open_callbacks.discard(query_id)
    people.callback_answers[query_id] = call.params.plain()
    call.record.text = text or None
    return True


@method("answerInlineQuery")
async def answer_inline_query(call: Call) -> bool:
    query_id = call.params.get_str("inline_query_id") or ""
    people = call.env.people
    if query_id not in people.open_inline:
        raise bad_request(QUERY_TOO_OLD)
    results = call.params.get_json("results")
    if not isinstance(results, list) or len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    if len({r.get("id") for r in results if isinstance(r, dict)}) != len(results):
        raise bad_request("RESULT_ID_DUPLICATE")
    people.open_inline.discard(query_id)
    people.inline_answers[query_id] = {**call.params.plain(), "results": results}
    return True
