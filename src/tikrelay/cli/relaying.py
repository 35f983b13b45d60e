"""What `run`, `serve` and `worker` share at the edge: the runtime opened with clear errors, the
progress display, and one clear line when the disk fills up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import config_path, fail
from tikrelay.cli.progress import LiveProgress, progress_display
from tikrelay.domain.errors import disk_full

#: The disk under state_dir (or the database server's) is full; jobs were given back.
EXIT_DISK_FULL = 4

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.runtime.app import Runtime


def open_runtime(
    settings: Settings,
    config: Path | None,
    *,
    reposter: bool = True,
    extra_kinds: list[str] | None = None,
) -> Runtime:
    """The program for these settings (from ``config``); a mistake exits 2 with its message."""
    from tikrelay.reposter.model import SetupError
    from tikrelay.runtime.app import Runtime
    from tikrelay.store import DatabaseError

    try:
        return Runtime.open(
            settings, config_file=config_path(config), reposter=reposter, extra_kinds=extra_kinds
        )
    except (SetupError, DatabaseError) as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # a bad --kinds module:attr
        raise fail(str(exc)) from None


@contextmanager
def showing_progress(runtime: Runtime) -> Iterator[None]:
    """A live display in a terminal, plain lines otherwise, for as long as the block runs."""
    display = progress_display()
    runtime.listeners.add(display)
    try:
        if isinstance(display, LiveProgress):
            with display:
                yield
        else:
            yield
    finally:
        runtime.listeners.remove(display)


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
        from tikrelay.runtime.app import describe_full_disk

        raise fail(describe_full_disk(settings, found), EXIT_DISK_FULL) from None
