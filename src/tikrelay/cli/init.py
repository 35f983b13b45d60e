"""``tikrelay init``: write a commented config to start from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tikrelay.cli.common import EXIT_REFUSED, fail
from tikrelay.config.example import EXAMPLE


def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("tikrelay.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented config file (every key, its default and what it does)."""
    if path.exists() and not force:
        raise fail(f"{path} exists already; use --force to replace it", EXIT_REFUSED)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE, encoding="utf-8")
    typer.echo(f"wrote {path}: set destinations and sources, then export TELEGRAM_BOT_TOKEN")
