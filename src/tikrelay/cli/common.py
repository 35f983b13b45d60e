"""What every command shares: exit codes, the ``--config`` option, one-line error exits."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from tikrelay.config import ConfigError, Settings, load_settings
from tikrelay.config.loader import CONFIG_ENV

EXIT_OK = 0
#: The command was understood but refused (e.g. cancelling a job that already finished).
EXIT_REFUSED = 1
#: A configuration mistake: bad key or value, unreadable file, unreachable database.
EXIT_CONFIG = 2

ConfigOption = typer.Option(None, "--config", "-c", help="Config file (default: $TIKRELAY_CONFIG).")


def fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def config_path(config: Path | None) -> Path | None:
    """The config file in use: ``--config``, else ``$TIKRELAY_CONFIG``, else none."""
    named = config or os.environ.get(CONFIG_ENV)
    return Path(named) if named else None


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
