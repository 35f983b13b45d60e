"""``tikrelay worker``: run jobs until stopped (or, with ``--drain``, until none are due)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.cli.relaying import run_until_stopped, stopping_on_full_disk
from tikrelay.config.logging import configure_logging


def worker(
    config: Path | None = ConfigOption,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kinds", help="Extra job kinds: module:attribute naming a Registry."),
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit once no job is due (for cron runs).")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=1000, help="Default: jobs.worker_concurrency."),
    ] = None,
) -> None:
    """Run jobs. Start several, on one or many machines, against one PostgreSQL. With sources
    or destinations in the config, the reposter's jobs too."""
    from tikrelay.engine.worker import Worker
    from tikrelay.reposter.model import SetupError
    from tikrelay.runtime.app import build_relay, relay_service
    from tikrelay.store import DatabaseError, open_queue

    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    relay = None
    if settings.sources or settings.destinations:
        try:
            relay = build_relay(settings)
        except SetupError as exc:
            raise fail(str(exc)) from None
    size = concurrency or settings.jobs.worker_concurrency
    try:
        queue = open_queue(settings, pool_size=size + 2)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    try:
        service = relay_service(queue, settings, relay, kinds)
    except ValueError as exc:
        queue.engine.dispose()
        raise fail(str(exc)) from None
    try:
        with stopping_on_full_disk(settings):
            asyncio.run(run_until_stopped(relay, Worker(service, concurrency=size, drain=drain)))
    finally:
        queue.engine.dispose()
