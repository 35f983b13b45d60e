"""``tikrelay sandbox`` starts both emulators, prints working config lines, and stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yt_dlp
from telegram import Bot

from tikrelay.config import load_settings


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tikrelay", "sandbox", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "ca_bundle:" in line:
            break
    try:
        yield proc, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sandbox_serves_both_emulators_until_interrupted(
    sandbox: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    proc, banner = sandbox
    assert "@demo_alice (4 posts)" in banner
    assert "export TELEGRAM_BOT_TOKEN=" in banner
    token = banner.split("export TELEGRAM_BOT_TOKEN=", 1)[1].split()[0]
    settings = load_settings(tmp_path / "sandbox" / "tikrelay.yaml")
    proxy = settings.network.proxies[0]
    assert settings.network.ca_bundle is not None

    # The printed CA really verifies the proxy's TikTok certificate.
    verify = ssl.create_default_context(cafile=str(settings.network.ca_bundle))
    with httpx.Client(proxy=proxy, verify=verify) as client:
        page = client.get("https://www.tiktok.com/@demo_alice")
    assert page.status_code == 200
    assert "__UNIVERSAL_DATA_FOR_REHYDRATION__" in page.text

    # The real yt-dlp lists the demo creator's feed through the proxy.
    options = {"proxy": proxy, "nocheckcertificate": True, "quiet": True, "noprogress": True}
    with yt_dlp.YoutubeDL({**options, "extract_flat": "in_playlist"}) as ydl:
        feed = ydl.extract_info("https://www.tiktok.com/@demo_alice", download=False)
    assert len(feed["entries"]) == 4

    # The real python-telegram-bot posts to the demo channel.
    async def post() -> int:
        bot = Bot(token, base_url=f"{settings.telegram.api_url}/bot")
        async with bot:
            message = await bot.send_message("@tikrelay_demo", "hello from the test")
            return message.message_id

    assert asyncio.run(post()) == 1

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
