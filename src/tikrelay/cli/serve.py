"""``tikrelay serve``: poll every source on its schedule and deliver, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.cli.progress import LiveProgress, progress_display
from tikrelay.cli.run import report, run_until_stopped
from tikrelay.config.logging import configure_logging


def serve(config: Path | None = ConfigOption) -> None:
    """Poll every source every `every_minutes` (with jitter) and deliver new posts, until
    SIGTERM or Ctrl-C (running jobs get jobs.shutdown_grace_seconds to finish)."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)

    from tikrelay.pipeline.app import (
        SetupError,
        build_relay,
        enqueue_polls,
        relay_service,
        schedule_polls,
        summarize,
    )
    from tikrelay.pipeline.worker import Worker
    from tikrelay.store import DatabaseError, open_queue

    try:
        relay = build_relay(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    size = settings.jobs.worker_concurrency
    try:
        queue = open_queue(settings, pool_size=size + 2)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    started = queue.clock()
    service = relay_service(queue, settings, relay)
    schedule_polls(service, relay, random.Random())  # noqa: S311 - jitter, not secrets
    enqueue_polls(service, relay)  # the first poll now, not one interval from now
    typer.echo(f"serving {len(relay.sources)} sources; Ctrl-C stops")
    display = progress_display()
    relay.progress = display
    try:
        with contextlib.ExitStack() as stack:
            if isinstance(display, LiveProgress):
                stack.enter_context(display)
            asyncio.run(run_until_stopped(relay, Worker(service, concurrency=size)))
        report(summarize(queue, started))
    finally:
        queue.engine.dispose()
    typer.echo("stopped")
