"""What `run`, `serve` and `worker` share: the reposter and its queue opened with clear errors,
the progress display, a worker run that stops gracefully on SIGTERM/SIGINT, and one clear line
when the disk fills up."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import fail
from tikrelay.cli.progress import LiveProgress, progress_display
from tikrelay.config.paths import StatePaths
from tikrelay.domain.errors import disk_full

#: The disk under state_dir (or the database server's) is full; jobs were given back.
EXIT_DISK_FULL = 4

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.engine.worker import Worker
    from tikrelay.reposter.relay import Relay
    from tikrelay.store import JobQueue


def open_relay(settings: Settings, pool_size: int) -> tuple[Relay, JobQueue]:
    """The reposter for these settings and its queue; a mistake exits 2 with its message."""
    from tikrelay.reposter.model import SetupError
    from tikrelay.runtime.app import build_relay
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
    else:
        async with relay.sender:
            await worker.run()
    if worker.fatal is not None:
        raise worker.fatal


@contextmanager
def stopping_on_full_disk(settings: Settings) -> Iterator[None]:
    """A full disk anywhere in the block ends the command with one ``error:`` line naming the
    folder and the space needed, and exit code 4; the jobs it held were given back (or are
    recovered by the next start), and partial downloads removed, so the run after space is
    freed delivers everything once."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        found = disk_full(exc)
        if found is None:
            raise
        raise fail(_full_disk_message(settings, found), EXIT_DISK_FULL) from None


def _full_disk_message(settings: Settings, found: BaseException) -> str:
    from tikrelay.reposter.deliver import upload_limit

    advice = "free some space and run again: unfinished jobs were given back and run then"
    if getattr(found, "sqlstate", None) is not None:  # the PostgreSQL server's own disk
        return f"the database server's disk is full (database_url): {advice}"
    # state_dir, or its media cache when that is a disk of its own with less room.
    paths = StatePaths(settings.state_dir.absolute())
    folder = min((paths.root, paths.media_cache), key=lambda f: (_free(f), f != paths.root))
    need = 2 * upload_limit(settings) + 16 * 1000 * 1000  # a download, its prepared copy, the db
    return (
        f"no space left on the disk of {folder} ({_size(_free(folder))} free): "
        f"tikrelay needs at least {_size(need)} free there; {advice}"
    )


def _free(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free


def _size(count: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
