"""``OpenAIEmulator``: an OpenAI-compatible chat completions API on 127.0.0.1.

It answers ``POST /v1/chat/completions`` with a fixed reply (or one computed from the prompt),
records every request (the body and the Authorization header), and can be told to be slow,
to fail with a status, or to be down (the port closed) for tests of AI captions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tikrelay.sandbox.background import Served


@dataclass(frozen=True)
class ChatRequest:
    """One request as it arrived."""

    body: dict[str, Any]
    authorization: str | None
    time: float

    @property
    def prompt(self) -> str:
        """The text of the last message."""
        messages = self.body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))


class OpenAIEmulator(Served):
    """``reply(prompt)`` gives the answer's text; ``delay`` seconds pass before any answer;
    ``fail_status`` answers every request with that status instead; ``down`` drops every
    connection without an answer (a refused connection is a port nobody serves)."""

    thread_name = "openai-emulator"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reply: Callable[[str], str] | str = "A caption from the model",
    ) -> None:
        self._host, self._port = host, port
        self.reply = reply
        self.delay = 0.0
        self.fail_status: int | None = None
        self.down = False
        self.requests: list[ChatRequest] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def base_url(self) -> str:
        """What ``ai_caption.base_url`` is set to: the address up to ``/v1``."""
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return f"{self._url}/v1"

    async def start(self) -> OpenAIEmulator:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]  # a restart serves on the same port
        self._url = f"http://{self._host}:{self._port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    async def _completions(self, request: web.Request) -> web.Response:
        if self.down and request.transport is not None:
            request.transport.close()
            raise web.HTTPServiceUnavailable
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": {"message": "the body is not JSON"}}, status=400)
        record = ChatRequest(body, request.headers.get("Authorization"), time.time())
        self.requests.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            error = {"error": {"message": "the emulator was told to fail", "type": "server_error"}}
            return web.json_response(error, status=self.fail_status)
        text = self.reply(record.prompt) if callable(self.reply) else self.reply
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(record.time),
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
