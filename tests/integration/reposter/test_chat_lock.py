"""A send cancelled while it waits for its chat's lock does not leave the chat locked."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.reposter.turns import Chats
from tikrelay.store import locks, open_queue


async def test_cancel_while_waiting_gives_the_lock_back(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    queue = open_queue(settings)
    folder = StatePaths(tmp_path).locks
    chats = Chats(queue.engine, folder)
    holding, release = threading.Event(), threading.Event()

    def other_process() -> None:  # another sender holds the chat
        with locks.held(queue.engine, "chat:-100", folder):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=other_process)
    holder.start()
    try:
        assert await asyncio.to_thread(holding.wait, 10)

        async def send() -> None:
            async with chats.lock("-100"):
                raise AssertionError("never reached: cancelled while waiting")

        waiting = asyncio.create_task(send())
        for _ in range(5):  # let it run up to waiting for the lock
            await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        release.set()
        holder.join(10)
        # The cancelled waiter got the lock after the holder left, and handed it back.
        async with asyncio.timeout(10):
            async with chats.lock("-100"):
                pass
    finally:
        release.set()
        holder.join(10)
        queue.engine.dispose()
