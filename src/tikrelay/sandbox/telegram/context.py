"""What a method handler sees: the emulator's state and the call being answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tikrelay.sandbox.telegram.errors import bad_request, forbidden, too_many_requests
from tikrelay.sandbox.telegram.faults import AlbumFailure, Faults
from tikrelay.sandbox.telegram.files import FileStore
from tikrelay.sandbox.telegram.flood import FloodLimiter
from tikrelay.sandbox.telegram.params import Params
from tikrelay.sandbox.telegram.updates import People, UpdateQueue
from tikrelay.sandbox.telegram.webhook import WebhookDelivery
from tikrelay.sandbox.telegram.world import CallRecord, Chat, World

# Bot API limits (cloud server), in UTF-16 code units.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Telegram's megabytes: 50 MB = 52,428,800 bytes through the cloud Bot API.
CLOUD_UPLOAD_LIMIT = 50 * 1024 * 1024
LOCAL_UPLOAD_LIMIT = 2000 * 1024 * 1024
CLOUD_DOWNLOAD_LIMIT = 20_000_000


@dataclass
class Env:
    token: str
    world: World
    files: FileStore
    faults: Faults
    people: People
    queue: UpdateQueue
    flood: FloodLimiter | None
    local_mode: bool
    upload_limit: int
    webhook: WebhookDelivery


@dataclass
class Call:
    method: str
    params: Params
    record: CallRecord
    env: Env
    album_failure: AlbumFailure | None = None

    def chat(self) -> Chat:
        chat_id = self.params.chat_id()
        self.record.chat_id = chat_id
        return self.env.world.chat(chat_id)


Handler = Callable[[Call], Awaitable[Any]]
# Telegram matches method names case-insensitively: lower-case name -> (camelCase, handler).
HANDLERS: dict[str, tuple[str, Handler]] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a Bot API method handler under its camelCase name."""

    def register(handler: Handler) -> Handler:
        HANDLERS[name.lower()] = (name, handler)
        return handler

    return register


# Permission each kind of message needs from a restricted bot, and the noun Telegram uses.
_SEND_RIGHTS = {
    "text": ("can_send_messages", "text messages"),
    "photo": ("can_send_photos", "photos"),
    "video": ("can_send_videos", "videos"),
    "audio": ("can_send_audios", "audios"),
    "document": ("can_send_documents", "documents"),
    "animation": ("can_send_other_messages", "animations"),
}


def check_member(chat: Chat) -> None:
    """Refuse like Telegram when the bot is out of the chat (or blocked by the person)."""
    if chat.kind == "private":
        if chat.bot_status == "kicked":
            raise forbidden("bot was blocked by the user")
        return
    if chat.bot_status == "kicked":
        raise forbidden(f"bot was kicked from the {chat.kind} chat")
    if chat.bot_status == "left":
        raise forbidden(f"bot is not a member of the {chat.kind} chat")


def check_can_send(chat: Chat, kind: str) -> None:
    check_member(chat)
    if chat.kind == "channel":
        allowed = chat.bot_status == "creator" or (
            chat.bot_status == "administrator" and chat.rights.get("can_post_messages", True)
        )
        if not allowed:
            raise bad_request("need administrator rights in the channel chat")
    elif chat.bot_status == "restricted":
        right, noun = _SEND_RIGHTS.get(kind, _SEND_RIGHTS["document"])
        if not chat.right(right):
            raise bad_request(f"not enough rights to send {noun} to the chat")


def check_flood(call: Call, chat: Chat, count: int = 1) -> None:
    flood = call.env.flood
    if flood is None:
        return
    wait = flood.acquire(chat.id, is_group=chat.is_group, count=count)
    if wait is not None:
        raise too_many_requests(wait)
