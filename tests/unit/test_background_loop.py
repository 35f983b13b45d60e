from __future__ import annotations

import asyncio
import threading

from tikrelay.sandbox.background import BackgroundLoop


def test_runs_coroutines_on_its_own_thread() -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    with BackgroundLoop(name="bg-test") as bg:
        assert bg.run(where()) == "bg-test"
    assert not any(t.name == "bg-test" for t in threading.enumerate())
