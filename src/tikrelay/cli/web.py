"""``tikrelay web``: the dashboard's REST API, /metrics and /docs alone, until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.cli.relaying import open_runtime
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.web.server import WebListener

# The web server is imported inside the commands: `tikrelay --help` should not pay for it.


def web_listener(settings: Settings) -> WebListener:
    """The token checked and ``web.listen`` bound; a mistake exits 2 with its message."""
    from tikrelay.web.auth import WebSetupError
    from tikrelay.web.server import open_listener

    try:
        return open_listener(settings)
    except WebSetupError as exc:
        raise fail(str(exc)) from None


def web(config: Path | None = ConfigOption) -> None:
    """Serve the REST API, /metrics and /docs on web.listen until SIGTERM or Ctrl-C (exit 0).
    No jobs run here (tikrelay serve or tikrelay worker runs them); the token comes from
    TIKRELAY_WEB_TOKEN."""
    settings = settings_from(config)
    configure_logging(level=logging.INFO)
    listener = web_listener(settings)
    try:
        runtime = open_runtime(settings, config, reposter=False)
        try:
            from tikrelay.web.server import serve_alone

            typer.echo(f"web: listening on {listener.url}; Ctrl-C stops")
            serve_alone(runtime, listener)
        finally:
            runtime.close()
    finally:
        listener.close()
    typer.echo("stopped")
