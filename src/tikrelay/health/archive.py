"""The ``archive NAME`` checks: each archive destination can be written to. Nothing is written:
a folder is looked at (its nearest existing parent when it is not there yet), a bucket or
container is listed once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tikrelay.config.settings import ArchiveDestination, Settings
from tikrelay.domain.errors import TikrelayError
from tikrelay.health.limits import NETWORK_TIMEOUT
from tikrelay.health.report import Check, failed, passed
from tikrelay.health.threads import in_daemon_thread


async def check_archives(settings: Settings) -> list[Check]:
    archives = {
        name: found.archive
        for name, found in settings.destinations.items()
        if found.archive is not None
    }
    return list(await asyncio.gather(*(_check(name, a) for name, a in archives.items())))


async def _check(name: str, archive: ArchiveDestination) -> Check:
    what = f"archive {name}"
    if archive.path is not None:
        return check_folder(what, archive.path)
    try:
        return await asyncio.wait_for(
            in_daemon_thread(lambda: list_once(what, archive)), NETWORK_TIMEOUT
        )
    except TimeoutError:
        return failed(
            what, f"{archive.url} did not answer within {NETWORK_TIMEOUT:g} s: check endpoint_url"
        )


def check_folder(what: str, folder: Path) -> Check:
    path = folder.expanduser()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return failed(what, f"{path} cannot be a folder: {existing} is a file; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        return failed(what, f"{existing} is not writable by this user: change its owner or path")
    if existing != path:
        return passed(what, f"{path} does not exist yet; it is created on the first archive")
    return passed(what, f"{path} is writable")


def list_once(what: str, archive: ArchiveDestination) -> Check:
    from tikrelay.archive import open_archive  # obstore loads here

    try:
        store = open_archive(url=archive.url, endpoint_url=archive.endpoint_url)
        next(iter(store.list("tiktok")), None)
    except ValueError as exc:
        return failed(what, str(exc))
    except TikrelayError as exc:
        return failed(what, f"{exc.kind}: {exc.message}")
    return passed(what, f"{store.describe()} answers and can be listed")
