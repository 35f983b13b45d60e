"""``tikrelay bot``: the interactive bot alone, long polling, until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.relaying import open_runtime, stopping_on_full_disk
from tikrelay.config.logging import configure_logging


def bot(config: Path | None = ConfigOption) -> None:
    """Answer links people send the bot with the media, until SIGTERM or Ctrl-C (exit 0).
    The token comes from TELEGRAM_BOT_TOKEN; sources and destinations may be absent."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    with stopping_on_full_disk(settings):
        runtime = open_runtime(settings, config)
        try:
            from tikrelay.bot.service import BotService

            service = BotService(runtime)
            typer.echo("the bot is listening; Ctrl-C stops")
            service.run()
        finally:
            runtime.close()
    typer.echo("stopped")
