"""``tikrelay doctor``: check everything a run needs, one line per check, each problem with its fix.

The checks live in :mod:`tikrelay.health`, for the bot's /health and the web's /readyz as well;
this command loads the config, prints the report and chooses the exit code.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import ConfigOption, config_path, settings_from
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.health import Check, Report

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
    from tikrelay.health import examine  # the checks' libraries load only for doctor

    report = asyncio.run(examine(settings, config_file=config_path(config)))
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
    from tikrelay.health import Status

    # The report comes redacted (bot token, URL passwords): its text is shown as it is.
    if check.status is Status.SKIPPED:
        typer.secho(f"· {check.name}: {check.detail}", dim=True)
    elif check.status is Status.PASSED:
        typer.secho(f"✓ {check.name}: {check.detail}", fg=typer.colors.GREEN)
    for problem in check.problems:
        typer.secho(f"✗ {check.name}: {problem}", fg=typer.colors.RED)
    for note in check.notes:
        typer.secho(f"    note: {note}", dim=True)
