"""``tikrelay run --once``: poll every source, deliver what is new, drain the queue, summarise."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tikrelay.cli.common import EXIT_CONFIG, ConfigOption, fail, settings_from
from tikrelay.cli.relaying import (
    open_relay,
    run_until_stopped,
    showing_progress,
    stopping_on_full_disk,
)
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.runtime.app import RunSummary

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
        summary = _run_once(settings)
    report(summary)
    if not summary.ok:
        raise typer.Exit(EXIT_INCOMPLETE)


def _run_once(settings: Settings) -> RunSummary:
    from tikrelay.domain.errors import ErrorKind, TikrelayError
    from tikrelay.engine.worker import Worker, pid_alive
    from tikrelay.runtime.app import enqueue_polls, relay_service, summarize

    size = settings.jobs.worker_concurrency
    relay, queue = open_relay(settings, size + 2)
    try:
        started = queue.clock()
        service = relay_service(queue, settings, relay)
        enqueue_polls(service, relay)
        # Jobs a killed run left RUNNING are due again at once; otherwise "nothing due" would
        # skip them until their lease ran out.
        queue.recover(
            host=socket.gethostname(),
            is_alive=pid_alive,
            lease=timedelta(seconds=settings.jobs.lease_seconds),
        )
        if queue.has_due_work(service.registry.names()):
            try:
                with showing_progress(relay):
                    worker = Worker(service, concurrency=size, drain=True)
                    asyncio.run(run_until_stopped(relay, worker))
            except TikrelayError as exc:  # Telegram unreachable or the token refused, at start
                if exc.kind is ErrorKind.DISK_FULL:
                    raise
                code = EXIT_CONFIG if exc.kind is ErrorKind.AUTH else EXIT_INCOMPLETE
                message = f"{exc.message} (telegram.api_url: {settings.telegram.api_url})"
                raise fail(message, code) from None
        summary = summarize(queue, started)
        relay.prune_media()
    finally:
        queue.engine.dispose()
    return summary


def report(summary: RunSummary) -> None:
    """The closing summary: sources polled, deliveries, and every failure with its reason."""
    typer.echo(
        f"polled {summary.polled} of {summary.polled + len(summary.failed_sources)} sources: "
        f"{summary.new_posts} new deliveries, {summary.delivered} delivered, "
        f"{len(summary.failed)} failed or waiting"
        + (f", {summary.left_out} older left out (backfill)" if summary.left_out else "")
    )
    for source, reason, waiting in summary.failed_sources:
        when = "will retry" if waiting else "failed"
        typer.echo(f"source {source} {when}: {reason}")
    for post in summary.failed:
        when = "will retry" if post.waiting else "failed"
        typer.echo(f"post {post.post} ({post.url}) → {post.destination} {when}: {post.reason}")
