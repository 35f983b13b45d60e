"""``tikrelay run --once``: poll every source, deliver what is new, drain the queue, summarise."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tikrelay.cli.common import EXIT_CONFIG, ConfigOption, fail, settings_from
from tikrelay.cli.relaying import open_runtime, showing_progress, stopping_on_full_disk
from tikrelay.config.logging import configure_logging
from tikrelay.domain.errors import ErrorKind, TikrelayError

if TYPE_CHECKING:
    from tikrelay.store.reports import RunSummary

#: The run finished, but a post or a source failed, or waits for a retry.
EXIT_INCOMPLETE = 3


def run(
    config: Path | None = ConfigOption,
    once: Annotated[
        bool, typer.Option("--once", help="Poll every source once, deliver, and exit (cron).")
    ] = False,
) -> None:
    """Poll the sources and deliver new posts. Exit 0: all done; 2: config error; 3: something
    failed or waits for a retry; 4: the disk is full (jobs given back)."""
    if not once:
        raise fail("use `tikrelay run --once` for a single run (cron); `tikrelay serve` runs on")
    settings = settings_from(config)
    configure_logging(level=logging.WARNING)
    with stopping_on_full_disk(settings):
        runtime = open_runtime(settings, config)
        try:
            with showing_progress(runtime):
                summary = runtime.run_once()
        except TikrelayError as exc:  # Telegram unreachable or the token refused, at start
            if exc.kind is ErrorKind.DISK_FULL:
                raise
            code = EXIT_CONFIG if exc.kind is ErrorKind.AUTH else EXIT_INCOMPLETE
            message = f"{exc.message} (telegram.api_url: {settings.telegram.api_url})"
            raise fail(message, code) from None
        finally:
            runtime.close()
    report(summary)
    # The run is over and the process ends: the objects alive now need no collecting, which
    # the interpreter's collections at exit would spend about 0.3 s on (a cron run pays it).
    gc.freeze()
    if not summary.ok:
        raise typer.Exit(EXIT_INCOMPLETE)


def report(summary: RunSummary) -> None:
    """The closing summary: sources polled, deliveries, posts the filters kept out, and every
    failure with its reason."""
    typer.echo(
        f"polled {summary.polled} of {summary.polled + len(summary.failed_sources)} sources: "
        f"{summary.new_posts} new deliveries, {summary.delivered} delivered, "
        f"{len(summary.failed)} failed or waiting"
        + (f", {summary.filtered} filtered" if summary.filtered else "")
        + (f", {summary.left_out} older left out (backfill)" if summary.left_out else "")
    )
    if summary.scheduled and summary.next_slot is not None:
        waiting = "post waits for its" if summary.scheduled == 1 else "posts wait for their"
        typer.echo(
            f"{summary.scheduled} {waiting} slot in a destination's schedule; the next slot is "
            f"at {summary.next_slot.astimezone():%Y-%m-%d %H:%M %Z}"
        )
    for source in summary.failed_sources:
        when = "will retry" if source.waiting else "failed"
        typer.echo(f"source {source.source} {when}: {source.reason}")
    for post in summary.failed:
        when = "will retry" if post.waiting else "failed"
        typer.echo(f"post {post.post} ({post.url}) → {post.destination} {when}: {post.reason}")
