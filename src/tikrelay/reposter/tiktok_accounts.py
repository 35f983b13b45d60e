"""TikTok accounts for tiktok destinations: authorizing one (``tikrelay tiktok-auth NAME``: the
authorization URL, then the code from the address TikTok sent the browser to, exchanged for
tokens that are stored sealed under ``TIKRELAY_SECRET_KEY``), and its stored tokens opened for
the jobs and doctor that use them (``account_credentials``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from tikrelay.config.settings import Settings
from tikrelay.destinations.tiktok_auth import (
    AccountCredentials,
    Authorization,
    OAuthClient,
    TokenBox,
    Tokens,
    begin_authorization,
    code_from_redirect,
    setup_problem,
)
from tikrelay.store import JobQueue, tiktok_sql

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def start_authorization(settings: Settings, name: str) -> Authorization:
    """The URL for the account's owner to open; ValueError says what is missing first."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is no account name: use letters, digits, '.', '_' and '-' (200 at most)"
        )
    problem = setup_problem(settings.tiktok_app)
    if problem is not None:
        raise ValueError(problem)
    return begin_authorization(settings.tiktok_app)


async def complete_authorization(
    settings: Settings, queue: JobQueue, name: str, started: Authorization, pasted: str
) -> Tokens:
    """The account ``name`` authorized by what the owner pasted (the address, or the code),
    stored; ValueError for a wrong paste, TikrelayError when TikTok refuses."""
    code = code_from_redirect(pasted, started.state)
    box = TokenBox.from_environment()
    async with httpx.AsyncClient() as http:
        oauth = OAuthClient(settings.tiktok_app, http)
        tokens = await oauth.exchange(code, started.verifier, queue.clock())
    with queue.transaction() as conn:
        tiktok_sql.save_account(conn, sealed_account(name, tokens, box), queue.clock())
    return tokens


def sealed_account(name: str, tokens: Tokens, box: TokenBox) -> tiktok_sql.AccountRow:
    """The account's row: its tokens sealed, never in clear."""
    return tiktok_sql.AccountRow(
        name,
        tokens.open_id,
        tokens.scope,
        box.seal(tokens),
        tokens.access_expires_at,
        tokens.refresh_expires_at,
    )


def opened_tokens(row: tiktok_sql.AccountRow, box: TokenBox) -> Tokens:
    """The tokens of a stored account (its times in UTC whatever the database gives back)."""
    access, refresh = box.open(row.sealed, row.name)
    return Tokens(
        row.open_id,
        row.scope,
        access,
        refresh,
        _aware(row.access_expires_at),
        _aware(row.refresh_expires_at),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def account_credentials(
    name: str,
    oauth: OAuthClient,
    *,
    now: Callable[[], datetime],
    read: Callable[[], Awaitable[tiktok_sql.AccountRow | None]],
    write: Callable[[tiktok_sql.AccountRow], Awaitable[None]],
    lock: asyncio.Lock | None = None,
) -> AccountCredentials | None:
    """The account's stored tokens, opened, refreshed when due and stored again sealed (``read``
    and ``write`` its row); None when it was never authorized."""
    box = TokenBox.from_environment()

    async def load() -> Tokens | None:
        row = await read()
        return None if row is None else opened_tokens(row, box)

    async def save(tokens: Tokens) -> None:
        await write(sealed_account(name, tokens, box))

    tokens = await load()
    if tokens is None:
        return None
    return AccountCredentials(name, tokens, oauth, now=now, save=save, load=load, lock=lock)
