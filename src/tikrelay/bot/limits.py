"""The bot's limits (``bot.limits``): requests per person at once and per hour, per chat per
hour, in all at once, and a spam guard that stops listening to a person who sends a burst. Every
refusal says when to try again. Counts come from the database, so every process of one
installation keeps the same limits."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from tikrelay.bot import texts
from tikrelay.config.settings import BotLimits
from tikrelay.store import JobQueue, bot_sql

HOUR = timedelta(hours=1)


class Limits:
    def __init__(self, settings: BotLimits, queue: JobQueue) -> None:
        self.settings = settings
        self.queue = queue

    async def refusal(
        self, user_id: int | None, chat_id: int
    ) -> tuple[str, dict[str, object]] | None:
        """Why a new request is refused now (a message of ``texts`` and its values), or None
        when it may go ahead."""
        now = self.queue.clock()

        def read() -> bot_sql.RequestCounts:
            with self.queue.engine.connect() as conn:
                return bot_sql.request_counts(conn, user_id, chat_id, now - HOUR)

        counts = await asyncio.to_thread(read)
        limits = self.settings
        if counts.active_of_user >= limits.active_per_user:
            return texts.ACTIVE_LIMIT, {"count": counts.active_of_user}
        if counts.user_last_hour >= limits.per_user_per_hour:
            minutes = _minutes_until(counts.user_oldest, now)
            return texts.USER_HOURLY, {"count": counts.user_last_hour, "minutes": minutes}
        if counts.chat_last_hour >= limits.per_chat_per_hour:
            minutes = _minutes_until(counts.chat_oldest, now)
            return texts.CHAT_HOURLY, {"count": counts.chat_last_hour, "minutes": minutes}
        if counts.active >= limits.global_active:
            return texts.GLOBAL_LIMIT, {}
        return None

    async def spam_pause(self, user_id: int, update_id: int) -> tuple[bool, float]:
        """(ignore this person's message, seconds until the pause ends; 0 when none). The
        pause starts when a burst is seen: the caller says so once, then stays quiet."""
        now = self.queue.clock()
        key = f"pause:{user_id}"
        limits = self.settings

        def check() -> tuple[bool, float, bool]:
            with self.queue.transaction() as conn:
                until = bot_sql.state(conn, key)
                if until is not None and datetime.fromisoformat(until) > now:
                    return True, (datetime.fromisoformat(until) - now).total_seconds(), False
                sent = bot_sql.burst(conn, user_id, update_id, limits.burst_seconds)
                if sent <= limits.burst_messages:
                    return False, 0.0, False
                ends = now + timedelta(seconds=limits.pause_seconds)
                bot_sql.set_state(conn, key, ends.isoformat(), now)
                return True, limits.pause_seconds, True

        ignore, seconds, started = await asyncio.to_thread(check)
        return ignore, seconds if started else 0.0


def _minutes_until(oldest: datetime | None, now: datetime) -> int:
    """Minutes until the oldest request of the hour no longer counts (at least 1)."""
    if oldest is None:
        return 60
    return max(1, math.ceil((oldest + HOUR - now).total_seconds() / 60))
