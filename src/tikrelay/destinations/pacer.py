"""Flood control for one bot: sends are spaced so that Telegram's limits hold before it refuses.

Telegram asks for about one message per second per chat (short bursts pass), at most 20 messages a
minute to one group or channel and about 30 a second across all chats; past them it answers 429
with ``retry_after``. The pacer keeps the same books: a token bucket per chat that an album may
leave in debt, a rolling minute per group or channel, a rolling second for the whole bot. A send
reserves its moment before it sleeps, so senders running side by side never plan the same slot.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
ChatId = int | str


def is_group_chat(chat_id: ChatId) -> bool:
    """Groups and channels have negative ids or are named by @username (Telegram, PTB agree)."""
    if isinstance(chat_id, str):
        return chat_id.startswith("@") or chat_id.lstrip().startswith("-")
    return chat_id < 0


class _Window:
    """Reserved send times: no ``span``-long stretch may hold more than ``limit`` messages.

    Times may be reserved out of order (one chat waits for its group minute while another sends
    now), so a new time must fit both the stretch that ends at it and every later stretch it joins.
    A time ``p`` counts in the stretch ending at ``q`` when ``p <= q < p + span``; ``p + span`` is
    computed once and kept, so that the moments tried are exactly the moments times leave.
    """

    def __init__(self, span: float, limit: int) -> None:
        self.span = span
        self.limit = limit
        self._times: list[float] = []
        self._ends: list[float] = []  # time + span, in the same (sorted) order
        self._counts: list[int] = []

    def earliest(self, start: float, count: int) -> float:
        """The first moment at or after ``start`` where ``count`` more messages fit."""
        candidates = [start] + [end for end in self._ends if end > start]
        for moment in sorted(candidates):
            if self._fits(moment, count):
                return moment
        raise AssertionError("unreachable: past the last reservation every window is empty")

    def _fits(self, moment: float, count: int) -> bool:
        if self._load(moment) + count > self.limit:
            return False
        first = bisect.bisect_right(self._times, moment)
        last = bisect.bisect_left(self._times, moment + self.span)
        return all(self._load(later) + count <= self.limit for later in self._times[first:last])

    def _load(self, moment: float) -> int:
        first = bisect.bisect_right(self._ends, moment)
        last = bisect.bisect_right(self._times, moment)
        return sum(self._counts[first:last])

    def add(self, moment: float, count: int) -> None:
        index = bisect.bisect_right(self._times, moment)
        self._times.insert(index, moment)
        self._ends.insert(index, moment + self.span)
        self._counts.insert(index, count)

    def remove(self, moment: float, count: int) -> None:
        index = bisect.bisect_left(self._times, moment)
        while index < len(self._times) and self._times[index] == moment:
            if self._counts[index] == count:
                del self._times[index], self._ends[index], self._counts[index]
                return
            index += 1

    def forget(self, now: float) -> None:
        """Drop times that can no longer share a stretch with ``now`` or anything later."""
        cut = bisect.bisect_right(self._ends, now)
        del self._times[:cut], self._ends[:cut], self._counts[:cut]


@dataclass(frozen=True)
class _Reservation:
    at: float
    count: int
    tokens_before: float
    updated_before: float


@dataclass
class _ChatBook:
    tokens: float
    updated: float
    window: _Window | None
    paused_until: float = float("-inf")
    last: _Reservation | None = None


class FloodPacer:
    """Keeps one bot within Telegram's flood limits, so that 429 answers stay rare.

    ``margin`` (seconds) is added wherever a wait is computed: it absorbs the difference between
    when we send and when Telegram counts the message (upload time, network jitter).
    Concurrency-safe within one event loop: a reservation is made without awaiting in between.
    """

    def __init__(
        self,
        *,
        chat_per_second: float = 1.0,
        chat_burst: int = 3,
        group_per_minute: int = 20,
        bot_per_second: int = 30,
        margin: float = 0.25,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if chat_per_second <= 0 or chat_burst < 1 or group_per_minute < 1 or bot_per_second < 1:
            raise ValueError("flood limits must be positive (and the burst at least 1)")
        if margin < 0:
            raise ValueError("margin must not be negative")
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.group_per_minute = group_per_minute
        self.bot_per_second = bot_per_second
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[ChatId, _ChatBook] = {}
        self._bot = _Window(1.0 + margin, bot_per_second)

    def __repr__(self) -> str:
        return (
            f"FloodPacer(chat_per_second={self.chat_per_second}, chat_burst={self.chat_burst}, "
            f"group_per_minute={self.group_per_minute}, bot_per_second={self.bot_per_second})"
        )

    async def wait(self, chat_id: ChatId, count: int = 1) -> None:
        """Reserve ``count`` messages (an album of N counts N) for the chat and sleep until then.

        ``count=0`` reserves nothing and only waits out a pause (for calls that are not messages).
        """
        now = self._clock()
        book = self._book(chat_id, now)
        start = max(now, book.paused_until)
        reservation = self._reserve(chat_id, book, start, count) if count else None
        delay = (reservation.at if reservation else start) - now
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            if reservation is not None:
                self._release(chat_id, book, reservation)
            raise

    def seed(self, chat_id: ChatId, sends: Sequence[tuple[float, int]]) -> None:
        """Rebuild a chat's books from the sends it really got, ``(seconds ago, count)`` in any
        order: sends by other processes, or by an earlier run, count too. Call it while no send
        to the chat is in flight; a pause is kept."""
        now = self._clock()
        sends = [(now - ago, count) for ago, count in sends]
        previous = self._chats.pop(chat_id, None)
        book = self._book(chat_id, now)
        if previous is not None:
            book.paused_until = previous.paused_until
        tokens, updated = float(self.chat_burst), float("-inf")
        for at, count in sorted(sends):
            if book.window is not None and at + book.window.span > now:
                book.window.add(at, count)
            refill = (at - updated) * self.chat_per_second if updated > float("-inf") else 0.0
            tokens = min(float(self.chat_burst), tokens + refill) - count
            updated = at
        if updated > float("-inf"):
            book.tokens, book.updated = tokens, updated

    def paused_for(self, chat_id: ChatId) -> float:
        """Seconds until the chat may be sent to again after a 429 (0 when it is not paused)."""
        book = self._chats.get(chat_id)
        if book is None:
            return 0.0
        return max(0.0, book.paused_until - self._clock())

    def pause(self, chat_id: ChatId, seconds: float, *, refund: bool = True) -> None:
        """After a 429: this chat sends nothing for ``seconds``; other chats are not held back.

        A 429 means the last send was not delivered, so its reservation is given back, unless
        ``refund`` is False (an album cut short: the items delivered still count).
        """
        now = self._clock()
        book = self._book(chat_id, now)
        book.paused_until = max(book.paused_until, now + seconds + self.margin)
        if refund and book.last is not None and book.last.at <= now:
            self._release(chat_id, book, book.last)

    def _book(self, chat_id: ChatId, now: float) -> _ChatBook:
        book = self._chats.get(chat_id)
        if book is None:
            group = is_group_chat(chat_id)
            window = _Window(60.0 + self.margin, self.group_per_minute) if group else None
            book = _ChatBook(float(self.chat_burst), now, window)
            self._chats[chat_id] = book
        if book.window is not None:
            book.window.forget(now)
        self._bot.forget(now)
        return book

    def _reserve(self, chat_id: ChatId, book: _ChatBook, start: float, count: int) -> _Reservation:
        if count < 0:
            raise ValueError("count must not be negative")
        limit = self.bot_per_second if book.window is None else book.window.limit
        if count > min(limit, self.bot_per_second):
            raise ValueError(f"{count} messages at once exceed the flood limit of chat {chat_id}")
        # The bucket admits a send once it holds one token; an album then leaves it in debt.
        at = max(start, book.updated)
        tokens = self._tokens_at(book, at)
        if tokens < 1:
            at += (1 - tokens) / self.chat_per_second + self.margin
        if book.window is not None:
            at = book.window.earliest(at, count)
        # Later is never worse for this chat's own books, so the bot-wide slot can come last.
        at = self._bot.earliest(at, count)
        reservation = _Reservation(at, count, book.tokens, book.updated)
        book.tokens, book.updated = self._tokens_at(book, at) - count, at
        book.last = reservation
        if book.window is not None:
            book.window.add(at, count)
        self._bot.add(at, count)
        return reservation

    def _tokens_at(self, book: _ChatBook, moment: float) -> float:
        refill = (moment - book.updated) * self.chat_per_second
        return min(float(self.chat_burst), book.tokens + refill)

    def _release(self, chat_id: ChatId, book: _ChatBook, reservation: _Reservation) -> None:
        """Give back a reservation whose message never went out."""
        if book.window is not None:
            book.window.remove(reservation.at, reservation.count)
        self._bot.remove(reservation.at, reservation.count)
        if book.last is reservation:
            book.tokens, book.updated = reservation.tokens_before, reservation.updated_before
            book.last = None
