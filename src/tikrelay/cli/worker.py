"""``tikrelay worker``: run jobs until stopped (or, with ``--drain``, until none are due)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.relaying import open_runtime, stopping_on_full_disk
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
    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    # The reposter's jobs too when there is a reposter to run: sources or destinations in the
    # file, or a bot token (the catalog may hold sources added from the command line).
    reposter = bool(settings.sources or settings.destinations or settings.telegram.bot_token)
    with stopping_on_full_disk(settings):
        runtime = open_runtime(settings, config, reposter=reposter, extra_kinds=kinds)
        try:
            runtime.work(drain=drain, concurrency=concurrency)
            if drain:  # a cron run: jobs past their retention go now (serve prunes hourly)
                runtime.prune_jobs()
        finally:
            runtime.close()
