"""Telegram Bot API emulator: real HTTP, Telegram's envelopes and limits, faults on demand.

Point python-telegram-bot at it with ``base_url=f"{emu.url}/bot"`` and
``base_file_url=f"{emu.url}/file/bot"``; see docs/sandbox-telegram.md.
"""

from tikrelay.sandbox.telegram.emulator import TelegramEmulator
from tikrelay.sandbox.telegram.errors import ApiError
from tikrelay.sandbox.telegram.flood import FloodLimiter, FloodLimits
from tikrelay.sandbox.telegram.world import CallRecord, Chat, FileRecord, Topic, User

__all__ = [
    "ApiError",
    "CallRecord",
    "Chat",
    "FileRecord",
    "FloodLimiter",
    "FloodLimits",
    "TelegramEmulator",
    "Topic",
    "User",
]
