"""``tikrelay serve``: poll every source on its schedule and deliver, until stopped; the bot and
the web server beside, when the config asks for them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.relaying import open_runtime, showing_progress, stopping_on_full_disk
from tikrelay.cli.run import report
from tikrelay.cli.web import web_listener
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.runtime.app import Companion, Runtime
    from tikrelay.web.server import WebListener


def serve(config: Path | None = ConfigOption) -> None:
    """Poll every source every `every_minutes` (with jitter) and deliver new posts, answer
    people who write to the bot (bot.enabled) and serve the REST API and /metrics (when
    web.listen is set), until SIGTERM or Ctrl-C (running jobs get jobs.shutdown_grace_seconds
    to finish)."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    # Bound first: a port in use is said before any job starts.
    listener = web_listener(settings) if settings.web.wanted_by_serve else None
    try:
        with stopping_on_full_disk(settings):
            runtime = open_runtime(settings, config)
            try:
                sources = len(runtime.reposter.routes.sources) if runtime.reposter else 0
                companions, beside = _companions(runtime, listener)

                def started() -> None:
                    typer.echo(f"serving {sources} sources{beside}; Ctrl-C stops")

                with showing_progress(runtime):
                    summary = runtime.serve(on_start=started, companions=companions)
                report(summary)
            finally:
                runtime.close()
    finally:
        if listener is not None:
            listener.close()
    typer.echo("stopped")


def _companions(runtime: Runtime, listener: WebListener | None) -> tuple[list[Companion], str]:
    """What runs beside the worker, and how the start line names it."""
    companions: list[Companion] = []
    names = []
    if runtime.settings.bot.enabled:
        from tikrelay.bot.service import BotService

        companions.append(BotService(runtime).take_updates)
        names.append("the bot")
    if listener is not None:
        from tikrelay.web.server import companion

        companions.append(companion(runtime, listener))
        names.append(f"the web at {listener.url}")
    return companions, "".join(f" and {name}" for name in names)
