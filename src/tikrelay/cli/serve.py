"""``tikrelay serve``: poll every source on its schedule and deliver, until stopped."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.relaying import open_runtime, showing_progress, stopping_on_full_disk
from tikrelay.cli.run import report
from tikrelay.config.logging import configure_logging


def serve(config: Path | None = ConfigOption) -> None:
    """Poll every source every `every_minutes` (with jitter) and deliver new posts, and answer
    people who write to the bot (bot.enabled), until SIGTERM or Ctrl-C (running jobs get
    jobs.shutdown_grace_seconds to finish)."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    with stopping_on_full_disk(settings):
        runtime = open_runtime(settings, config)
        try:
            sources = len(runtime.reposter.routes.sources) if runtime.reposter else 0
            companions = []
            if settings.bot.enabled:
                from tikrelay.bot.service import BotService

                companions.append(BotService(runtime).take_updates)
            with_bot = " and the bot" if companions else ""

            def started() -> None:
                typer.echo(f"serving {sources} sources{with_bot}; Ctrl-C stops")

            with showing_progress(runtime):
                summary = runtime.serve(on_start=started, companions=companions)
            report(summary)
        finally:
            runtime.close()
    typer.echo("stopped")
