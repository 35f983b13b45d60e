"""``tikrelay doctor``: check everything a run needs, one line per check, each problem with its fix.

The checks live in :mod:`tikrelay.health`, for the bot's /health and the web's /readyz as well;
this command loads the config, prints the report and chooses the exit code.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.config.loader import CONFIG_ENV
from tikrelay.config.logging import configure_logging
from tikrelay.health import Check, Report, Status, examine

#: Some check failed; each ✗ line says what to fix.
EXIT_PROBLEMS = 1


def doctor(config: Path | None = ConfigOption) -> None:
    """Check the config, bot token, destinations, ffmpeg, database, state folder, cookies and
    network, and say what to fix. Exit 0: all passed; 1: something to fix; 2: the config does
    not load."""
    settings = settings_from(config)
    configure_logging(level=logging.ERROR)
    # Library log records (python-telegram-bot logs a refused token with a traceback) would
    # interleave with the report, which already has a line for every failure.
    logging.getLogger().addHandler(logging.NullHandler())
    source = config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    report = asyncio.run(examine(settings, config_file=source))
    show(report)
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


def show(report: Report) -> None:
    """Every check's lines, then the count."""
    for check in report.checks:
        show_check(check)
    if report.ok:
        typer.echo(f"all {len(report.done)} checks passed")
    else:
        typer.echo(f"{len(report.failures)} of {len(report.done)} checks failed")


def show_check(check: Check) -> None:
    # The report comes redacted (bot token, URL passwords): its text is shown as it is.
    if check.status is Status.SKIPPED:
        typer.secho(f"· {check.name}: {check.detail}", dim=True)
    elif check.status is Status.PASSED:
        typer.secho(f"✓ {check.name}: {check.detail}", fg=typer.colors.GREEN)
    for problem in check.problems:
        typer.secho(f"✗ {check.name}: {problem}", fg=typer.colors.RED)
    for note in check.notes:
        typer.secho(f"    note: {note}", dim=True)
