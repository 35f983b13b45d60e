"""Where a post goes in Telegram: a chat and, in a forum, a topic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatTarget:
    """A chat (numeric id or @username) and, in a forum supergroup, a topic."""

    chat_id: int | str
    topic_id: int | None = None

    def __str__(self) -> str:
        if self.topic_id is None:
            return f"chat {self.chat_id}"
        return f"topic {self.topic_id} of chat {self.chat_id}"
