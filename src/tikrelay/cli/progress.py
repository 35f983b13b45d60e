"""How a run shows what it does: a live display in a terminal, plain lines otherwise (cron,
logs, pipes)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

import typer

from tikrelay.reposter.progress import Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID


def polled_line(source: str, listed: int, queued: int, left_out: int) -> str:
    line = f"polled {source}: {listed} listed, {queued} to deliver"
    if left_out:
        line += f", {left_out} older left out on first sight (backfill)"
    return line


class PlainProgress(Progress):
    """One line per event, for logs and cron mail."""

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        typer.echo(polled_line(source, listed, queued, left_out))

    def delivered(self, post: str, destination: str, messages: int) -> None:
        noun = "message" if messages == 1 else "messages"
        typer.echo(f"delivered {post} → {destination} ({messages} {noun})")

    def filtered(self, post: str, destination: str, reason: str) -> None:
        typer.echo(f"filtered {post} → {destination}: {reason}")

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        typer.echo(f"{'retry later' if retry else 'failed'}: {what}: {reason}")


class LiveProgress(Progress):
    """A bar of deliveries and a line per delivery in flight with its stage."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichBar

        self._bar: RichBar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self._total = self._bar.add_task("deliveries", total=0)
        self._rows: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> LiveProgress:
        self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.refresh()
        self._bar.stop()

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        task = self._bar.tasks[self._total]
        self._bar.update(self._total, total=(task.total or 0) + queued)
        self._bar.console.log(polled_line(source, listed, queued, left_out))

    def stage(self, post: str, destination: str, stage: str) -> None:
        key = (post, destination)
        label = f"  {post} → {destination}: {stage.lower().replace('_', ' ')}"
        if key not in self._rows:
            self._rows[key] = self._bar.add_task(label, total=None)
        else:
            self._bar.update(self._rows[key], description=label)

    def delivered(self, post: str, destination: str, messages: int) -> None:
        self._drop(post, destination)
        self._bar.advance(self._total)
        self._bar.console.log(f"delivered {post} → {destination} ({messages} messages)")

    def filtered(self, post: str, destination: str, reason: str) -> None:
        self._drop(post, destination)
        self._bar.advance(self._total)
        self._bar.console.log(f"filtered {post} → {destination}: {reason}")

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        post, _, destination = what.partition(" → ")
        self._drop(post, destination)
        self._bar.console.log(f"{'retry later' if retry else 'failed'}: {what}: {reason}")

    def _drop(self, post: str, destination: str) -> None:
        task = self._rows.pop((post, destination), None)
        if task is not None:
            self._bar.remove_task(task)


def progress_display() -> PlainProgress | LiveProgress:
    return LiveProgress() if sys.stdout.isatty() else PlainProgress()
