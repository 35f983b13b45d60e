"""What `run`, `serve` and `worker` share: the reposter and its queue opened with clear errors,
the progress display, and a worker run that stops gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tikrelay.cli.common import fail
from tikrelay.cli.progress import LiveProgress, progress_display

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.pipeline.relay import Relay
    from tikrelay.pipeline.worker import Worker
    from tikrelay.store import JobQueue


def open_relay(settings: Settings, pool_size: int) -> tuple[Relay, JobQueue]:
    """The reposter for these settings and its queue; a mistake exits 2 with its message."""
    from tikrelay.pipeline.app import SetupError, build_relay
    from tikrelay.store import DatabaseError, open_queue

    try:
        relay = build_relay(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    try:
        queue = open_queue(settings, pool_size=pool_size)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    return relay, queue


@contextmanager
def showing_progress(relay: Relay) -> Iterator[None]:
    """A live display in a terminal, plain lines otherwise, for as long as the block runs."""
    display = progress_display()
    relay.progress = display
    if isinstance(display, LiveProgress):
        with display:
            yield
    else:
        yield


async def run_until_stopped(relay: Relay | None, worker: Worker) -> None:
    """Run the worker (with the reposter's Telegram sender open, if there is a reposter); the
    first SIGTERM/SIGINT lets running jobs finish (jobs.shutdown_grace_seconds), a second one
    releases them at once."""
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        worker.stop(now=signals > 1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    if relay is None:
        await worker.run()
        return
    async with relay.sender:
        await worker.run()
