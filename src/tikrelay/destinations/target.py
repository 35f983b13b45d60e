"""Where a post goes in Telegram: a chat and, in a forum, a topic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class ChatTarget:
    """A chat (numeric id or @username) and, in a forum supergroup, a topic."""

    chat_id: int | str
    topic_id: int | None = None

    def __str__(self) -> str:
        if self.topic_id is None:
            return f"chat {self.chat_id}"
        return f"topic {self.topic_id} of chat {self.chat_id}"


class Probe(StrEnum):
    """What is at a message id of a chat, as far as a bot can tell without reading it."""

    OURS = "ours"  # a message the bot may edit: its own (in a channel, any post, if it is admin)
    OTHERS = "others"  # a message somebody else wrote
    NONE = "none"  # no message (never sent, or deleted)
