"""The shared media cache: one folder per post (``StatePaths.post_media``), locked while a job
downloads or prepares into it, deleted once no delivery needs it any more."""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.store import JobQueue
from tikrelay.store import relay as sql

log = structlog.get_logger("tikrelay.media")
LOCK_NAME = ".lock"


class FolderBusyError(Exception):
    """Another job holds the folder."""


@contextmanager
def locked(folder: Path, *, wait: bool = True) -> Iterator[None]:
    """One job at a time in a post's folder, across jobs and processes on this machine."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_NAME).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise FolderBusyError(str(folder)) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _last_change(folder: Path) -> float:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file() and p.name != LOCK_NAME]
    return max(times, default=folder.stat().st_mtime)


def prune(settings: Settings, queue: JobQueue, kind: str, now: float | None = None) -> int:
    """Delete the folders of posts that no job of ``kind`` waits for or runs, untouched for
    ``delivery.keep_media_hours``; return how many went."""
    root = StatePaths(settings.state_dir).media_cache
    if not root.is_dir():
        return 0
    keep = settings.delivery.keep_media_hours * 3600
    moment = time.time() if now is None else now
    with queue.engine.connect() as conn:
        busy = sql.posts_in_work(conn, kind)
    removed = 0
    for site in sorted(p for p in root.iterdir() if p.is_dir()):
        for folder in sorted(p for p in site.iterdir() if p.is_dir()):
            if f"{site.name}:{folder.name}" in busy or moment - _last_change(folder) < keep:
                continue
            try:
                with locked(folder, wait=False):
                    for child in folder.iterdir():  # the lock file goes last, with the folder
                        if child.name != LOCK_NAME:
                            shutil.rmtree(child) if child.is_dir() else child.unlink()
            except FolderBusyError:
                continue  # a job started on it meanwhile
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        log.info("media_pruned", folders=removed)
    return removed
