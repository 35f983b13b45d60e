"""Every check, run together: :func:`examine` returns the whole :class:`Report`.

The checks that wait on a network or a process run at the same time, each with its time limit,
so a checkup ends in seconds even when every peer is down. The report is redacted before it is
returned (the bot token, passwords in URLs), so any face may show it as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.config.settings import Settings
from tikrelay.health.archive import check_archives
from tikrelay.health.database import check_database
from tikrelay.health.ffmpeg import check_ffmpeg
from tikrelay.health.files import check_cookies, check_state_folder
from tikrelay.health.network import ca_folder, check_network
from tikrelay.health.report import Check, Report, passed
from tikrelay.health.sources import check_sources
from tikrelay.health.telegram import check_telegram
from tikrelay.health.tiktok import check_tiktok


async def examine(settings: Settings, *, config_file: Path | None) -> Report:
    """Check everything a run of ``settings`` needs. Nothing is posted, and the database and
    the state folder are only looked at, not created.

    ``config_file``: the file ``settings`` were loaded from, named by the ``config`` check.
    """
    loaded = (
        f"{config_file} loads"
        if config_file
        else "no file given: defaults and TIKRELAY_* variables"
    )
    checks = [passed("config", loaded), check_sources(settings)]
    network = settings.network
    with ca_folder() as folder:
        telegram, archives, tiktok, ffmpeg, database, reachability = await asyncio.gather(
            check_telegram(settings),
            check_archives(settings),
            check_tiktok(settings),
            alone(check_ffmpeg(settings.ffmpeg)),
            alone(check_database(settings)),
            check_network(network, folder),
        )
    checks += [*telegram, *archives, *tiktok, *ffmpeg, *database]
    checks.append(check_state_folder(settings.state_dir))
    if network.cookies_file is not None:
        checks.append(check_cookies(network.cookies_file))
    checks += reachability
    clean = redactor(settings)
    return Report(tuple(check.rewritten(clean) for check in checks))


def redactor(settings: Settings) -> Callable[[str], str]:
    """Removes the bot token and URL passwords from a text; each check already tries not to
    show them, this is the last guard before any face shows the report."""
    token = settings.telegram.bot_token
    secret = token.get_secret_value() if token else ""

    def clean(text: str) -> str:
        return redact_text(text.replace(secret, REDACTED) if secret.strip() else text)

    return clean


async def alone(check: Awaitable[Check]) -> list[Check]:
    return [await check]
