"""Telegram's flood limits as a pure limiter with an injectable clock.

Telegram does not publish exact numbers; its FAQ asks for about one message per second per chat
(short bursts pass), at most 20 messages per minute to one group or channel and about 30 per second
across all chats. Beyond them the API answers 429 with ``retry_after`` in whole seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FloodLimits:
    """The numbers the limiter enforces; the defaults follow Telegram's FAQ."""

    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    bot_per_second: int = 30


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class FloodLimiter:
    """Decides whether ``count`` messages may go to a chat now, and records them if so."""

    limits: FloodLimits = field(default_factory=FloodLimits)
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _group_windows: dict[int, deque[float]] = field(default_factory=dict)
    _bot_window: deque[float] = field(default_factory=deque)

    def acquire(self, chat_id: int, *, is_group: bool, count: int = 1) -> int | None:
        """Record ``count`` messages now and return None, or return the seconds to wait (≥ 1).

        An album counts as one message per item. It is accepted as soon as a single message would
        be, and then leaves the chat's bucket in debt, so that a ten-item album is possible at all
        and the chat pays for it afterwards, which is how Telegram behaves.
        """
        now = self.clock()
        waits = [self._chat_wait(chat_id, now), self._window_wait(self._bot_window, now, count, 1)]
        if is_group:
            window = self._group_windows.setdefault(chat_id, deque())
            waits.append(self._window_wait(window, now, count, 60))
        wait = max(waits)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._buckets[chat_id].tokens -= count
        for _ in range(count):
            self._bot_window.append(now)
            if is_group:
                self._group_windows[chat_id].append(now)
        return None

    def _chat_wait(self, chat_id: int, now: float) -> float:
        limits = self.limits
        bucket = self._buckets.setdefault(chat_id, _Bucket(float(limits.chat_burst), now))
        refill = (now - bucket.updated) * limits.chat_per_second
        bucket.tokens = min(float(limits.chat_burst), bucket.tokens + refill)
        bucket.updated = now
        if bucket.tokens >= 1:
            return 0.0
        return (1 - bucket.tokens) / limits.chat_per_second

    def _window_wait(self, window: deque[float], now: float, count: int, span: float) -> float:
        limit = self.limits.bot_per_second if span == 1 else self.limits.group_per_minute
        while window and window[0] <= now - span:
            window.popleft()
        excess = len(window) + count - limit
        if excess <= 0:
            return 0.0
        if excess > len(window):
            # More items than the whole window holds: wait until it is empty.
            return window[-1] + span - now if window else span
        return window[excess - 1] + span - now
