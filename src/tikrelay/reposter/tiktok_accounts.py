"""Authorizing a TikTok account for tiktok destinations (``tikrelay tiktok-auth NAME``): the
authorization URL, then the code from the address TikTok sent the browser to, exchanged for
tokens that are stored sealed under ``TIKRELAY_SECRET_KEY``."""

from __future__ import annotations

import re

import httpx

from tikrelay.config.settings import Settings
from tikrelay.destinations.tiktok_auth import (
    Authorization,
    OAuthClient,
    TokenBox,
    Tokens,
    begin_authorization,
    code_from_redirect,
    setup_problem,
)
from tikrelay.reposter.publishing import sealed_account
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
