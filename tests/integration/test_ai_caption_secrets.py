"""A refusal that quotes the request (an echoing gateway, say) does not carry the API key into
the reason the timeline, the logs and the dashboard show; an address with a password in it is
refused when the settings are read."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from tikrelay.captions.ai import AiCaptionError, ask
from tikrelay.config.loader import ConfigError, load_settings
from tikrelay.config.settings import AiCaptionSettings

KEY = "sk-test-0123456789abcdef"


async def test_an_echoing_refusal_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(
            status=401, text=f"bad credentials: {request.headers.get('Authorization')}"
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("TEST_AI_KEY", KEY)
    settings = AiCaptionSettings(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        prompt="{{ text }}",
        api_key_env="TEST_AI_KEY",
    )
    try:
        with pytest.raises(AiCaptionError) as refused:
            await ask(settings, "hello")
    finally:
        await runner.cleanup()
    reason = str(refused.value)
    assert "HTTP 401" in reason
    assert KEY not in reason
    assert "[redacted]" in reason


def test_an_address_with_a_password_is_refused(tmp_path: Path) -> None:
    """As the start says it: the key named, the password not repeated."""
    with pytest.raises(ConfigError) as refused:
        load_settings(
            None,
            state_dir=str(tmp_path),
            destinations={
                "main": {
                    "telegram": {"chat_id": -1001},
                    "ai_caption": {
                        "base_url": "https://user:hunter2@api.example/v1",
                        "model": "m",
                        "prompt": "{{ text }}",
                    },
                }
            },
        )
    message = str(refused.value)
    assert "destinations.main.ai_caption.base_url" in message
    assert "holds a user name or password" in message
    assert "hunter2" not in message
