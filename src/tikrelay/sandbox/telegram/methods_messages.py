"""Text messages and what can be done to messages: send, edit, delete, react, chat actions."""

from __future__ import annotations

import copy
import time
from typing import Any

from tikrelay.sandbox.telegram.context import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Call,
    check_can_send,
    check_flood,
    check_member,
    method,
)
from tikrelay.sandbox.telegram.entities import format_text
from tikrelay.sandbox.telegram.errors import bad_request
from tikrelay.sandbox.telegram.world import Chat, post_message, resolve_thread

CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def open_send(call: Call, kind: str) -> tuple[Chat, int | None]:
    """Chat and topic of a sending call after membership, rights and topic checks."""
    call.record.kind = kind
    chat = call.chat()
    check_can_send(chat, kind)
    thread_id = resolve_thread(chat, call.params.get_int("message_thread_id"))
    call.record.thread_id = thread_id
    return chat, thread_id


def message_extras(call: Call, chat: Chat) -> dict[str, Any]:
    """Fields a sent message carries from the call: keyboard, reply, protection."""
    params = call.params
    extras: dict[str, Any] = {}
    markup = params.get_json("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        extras["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
    if params.get_bool("protect_content"):
        extras["has_protected_content"] = True
    reply = params.get_json("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        with call.env.world.lock:
            target = chat.messages.get(int(reply["message_id"]))
            if target is not None:
                target = copy.deepcopy(target)
                target.pop("reply_to_message", None)
                extras["reply_to_message"] = target
            elif not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
    return extras


def formatted(call: Call, name: str, limit: int) -> dict[str, Any]:
    """``text``/``caption`` (plus entities) after parse-mode handling and limit checks."""
    params = call.params
    raw = params.get_str(name)
    if name == "caption" and raw is None:
        return {}
    entity_param = "entities" if name == "text" else "caption_entities"
    text, entities = format_text(
        raw,
        params.get_str("parse_mode"),
        params.get_json(entity_param),
        limit=limit,
        what=name,
    )
    setattr(call.record, name, text)
    content: dict[str, Any] = {name: text} if text else {}
    if entities:
        content[entity_param] = entities
    return content


@method("sendMessage")
async def send_message(call: Call) -> dict[str, Any]:
    chat, thread_id = open_send(call, "text")
    content = formatted(call, "text", TEXT_LIMIT)
    content.update(message_extras(call, chat))
    check_flood(call, chat)
    message = post_message(call.env.world, chat, call.env.world.bot, thread_id, content)
    call.record.message_ids = [message["message_id"]]
    return message


def _editable(call: Call) -> tuple[Chat, dict[str, Any]]:
    params = call.params
    chat = call.chat()
    check_member(chat)
    message_id = params.get_int("message_id", required=True)
    with call.env.world.lock:
        message = chat.messages.get(message_id or 0)
    if message is None:
        raise bad_request("message to edit not found")
    call.record.message_ids = [message["message_id"]]
    call.record.thread_id = message.get("message_thread_id")
    return chat, message


def _apply_edit(call: Call, message: dict[str, Any], name: str, change: dict[str, Any]) -> Any:
    markup = message_extras(call, call.env.world.chat(message["chat"]["id"])).get("reply_markup")
    entity_key = "entities" if name == "text" else "caption_entities"
    before = (message.get(name), message.get(entity_key), message.get("reply_markup"))
    if before == (change.get(name), change.get(entity_key), markup):
        raise bad_request(NOT_MODIFIED)
    with call.env.world.lock:
        for key in (name, entity_key, "reply_markup"):
            message.pop(key, None)
        message.update(change)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)


@method("editMessageText")
async def edit_message_text(call: Call) -> Any:
    if call.params.has("inline_message_id"):
        formatted(call, "text", TEXT_LIMIT)
        return True
    _, message = _editable(call)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    return _apply_edit(call, message, "text", formatted(call, "text", TEXT_LIMIT))


@method("editMessageCaption")
async def edit_message_caption(call: Call) -> Any:
    if call.params.has("inline_message_id"):
        formatted(call, "caption", CAPTION_LIMIT)
        return True
    _, message = _editable(call)
    if "text" in message:
        raise bad_request("there is no caption in the message to edit")
    return _apply_edit(call, message, "caption", formatted(call, "caption", CAPTION_LIMIT))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> Any:
    """Set or (without ``reply_markup``, or with an empty keyboard) remove the inline keyboard."""
    if call.params.has("inline_message_id"):
        return True
    chat, message = _editable(call)
    own = message.get("from", {}).get("id") == call.env.world.bot.id
    # Channel posts carry the channel, not their author; an admin bot may edit any of them.
    if not own and not (chat.kind == "channel" and _is_admin_with(chat, "can_edit_messages")):
        raise bad_request("message can't be edited")
    markup = call.params.get_json("reply_markup")
    keyboard = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    wanted = {"inline_keyboard": keyboard} if keyboard else None
    with call.env.world.lock:
        if message.get("reply_markup") == wanted:
            raise bad_request(NOT_MODIFIED)
        message.pop("reply_markup", None)
        if wanted is not None:
            message["reply_markup"] = wanted
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)


@method("deleteMessage")
async def delete_message(call: Call) -> bool:
    chat = call.chat()
    check_member(chat)
    message_id = call.params.get_int("message_id", required=True) or 0
    call.record.message_ids = [message_id]
    with call.env.world.lock:
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        own = message.get("from", {}).get("id") == call.env.world.bot.id or chat.kind == "channel"
        if not own and chat.kind != "private" and not _is_admin_with(chat, "can_delete_messages"):
            raise bad_request("message can't be deleted")
        del chat.messages[message_id]
    return True


def _is_admin_with(chat: Chat, right: str) -> bool:
    return chat.bot_status == "creator" or (
        chat.bot_status == "administrator" and chat.rights.get(right, True)
    )


@method("setMessageReaction")
async def set_message_reaction(call: Call) -> bool:
    chat = call.chat()
    check_member(chat)
    message_id = call.params.get_int("message_id", required=True) or 0
    call.record.message_ids = [message_id]
    reaction = call.params.get_json("reaction") or []
    if not isinstance(reaction, list) or len(reaction) > 1:
        raise bad_request("REACTIONS_TOO_MANY")
    with call.env.world.lock:
        if message_id not in chat.messages:
            raise bad_request("message to react not found")
    return True


@method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    chat = call.chat()
    check_member(chat)
    resolve_thread(chat, call.params.get_int("message_thread_id"))
    if call.params.get_str("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True
