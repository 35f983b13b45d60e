"""``TelegramEmulator``: the Bot API emulator as one object for tests and the sandbox command."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from tikrelay.sandbox.background import Served
from tikrelay.sandbox.telegram.context import CLOUD_UPLOAD_LIMIT, LOCAL_UPLOAD_LIMIT, Env
from tikrelay.sandbox.telegram.control import control_routes
from tikrelay.sandbox.telegram.facade import EmulatorFacade
from tikrelay.sandbox.telegram.faults import Faults
from tikrelay.sandbox.telegram.files import FileStore
from tikrelay.sandbox.telegram.flood import FloodLimits
from tikrelay.sandbox.telegram.server import build_app
from tikrelay.sandbox.telegram.updates import People, UpdateQueue
from tikrelay.sandbox.telegram.webhook import WebhookDelivery
from tikrelay.sandbox.telegram.world import (
    User,
    World,
)


class TelegramEmulator(Served, EmulatorFacade):
    """A Telegram Bot API server on 127.0.0.1 with a world that tests set up and inspect.

    ``upload_limit`` defaults to Telegram's 50 MB (2000 MB in ``local_mode``, where ``file://``
    inputs are accepted and getFile answers absolute paths). ``flood_limits`` is off by default;
    pass True for Telegram's numbers or a ``FloodLimits``. ``clock`` feeds the flood limiter.
    """

    thread_name = "telegram-emulator"

    def __init__(
        self,
        token: str = "123456:TEST",  # noqa: S107 - a made-up token the emulator accepts
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        upload_limit: int | None = None,
        local_mode: bool = False,
        flood_limits: bool | FloodLimits = False,
        clock: Callable[[], float] = time.monotonic,
        files_dir: Path | None = None,
        bot_name: str = "Tikrelay Sandbox",
        bot_username: str = "tikrelay_sandbox_bot",
    ) -> None:
        self.token = token
        self._host, self._port = host, port
        self._own_dir = files_dir is None
        root = files_dir or Path(tempfile.mkdtemp(prefix="tikrelay-telegram-"))
        bot = User(int(token.split(":", 1)[0]), bot_name, bot_username, is_bot=True)
        world = World(bot)
        queue = UpdateQueue()
        self._clock = clock
        self.env = Env(
            token=token,
            world=world,
            files=FileStore(root / "files"),
            faults=Faults(),
            people=People(world, queue),
            queue=queue,
            flood=None,
            local_mode=local_mode,
            upload_limit=upload_limit or (LOCAL_UPLOAD_LIMIT if local_mode else CLOUD_UPLOAD_LIMIT),
            webhook=WebhookDelivery(queue),
        )
        self.set_flood_limits(flood_limits)
        self._root = root
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> TelegramEmulator:
        self.env.queue.bind(asyncio.get_running_loop())
        app = build_app(self.env, self._root / "uploads", control_routes(self))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._url = f"http://{self._host}:{port}"
        return self

    async def stop(self) -> None:
        await self.env.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None
        if self._own_dir:
            shutil.rmtree(self._root, ignore_errors=True)
