"""The ``tiktok ACCOUNT`` checks: each TikTok account that a destination of the config file
publishes to is ready. In order, each failure with its fix: the app's keys and
``TIKRELAY_SECRET_KEY`` are set, ``tikrelay tiktok-auth`` stored the account, its authorization
(a year) has not expired, ``TIKRELAY_SECRET_KEY`` opens its tokens, and TikTok answers
``creator_info`` for it (the privacy levels it offers, which a direct destination's
``privacy_level`` must be among). Nothing is posted. An access token about to expire is
refreshed, and the new pair stored at once, as a publish job would: TikTok may rotate the
refresh token, and one not stored would be lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from tikrelay.config.settings import Settings
from tikrelay.config.tiktok_settings import TikTokDestination
from tikrelay.destinations.tiktok import TikTokClient
from tikrelay.destinations.tiktok_auth import (
    OAuthClient,
    setup_problem,
)
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.health.database import sqlite_file
from tikrelay.health.limits import NETWORK_TIMEOUT
from tikrelay.health.report import Check, failed, passed
from tikrelay.health.threads import in_daemon_thread
from tikrelay.store import tiktok_sql


@dataclass(frozen=True)
class _Account:
    name: str
    destinations: dict[str, TikTokDestination]  # by destination name

    @property
    def check(self) -> str:
        return f"tiktok {self.name}"


async def check_tiktok(settings: Settings) -> list[Check]:
    """One check per account that the config file's tiktok destinations name."""
    accounts: dict[str, _Account] = {}
    for name, found in settings.destinations.items():
        if found.tiktok is not None:
            account = accounts.setdefault(found.tiktok.account, _Account(found.tiktok.account, {}))
            account.destinations[name] = found.tiktok
    if not accounts:
        return []
    problem = setup_problem(settings.tiktok_app)
    if problem is not None:
        return [failed(a.check, problem) for a in accounts.values()]
    return list(await asyncio.gather(*(_check(settings, a) for a in accounts.values())))


async def _check(settings: Settings, account: _Account) -> Check:
    try:
        row = await asyncio.wait_for(
            in_daemon_thread(lambda: _stored(settings, account.name)), NETWORK_TIMEOUT
        )
    except TimeoutError:
        return failed(account.check, "the database did not answer in time: see the database check")
    again = f"tikrelay tiktok-auth {account.name}"
    if row is None:
        return failed(
            account.check,
            f"TikTok account {account.name!r} is not authorized: run {again} (and open the "
            "address it prints in a browser signed in to the account)",
        )
    now = datetime.now(UTC)
    expires = row.refresh_expires_at
    if expires.replace(tzinfo=expires.tzinfo or UTC) <= now:
        expired = f"{row.refresh_expires_at:%Y-%m-%d}"
        return failed(
            account.check,
            f"the authorization of TikTok account {account.name!r} expired on {expired} (it "
            f"lasts a year): run {again} again",
        )
    try:
        return await asyncio.wait_for(_ask(settings, account, row), NETWORK_TIMEOUT * 2)
    except TimeoutError:
        api = settings.tiktok_app.api_url
        return failed(
            account.check,
            f"{api} did not answer in time: check tiktok_app.api_url and this machine's connection",
        )
    except TikrelayError as exc:  # TikTok's refusals and the token box's name their fix
        message = exc.message
        if exc.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
            api = settings.tiktok_app.api_url
            message += f": check tiktok_app.api_url ({api}) and this machine's connection"
        return failed(account.check, message)


async def _ask(settings: Settings, account: _Account, row: tiktok_sql.AccountRow) -> Check:
    """Open the tokens, then ask TikTok for the account's creator info."""
    import httpx

    from tikrelay.reposter.tiktok_accounts import account_credentials

    refreshed = False

    async def write(new: tiktok_sql.AccountRow) -> None:
        nonlocal refreshed
        refreshed = True
        await in_daemon_thread(lambda: _save(settings, new))

    async def read() -> tiktok_sql.AccountRow | None:
        """The stored row now: a running service may have refreshed the pair meanwhile."""
        return await in_daemon_thread(lambda: _stored(settings, account.name))

    app = settings.tiktok_app
    async with httpx.AsyncClient() as http:
        creds = await account_credentials(
            account.name,
            OAuthClient(app, http),
            now=lambda: datetime.now(UTC),
            read=read,
            write=write,
        )
        if creds is None:
            return failed(account.check, f"not authorized: run tikrelay tiktok-auth {account.name}")
        info = await TikTokClient(app.api_url, http).creator_info(creds)
    offered = info.privacy_level_options
    problems = [
        f"destination {name}: privacy_level {dest.privacy_level} is not one the account offers "
        f"({', '.join(offered) or 'none'}): change privacy_level"
        for name, dest in account.destinations.items()
        if dest.mode == "direct" and dest.privacy_level and dest.privacy_level not in offered
    ]
    if problems:
        return failed(account.check, *problems)
    until = f"{row.refresh_expires_at:%Y-%m-%d}"
    notes = ("its access token was refreshed and stored",) if refreshed else ()
    return passed(
        account.check,
        f"@{info.username} at {app.api_url}, authorized until {until}; privacy levels offered: "
        f"{', '.join(offered) or 'none'}",
        notes,
    )


def _stored(settings: Settings, name: str) -> tiktok_sql.AccountRow | None:
    """The account's row, or None when there is none (or no database or table yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    from tikrelay.store import DatabaseError, open_engine

    sqlite = sqlite_file(settings)
    if sqlite is not None and not sqlite.exists():
        return None
    try:
        engine = open_engine(settings, upgrade=False, pool_size=1, prepare=False)
    except (DatabaseError, SQLAlchemyError):
        return None  # the database check says why
    try:
        with engine.connect() as conn:
            return tiktok_sql.account(conn, name)
    except SQLAlchemyError:
        return None  # no tiktok_accounts table yet: nothing was authorized
    finally:
        engine.dispose()


def _save(settings: Settings, row: tiktok_sql.AccountRow) -> None:
    from tikrelay.store import open_engine

    engine = open_engine(settings, upgrade=False, pool_size=1, prepare=False)
    try:
        with engine.begin() as conn:
            tiktok_sql.save_account(conn, row, datetime.now(UTC))
    finally:
        engine.dispose()
