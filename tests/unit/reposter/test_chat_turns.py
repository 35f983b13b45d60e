"""Sends to one chat: oldest job first, one at a time; other chats never wait."""

from __future__ import annotations

import asyncio

from tikrelay.reposter.turns import ChatTurns


async def settle() -> None:
    """Let every ready task run until it blocks (no clock involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def send(
    turns: ChatTurns, chat: str, job_id: int, log: list[str], ready: asyncio.Event
) -> None:
    await turns.join(chat, job_id)
    await ready.wait()  # e.g. the download: younger jobs may be ready first
    async with turns.turn(chat, job_id):
        log.append(f"{chat}:{job_id}:start")
        await asyncio.sleep(0)
        log.append(f"{chat}:{job_id}:end")
    await turns.leave(chat, job_id)


async def test_older_jobs_send_first_and_one_at_a_time() -> None:
    turns, log = ChatTurns(), []
    ready = {i: asyncio.Event() for i in (1, 2, 3)}
    tasks = [asyncio.create_task(send(turns, "c", i, log, ready[i])) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    ready[3].set()
    ready[2].set()
    await settle()
    assert log == []  # 2 and 3 are ready, but 1 still runs
    ready[1].set()
    await asyncio.gather(*tasks)
    assert log == [f"c:{i}:{edge}" for i in (1, 2, 3) for edge in ("start", "end")]


async def test_a_job_that_leaves_without_sending_frees_the_chat() -> None:
    turns, log = ChatTurns(), []
    await turns.join("c", 1)
    ready = asyncio.Event()
    ready.set()
    younger = asyncio.create_task(send(turns, "c", 2, log, ready))
    await settle()
    assert log == []
    await turns.leave("c", 1)  # failed before its send: a retry later, not now
    await younger
    assert log == ["c:2:start", "c:2:end"]


async def test_an_older_job_arriving_later_waits_for_the_holder() -> None:
    turns = ChatTurns()
    await turns.join("c", 5)
    async with turns.turn("c", 5):
        await turns.join("c", 4)  # a job recovered after a crash, claimed later
        older = asyncio.create_task(turns.turn("c", 4).__aenter__())
        await settle()
        assert not older.done()
    await turns.leave("c", 5)
    await asyncio.wait_for(older, 1)


async def test_other_chats_do_not_wait() -> None:
    turns, log = ChatTurns(), []
    await turns.join("a", 1)  # holds chat a's order, never sends
    ready = asyncio.Event()
    ready.set()
    await asyncio.wait_for(send(turns, "b", 2, log, ready), 1)
    assert log == ["b:2:start", "b:2:end"]
