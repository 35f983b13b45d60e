"""Telegram's flood limits as a pure limiter: a fake clock, no sockets, no sleeps."""

from __future__ import annotations

import pytest

from tikrelay.sandbox.telegram.flood import FloodLimiter, FloodLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_private_chat_gets_a_burst_then_one_per_second(clock: Clock) -> None:
    limiter = FloodLimiter(FloodLimits(), clock)
    assert [limiter.acquire(1, is_group=False) for _ in range(4)] == [None, None, None, 1]
    clock.now = 0.5
    assert limiter.acquire(1, is_group=False) == 1  # half a token is not a message
    clock.now = 1.0
    assert limiter.acquire(1, is_group=False) is None
    assert limiter.acquire(2, is_group=False) is None  # other chats are not affected


def test_a_group_gets_twenty_per_rolling_minute(clock: Clock) -> None:
    limiter = FloodLimiter(FloodLimits(), clock)
    for second in range(20):
        clock.now = float(second * 2)
        assert limiter.acquire(-5, is_group=True) is None
    clock.now = 40.0
    assert limiter.acquire(-5, is_group=True) == 20  # the first expires at 60
    clock.now = 60.0
    assert limiter.acquire(-5, is_group=True) is None


def test_an_album_counts_every_item_and_leaves_the_chat_in_debt(clock: Clock) -> None:
    limiter = FloodLimiter(FloodLimits(), clock)
    assert limiter.acquire(-7, is_group=True, count=10) is None
    assert limiter.acquire(-7, is_group=True) == 8  # 3 tokens - 10 items = -7; one needs 8 s
    clock.now = 8.0
    assert limiter.acquire(-7, is_group=True, count=10) is None
    clock.now = 16.0
    assert limiter.acquire(-7, is_group=True, count=1) == 44  # 20 in the minute already


def test_the_bot_wide_limit_spans_chats(clock: Clock) -> None:
    limiter = FloodLimiter(FloodLimits(bot_per_second=30), clock)
    assert all(limiter.acquire(chat, is_group=False) is None for chat in range(30))
    assert limiter.acquire(99, is_group=False) == 1
    clock.now = 1.0
    assert limiter.acquire(99, is_group=False) is None


@pytest.mark.parametrize(
    ("limits", "sends", "expected"),
    [
        (FloodLimits(chat_burst=1), 2, 1),
        (FloodLimits(chat_per_second=0.25, chat_burst=1), 2, 4),
        (FloodLimits(chat_per_second=100, chat_burst=100, group_per_minute=2), 3, 60),
    ],
)
def test_retry_after_is_whole_seconds_at_least_one(
    clock: Clock, limits: FloodLimits, sends: int, expected: int
) -> None:
    limiter = FloodLimiter(limits, clock)
    answers = [limiter.acquire(-1, is_group=True) for _ in range(sends)]
    assert answers[-1] == expected
    assert all(answer is None for answer in answers[:-1])
