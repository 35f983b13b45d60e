"""FloodPacer with a fake clock and sleep: rates, windows, albums, pauses, the bot-wide limit."""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tikrelay.destinations.pacer import FloodPacer, is_group_chat
from tikrelay.sandbox.telegram.flood import FloodLimiter, FloodLimits


class FakeTime:
    """A clock that only moves when the pacer sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def pacer_for(fake: FakeTime, **limits: Any) -> FloodPacer:
    return FloodPacer(clock=fake.clock, sleep=fake.sleep, **{"margin": 0.0, **limits})


async def send_times(pacer: FloodPacer, fake: FakeTime, chat: int | str, n: int) -> list[float]:
    """When each of ``n`` sends to ``chat``, one after another, was let through."""
    times = []
    for _ in range(n):
        await pacer.wait(chat)
        times.append(fake.now - 1000.0)
    return times


def test_groups_are_negative_ids_or_usernames() -> None:
    assert [is_group_chat(c) for c in (-1001234, "@channel", "-42")] == [True, True, True]
    assert [is_group_chat(c) for c in (42, "42")] == [False, False]


async def test_a_chat_gets_a_burst_then_one_per_second(fake: FakeTime) -> None:
    pacer = pacer_for(fake)
    assert await send_times(pacer, fake, 7, 6) == [0, 0, 0, 1, 2, 3]
    fake.now += 10  # idle: the bucket refills to the burst, no further
    assert await send_times(pacer, fake, 7, 4) == [13, 13, 13, 14]


async def test_the_margin_is_paid_once_not_per_message(fake: FakeTime) -> None:
    pacer = pacer_for(fake, margin=0.25)
    times = await send_times(pacer, fake, 7, 6)
    assert times == pytest.approx([0, 0, 0, 1.25, 2.25, 3.25])


async def test_a_group_gets_twenty_per_rolling_minute(fake: FakeTime) -> None:
    pacer = pacer_for(fake)
    times = await send_times(pacer, fake, -100, 40)
    # The burst, one a second up to 20 in the minute, then the minute rolls over the burst.
    assert times[:20] == [0, 0, 0, *range(1, 18)]
    assert times[20:] == [60, 60, 60, *range(61, 78)]
    private = await send_times(pacer_for(fake), fake, 100, 25)
    assert private[-1] - private[0] == 22  # private chats have no minute limit


async def test_an_album_counts_every_item_and_leaves_the_chat_in_debt(fake: FakeTime) -> None:
    pacer = pacer_for(fake)
    await pacer.wait("@channel", 10)
    assert fake.sleeps == []
    await pacer.wait("@channel")  # 3 tokens - 10 items = -7: eight seconds to get one back
    assert fake.sleeps == [8]
    await pacer.wait("@channel", 9)  # 1 + 10 + 9 = 20 in the minute: still fits
    assert fake.sleeps == [8, 1]
    await pacer.wait("@channel")  # the minute is full until the first album leaves it
    assert fake.now - 1000 == 60
    with pytest.raises(ValueError, match="exceed the flood limit"):
        await pacer.wait("@channel", 21)


async def test_a_pause_holds_only_its_chat(fake: FakeTime) -> None:
    pacer = pacer_for(fake)
    await pacer.wait(1)
    pacer.pause(1, 10)
    await pacer.wait(2)
    await pacer.wait(-3)
    assert fake.sleeps == []  # other chats never wait for it
    await pacer.wait(1)
    assert fake.sleeps == [10]


async def test_a_pause_gives_back_the_refused_message(fake: FakeTime) -> None:
    pacer = pacer_for(fake, group_per_minute=2, chat_burst=5)
    await pacer.wait(-5)
    await pacer.wait(-5)  # Telegram refuses this one with "retry after 5"
    pacer.pause(-5, 5)
    await pacer.wait(-5)  # the refused message did not use up the minute
    assert fake.sleeps == [5]
    await pacer.wait(-5)  # now two went out in this minute
    assert fake.now - 1000 == 60


async def test_zero_count_only_waits_out_a_pause(fake: FakeTime) -> None:
    pacer = pacer_for(fake, chat_burst=1)
    await pacer.wait(-5)
    await pacer.wait(-5, 0)  # an empty bucket does not hold back a call that is not a message
    assert fake.sleeps == []
    pacer.pause(-5, 3)
    await pacer.wait(-5, 0)
    assert fake.sleeps == [3]


async def test_the_bot_wide_limit_spans_chats(fake: FakeTime) -> None:
    pacer = pacer_for(fake, bot_per_second=30)
    for chat in range(1, 31):
        await pacer.wait(chat)
    assert fake.sleeps == []
    await pacer.wait(31)
    assert fake.sleeps == [1]


async def test_concurrent_chats_each_get_their_own_slot() -> None:
    clock = FakeTime()
    planned: dict[int, float] = {}
    entered = asyncio.Event()

    async def park(seconds: float) -> None:
        planned[len(planned)] = seconds
        entered.set()
        await asyncio.Event().wait()  # stays asleep until cancelled

    pacer = FloodPacer(bot_per_second=2, margin=0.0, clock=clock.clock, sleep=park)
    for _ in range(2):
        await pacer.wait(-9)  # two sends now: the bot's second is full
    waiting = [asyncio.create_task(pacer.wait(chat)) for chat in (1, 2, 3)]
    await entered.wait()
    while len(planned) < 3:
        entered.clear()
        await entered.wait()
    # Planned side by side, they share the bot-wide limit of two a second.
    assert sorted(planned.values()) == [1, 1, 2]
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    # Cancelled waits gave their slots back: the next chat goes in the next second.
    clock.now += 1
    planned.clear()
    await pacer.wait(4)
    assert planned == {}


async def test_a_later_reservation_of_another_chat_is_respected() -> None:
    clock = FakeTime()
    planned: list[float] = []

    async def note(seconds: float) -> None:
        planned.append(seconds)

    pacer = FloodPacer(
        bot_per_second=1, group_per_minute=1, margin=0.0, clock=clock.clock, sleep=note
    )
    await pacer.wait(-1)
    await pacer.wait(-1)  # planned for a minute later; the clock does not move with `note`
    assert planned == [60]
    clock.now += 59.5
    await pacer.wait(2)  # would share the second before the group's send: goes after it
    assert planned == [60, 1.5]


def drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a wait whose sleep returns at once, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the pacer awaited something other than its sleep")


CHATS = (11, 12, -21, -22, "@news")
limits_strategy = st.builds(
    FloodLimits,
    chat_per_second=st.sampled_from([0.5, 1.0, 2.0]),
    chat_burst=st.integers(1, 5),
    group_per_minute=st.integers(10, 25),
    bot_per_second=st.integers(10, 40),
)
sends = st.lists(
    st.tuples(st.sampled_from(CHATS), st.integers(1, 10), st.floats(0, 3)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(limits=limits_strategy, plan=sends)
def test_the_emulators_limiter_accepts_every_paced_send(
    limits: FloodLimits, plan: list[tuple[int | str, int, float]]
) -> None:
    """Chats send side by side, each one message or album after another, and every send the
    pacer lets through at its planned moment is accepted by the emulator's own limiter."""
    fake = FakeTime()
    limiter = FloodLimiter(limits, fake.clock)
    planned: list[float] = []

    async def note(seconds: float) -> None:
        planned.append(seconds)

    pacer = FloodPacer(
        chat_per_second=limits.chat_per_second,
        chat_burst=limits.chat_burst,
        group_per_minute=limits.group_per_minute,
        bot_per_second=limits.bot_per_second,
        clock=fake.clock,
        sleep=note,
    )
    queues: dict[int | str, deque[tuple[int, float]]] = {chat: deque() for chat in CHATS}
    for chat, count, gap in plan:
        queues[chat].append((count, gap))
    events: list[tuple[float, int, str, int | str]] = []
    order = 0
    for chat, queue in queues.items():
        if queue:
            events.append((fake.now + queue[0][1], order, "wait", chat))
            order += 1
    heapq.heapify(events)
    ids = {"@news": -30}
    while events:
        fake.now, _, step, chat = heapq.heappop(events)
        count, _gap = queues[chat][0]
        if step == "wait":
            planned.clear()
            drive(pacer.wait(chat, count))
            heapq.heappush(events, (fake.now + sum(planned), order, "send", chat))
        else:
            numeric = chat if isinstance(chat, int) else ids[chat]
            assert limiter.acquire(numeric, is_group=numeric < 0, count=count) is None
            queues[chat].popleft()
            if queues[chat]:
                heapq.heappush(events, (fake.now + queues[chat][0][1], order, "wait", chat))
        order += 1


