"""``tikrelay tiktok-auth NAME``: authorize a TikTok account that tiktok destinations post to."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.domain.errors import TikrelayError


def tiktok_auth(
    name: str = typer.Argument(help="The account's name, as destinations name it (account:)."),
    config: Path | None = ConfigOption,
) -> None:
    """Authorize a TikTok account: open the printed URL, agree, and paste the address the
    browser is sent to (or the code in it). Its tokens are stored encrypted with
    TIKRELAY_SECRET_KEY and refreshed before they expire. Exit 0: authorized; 1: TikTok or
    the paste refused it; 2: config error."""
    # httpx, cryptography and the reposter load with this command only.
    from tikrelay.reposter.tiktok_accounts import complete_authorization, start_authorization
    from tikrelay.store import DatabaseError, open_queue

    settings = settings_from(config)
    try:
        started = start_authorization(settings, name)
    except (ValueError, TikrelayError) as exc:
        raise fail(str(getattr(exc, "message", exc))) from None
    typer.echo("Open this address in a browser signed in to the TikTok account, and agree:")
    typer.echo(f"    {started.url}")
    typer.echo("Then paste the address the browser was sent to (or the code in it):")
    pasted = sys.stdin.readline()
    try:
        queue = open_queue(settings, pool_size=1)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    try:
        tokens = asyncio.run(complete_authorization(settings, queue, name, started, pasted))
    except ValueError as exc:
        raise fail(str(exc), 1) from None
    except TikrelayError as exc:
        raise fail(exc.message, 1) from None
    finally:
        queue.engine.dispose()
    typer.echo(
        f"authorized TikTok account {name!r} (open_id {tokens.open_id}, scopes {tokens.scope}); "
        f"the tokens are stored encrypted and refreshed before they expire"
    )
