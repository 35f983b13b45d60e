"""The bot's job kinds and their payloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

BOT_UPDATE = "bot_update"
REQUEST = "request"
BROADCAST = "broadcast"


class UpdatePayload(BaseModel):
    update: dict[str, Any]  # the update as Telegram sent it


class RequestPayload(BaseModel):
    """A link someone sent: answered in that chat (and topic), as a reply to that message."""

    chat_id: int
    message_id: int
    topic_id: int | None = None
    user_id: int | None = None
    url: str
    language: str = "en"  # of the person who asked: what the bot says about it
    silent: bool = False  # no reaction, no replies: an upload to the storage chat for inline
    sound: bool = False  # the post's sound alone (the Sound button under a video)
    document: bool = False  # a video as a file (/settings format document)
    caption: bool = True  # the post's text under the media (/settings caption off: none)
    variant: str = "best"  # a link to another site: best (that fits), 720p, 480p or audio


#: The callback data of the Sound button under a video: ``sound:<post id>``.
SOUND_BUTTON = "sound:"
#: The callback data of the quality buttons under a linked video: ``quality:<variant>:<digest>``.
QUALITY_BUTTON = "quality:"


def request_key(chat_id: int, message_id: int) -> str:
    """The dedupe key of a request, and its destination's name in the deliveries."""
    return f"request:{chat_id}:{message_id}"


class BroadcastPayload(BaseModel):
    """A message to everyone who started the bot; the count goes to the admin who sent it."""

    text: str
    admin_chat_id: int