async def test_a_seeded_chat_continues_where_another_process_left_it(fake: FakeTime) -> None:
    earlier = pacer_for(fake)  # a cron run that just ended
    before = await send_times(earlier, fake, -100, 15)
    assert before[-1] == 12
    fake.now += 2
    sends = [(fake.now - 1000.0 - at, 1) for at in before]  # (seconds ago, count)
    later = pacer_for(fake)  # the next run: a fresh pacer, told what the chat got
    later.seed(-100, sends)
    after = await send_times(later, fake, -100, 10)
    # The bucket is full again after two idle seconds... then the rolling minute holds it.
    assert after[:5] == [14, 14, 15, 16, 17]
    assert after[5:] == [60, 60, 60, 61, 62]
    moments = iter(sorted(before + after))
    now = [0.0]
    limiter = FloodLimiter(FloodLimits(), clock=lambda: now[0])
    for now[0] in moments:
        assert limiter.acquire(-100, is_group=True) is None  # Telegram's own limits: no 429


async def test_seeding_nothing_leaves_a_fresh_chat_and_keeps_a_pause(fake: FakeTime) -> None:
    pacer = pacer_for(fake)
    pacer.pause(-100, 5)
    pacer.seed(-100, [])
    assert await send_times(pacer, fake, -100, 2) == [5, 5]
