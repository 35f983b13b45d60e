"""What the bot said in a chat of the Telegram emulator."""

from __future__ import annotations

from tests.support.relayed import Relayed


def bot_replies(relayed: Relayed, chat_id: int) -> list[str]:
    """The texts the bot sent to the chat, oldest first."""
    return [
        m["text"] for m in relayed.telegram.messages(chat_id) if m["from"]["is_bot"] and "text" in m
    ]
