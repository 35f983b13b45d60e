"""``tikrelay serve``: poll every source on its schedule and deliver, until stopped."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.relaying import (
    open_relay,
    run_until_stopped,
    showing_progress,
    stopping_on_full_disk,
)
from tikrelay.cli.run import report
from tikrelay.config.logging import configure_logging


def serve(config: Path | None = ConfigOption) -> None:
    """Poll every source every `every_minutes` (with jitter) and deliver new posts, until
    SIGTERM or Ctrl-C (running jobs get jobs.shutdown_grace_seconds to finish)."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)

    from tikrelay.engine.worker import Worker
    from tikrelay.runtime.app import enqueue_polls, relay_service, schedule_polls, summarize

    size = settings.jobs.worker_concurrency
    with stopping_on_full_disk(settings):
        relay, queue = open_relay(settings, size + 2)
        try:
            started = queue.clock()
            service = relay_service(queue, settings, relay)
            schedule_polls(service, relay, random.Random())  # noqa: S311 - jitter, not secrets
            enqueue_polls(service, relay)  # the first poll now, not one interval from now
            typer.echo(f"serving {len(relay.sources)} sources; Ctrl-C stops")
            with showing_progress(relay):
                asyncio.run(run_until_stopped(relay, Worker(service, concurrency=size)))
            report(summarize(queue, started))
        finally:
            queue.engine.dispose()
    typer.echo("stopped")
