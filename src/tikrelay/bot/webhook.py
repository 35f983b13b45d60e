"""Taking updates by a webhook (``bot.webhook_url``) instead of long polling.

Telegram POSTs each update to the URL; a reverse proxy that holds the TLS certificate passes it
on to this listener on ``bot.webhook_listen``. The update is stored (``intake.store_updates``,
the same job and row as polling makes) before the 200 is answered: Telegram sends it again after
any other answer or none, and an update taken before makes nothing. A request without the secret
Telegram was given (header ``X-Telegram-Bot-Api-Secret-Token``) is refused with 403 and stored
nowhere. The webhook stays set when the bot stops, so Telegram keeps the updates that come
meanwhile and sends them once the listener is back.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from telegram import Update

from tikrelay.bot.intake import (
    RETRY_SECONDS,
    Intake,
    backoff,
    store_updates,
    telegram_call,
    unless_stopped,
)
from tikrelay.config.paths import WEBHOOK_SECRET, StatePaths
from tikrelay.config.settings import split_listen
from tikrelay.destinations.telegram_redaction import REDACTOR
from tikrelay.domain.errors import TikrelayError, classify
from tikrelay.engine.service import JobService

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.destinations.telegram import TelegramSender

log = structlog.get_logger("tikrelay.bot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: The secret's file in ``state_dir``.
SECRET_FILE = WEBHOOK_SECRET
#: What Telegram takes as a secret token: 1 to 256 of these characters.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: An update is a few kilobytes; nothing Telegram sends comes near this.
MAX_BODY = 1024 * 1024
#: On SIGTERM, requests being answered get this long to finish (an unanswered one is re-sent).
SHUTDOWN_SECONDS = 5.0


def intake_for(settings: Settings, sender: TelegramSender, service: JobService) -> Intake | Webhook:
    """A webhook when ``bot.webhook_url`` is set, else long polling."""
    bot = settings.bot
    if bot.webhook_url:
        return Webhook(bot.webhook_url, bot.webhook_listen, settings.state_dir, sender, service)
    return Intake(sender, service)


class Webhook:
    """The listener on ``listen``, and the webhook ``url`` set with Telegram; ``run`` until
    ``stop``. The secret is kept in ``state_dir``."""

    def __init__(
        self,
        url: str,
        listen: str,
        state_dir: Path,
        sender: TelegramSender,
        service: JobService,
    ) -> None:
        self.url = url
        self.listen = listen
        self.state_dir = state_dir
        self.sender = sender
        self.service = service

    async def run(self, stop: asyncio.Event) -> None:
        """Listen and keep the webhook set until ``stop``; a failure (the address taken, Telegram
        out of reach) is logged and tried again, backing off up to a minute."""
        pause = RETRY_SECONDS
        while not stop.is_set():
            try:
                await self._serve(stop)
            except (OSError, TikrelayError) as exc:
                error = classify(exc)
                log.warning("bot_webhook_failed", kind=str(error.kind), error=error.message)
                pause = await backoff(stop, pause, error)

    async def _serve(self, stop: asyncio.Event) -> None:
        secret = await asyncio.to_thread(webhook_secret, self.state_dir)
        REDACTOR.add(secret)  # kept out of the Telegram library's and httpx's log lines
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{path:.*}", self._receiver(secret))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            host, port = split_listen(self.listen)
            await web.TCPSite(runner, host, port).start()
            # Listening first: Telegram may post at once, updates that waited included.
            await unless_stopped(self._register(secret), stop)
            if not stop.is_set():
                log.info("bot_webhook_listening", listen=self.listen, host=_host(self.url))
                await stop.wait()
        finally:
            await runner.cleanup()

    async def _register(self, secret: str) -> None:
        bot = self.sender.bot
        await telegram_call(
            lambda: bot.set_webhook(
                self.url,
                secret_token=secret,
                # What getUpdates asks for (TelegramSender.updates): every kind.
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
            )
        )

    def _receiver(self, secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        expected = secret.encode()

        async def receive(request: web.Request) -> web.Response:
            if request.method != "POST":
                return web.Response(status=405, headers={"Allow": "POST"})
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, expected):
                log.warning("bot_webhook_refused", reason="wrong secret", peer=request.remote)
                return web.Response(status=403)
            update = await self._update(request)
            if update is None:
                return web.Response(status=400)
            try:
                await asyncio.to_thread(store_updates, self.service, [update])
            except Exception as exc:  # a 500: Telegram sends the update again later
                error = classify(exc)
                log.warning(
                    "bot_webhook_store_failed",
                    update_id=update.update_id,
                    kind=str(error.kind),
                    error=error.message,
                )
                return web.Response(status=500)
            return web.Response(status=200)

        return receive

    async def _update(self, request: web.Request) -> Update | None:
        try:
            data = await request.json()
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            return Update.de_json(data, self.sender.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("bot_webhook_refused", reason=f"not an update: {type(exc).__name__}")
            return None


def webhook_secret(state_dir: Path) -> str:
    """The secret Telegram sends with every webhook request, made once and kept in
    ``state_dir/webhook-secret`` (mode 0600). One others could read, or that is damaged, is
    replaced by a new one (the next setWebhook gives Telegram the new one)."""
    path = StatePaths(state_dir).webhook_secret
    if path.exists():
        loose = path.stat().st_mode & 0o077
        found = path.read_text(encoding="ascii", errors="replace").strip()
        if not loose and _SECRET.fullmatch(found):
            return found
        reason = "readable by others" if loose else "damaged"
        log.warning("bot_webhook_secret_replaced", reason=reason, path=str(path))
        path.unlink()
    state_dir.mkdir(parents=True, exist_ok=True)
    made = secrets.token_urlsafe(32)  # 43 characters of A-Z a-z 0-9 _ -
    draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(made)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)  # whole or not at all, and never over another process's
        except FileExistsError:
            return webhook_secret(state_dir)
    finally:
        draft.unlink(missing_ok=True)
    return made


def _host(url: str) -> str | None:
    # The host only: a webhook's path may carry something the owner keeps to themselves.
    return urlsplit(url).hostname
