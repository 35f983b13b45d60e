"""The ``telegram`` check (the bot token works) and one ``destination NAME`` check per
destination (the bot may post there), all within one session of the bot. Nothing is posted."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

from tikrelay.config.loader import TOKEN_ENV
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.health.limits import NETWORK_TIMEOUT
from tikrelay.health.report import Check, failed, passed, skipped
from tikrelay.reposter.clients import Clients

if TYPE_CHECKING:
    from tikrelay.destinations.telegram import TelegramSender
    from tikrelay.reposter.model import Route


async def check_telegram(settings: Settings) -> list[Check]:
    """The token (getMe), then every destination; these are skipped while the token fails."""
    from tikrelay.reposter.model import Route

    api = settings.telegram.api_url
    routes = [
        Route(name, found)
        for name, found in settings.destinations.items()
        if found.telegram is not None
    ]
    unchecked = [
        skipped(f"destination {r.name}", "not checked: the bot token must work first")
        for r in routes
    ]
    token = settings.telegram.bot_token
    if token is None or not token.get_secret_value().strip():
        problem = f"no bot token: set {TOKEN_ENV} in the environment (from @BotFather)"
        return [failed("telegram", problem), *unchecked]
    async with contextlib.AsyncExitStack() as session:
        try:
            async with asyncio.timeout(NETWORK_TIMEOUT):
                sender = await session.enter_async_context(Clients(settings).telegram)
                username = await sender.whoami()
        except TimeoutError:
            problem = f"{api} did not answer within {NETWORK_TIMEOUT:g} s: check telegram.api_url"
            return [failed("telegram", problem), *unchecked]
        except TikrelayError as exc:
            return [
                failed("telegram", token_problem(exc, api, token.get_secret_value())),
                *unchecked,
            ]
        bot = passed("telegram", f"the token is accepted: bot @{username} at {api}")
        destinations = await asyncio.gather(*(check_destination(sender, r) for r in routes))
    return [bot, *destinations]


def token_problem(error: TikrelayError, api: str, token: str) -> str:
    if error.kind is not ErrorKind.AUTH:
        return f"{error.message}: check telegram.api_url ({api}) and this machine's connection"
    if os.environ.get(TOKEN_ENV, "").strip() != token.strip():
        return (
            f"{error.message}; the token in use is telegram.bot_token (the config file or "
            f"TIKRELAY_TELEGRAM__BOT_TOKEN), which wins over {TOKEN_ENV}: fix or remove it"
        )
    return error.message


async def check_destination(sender: TelegramSender, route: Route) -> Check:
    """May the bot post to ``route``'s chat (and topic)? Asks Telegram, within the time limit."""
    name = f"destination {route.name}"
    target = route.target
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT):
            found = await sender.check_destination(target)
    except TimeoutError:
        return failed(name, f"Telegram did not answer about {target} in time: run doctor again")
    if not found.ok:  # the fixes alone: notes would only bury them
        return failed(name, *found.problems)
    title = f" '{found.chat_title}'" if found.chat_title else ""
    where = f"{found.chat_type}{title} ({target.chat_id})"
    if target.topic_id is not None:
        where += f", topic {target.topic_id}"
    status = f": the bot is {found.bot_status}" if found.bot_status else ""
    return passed(name, f"{where}{status}", found.notes)
