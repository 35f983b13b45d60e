"""Blocking work (database drivers, yt-dlp, DNS) in threads that cannot hang a health check."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_daemon_thread(func: Callable[[], T]) -> asyncio.Future[T]:
    """``func()`` in a daemon thread; cancelling the future abandons the thread.

    A thread of asyncio's default pool stuck past its time limit would keep the process from
    exiting; a daemon thread does not.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # else the wait timed out: nobody wants the answer any more
            outcome()

    def work() -> None:
        try:
            result = func()
        except Exception as exc:
            outcome = functools.partial(future.set_exception, exc)
        else:
            outcome = functools.partial(future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed while this thread hung
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name="tikrelay-health", daemon=True).start()
    return future
