"""``tikrelay sandbox`` starts both emulators with a demo world, runs the real reposter once
against them and shows what arrived, then serves until Ctrl-C with instructions that work."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yt_dlp
from telegram import Bot

from tikrelay.config import load_settings
from tikrelay.sandbox.tiktok.control import EmulatorControl

DELIVERED = "Delivered, as the Telegram emulator holds it:"
CHANNEL = "channel @tikrelay_demo"
TOPIC = 'forum "Demo forum", topic "Clips"'
ALICE = [
    "video first light on the river #sunrise",
    "video folding a paper crane",
    "video the crane, now flying #origami",
    "album of 4 photos four slides #photomode",
    "audio Alice (demo) — original sound - demo_alice",
]
BOB = [
    "video coffee, then code",
    "video sharper in HEVC, but Telegram wants H.264 #fyp",
    "album of 2 photos two slides",
    "audio Bob (demo) — original sound - demo_bob",
]


def sandbox_command(state_dir: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "tikrelay", "sandbox", "--state-dir", str(state_dir), *options]


def deliveries(out: str) -> dict[str, list[str]]:
    """The printed deliveries: chat label -> its messages, spaces squeezed."""
    section = out.split(DELIVERED, 1)[1].split("\n\n", 1)[0]
    chats: dict[str, list[str]] = {}
    current: list[str] = []
    for line in section.strip("\n").splitlines():
        if line.startswith("    "):
            current.append(" ".join(line.split()))
        else:
            label, count = line.strip().rsplit(": ", 1)
            current = chats.setdefault(label, [])
            assert count.endswith(" messages")
    return chats


def in_order(messages: list[str], expected: list[str]) -> bool:
    """``expected`` appears in ``messages`` in this order (other creators' posts in between)."""
    return [m for m in messages if m in expected] == expected


@pytest.mark.slow
def test_once_delivers_both_creators_and_a_second_sandbox_starts_afresh(tmp_path: Path) -> None:
    for _ in range(2):  # the second run finds the first one's state and must not be fooled by it
        result = subprocess.run(
            sandbox_command(tmp_path, "--once"),
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "TIKRELAY_DATABASE_URL": "sqlite:////nonexistent/never-used.db"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        # The run's own summary: 4 posts of alice to the channel, 3 of bob to channel and topic.
        assert "10 new deliveries, 10 delivered, 0 failed or waiting" in out
        assert "tikrelay run exited with 0" in out
        chats = deliveries(out)
        assert sorted(chats[CHANNEL]) == sorted(ALICE + BOB)
        assert in_order(chats[CHANNEL], ALICE)
        assert in_order(chats[CHANNEL], BOB)
        assert chats[TOPIC] == BOB
        assert "sandbox stopped" in out
        assert "press Ctrl-C" not in out

    settings = load_settings(tmp_path / "sandbox" / "tikrelay.yaml")
    assert settings.state_dir == (tmp_path / "sandbox" / "state").resolve()
    assert [(s.tiktok, s.to) for s in settings.sources] == [
        ("@demo_alice", ["demo_channel"]),
        ("@demo_bob", ["demo_channel", "demo_topic"]),
    ]
    topic = settings.destinations["demo_topic"].telegram
    assert (topic.chat_id, topic.topic_id) == (-1001000000002, 2)


@dataclass
class Running:
    proc: subprocess.Popen[str]
    banner: str


@pytest.fixture
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """``tikrelay sandbox`` with the options of the test's parameter, read up to a marker line."""
    options, marker = request.param
    proc = subprocess.Popen(
        sandbox_command(tmp_path, *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            break
    try:
        yield Running(proc, "".join(lines))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def interrupt(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGINT) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "sandbox stopped" in out
    return out


def control(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return json.loads(response.read())


SERVING = "press Ctrl-C to stop"


@pytest.mark.slow
@pytest.mark.parametrize("running", [((), "Faults, flood limits")], indirect=True)
def test_after_the_run_it_serves_and_its_instructions_add_a_post_and_rerun(
    running: Running, tmp_path: Path
) -> None:
    banner = running.banner
    assert "10 new deliveries, 10 delivered" in banner
    assert SERVING in banner
    lines = banner.splitlines()

    def under(heading: str) -> str:
        return lines[lines.index(heading) + 1]

    add_post = under("  Add a post to @demo_alice (or a slideshow: kind slideshow):")
    rerun = under("  Run the reposter; each run delivers only what is new:")
    look = under("  See what a chat holds:")

    # The printed curl command, as curl would send it.
    curl = shlex.split(add_post)
    assert curl[:3] == ["curl", "-X", "POST"]
    body = json.loads(curl[curl.index("-d") + 1])
    posted = EmulatorControl(curl[3].removesuffix("/posts")).add_post(**body)
    assert posted["username"] == "demo_alice"

    # The printed rerun command, with `uv run tikrelay` as this interpreter's tikrelay.
    words = shlex.split(rerun)
    variable, token = words[0].split("=", 1)
    assert variable == "TELEGRAM_BOT_TOKEN"
    assert words[1:6] == ["uv", "run", "tikrelay", "run", "--once"]
    again = subprocess.run(
        [sys.executable, "-m", "tikrelay", *words[4:]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, variable: token},
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 new deliveries, 1 delivered, 0 failed" in again.stdout

    # The channel holds the demo's messages (an album is one per photo) and the new post.
    messages = control(shlex.split(look)[1])
    alice, bob, new = 3 + 4 + 1, 2 + 2 + 1, 1
    assert len(messages) == alice + bob + new
    assert messages[-1]["caption"].startswith("hello from the sandbox")

    interrupt(running.proc)


@pytest.mark.parametrize("running", [(("--no-run",), "Faults, flood limits")], indirect=True)
def test_no_run_serves_both_emulators_until_interrupted(running: Running, tmp_path: Path) -> None:
    banner = running.banner
    assert "@demo_alice (4 posts)" in banner
    assert "Running the reposter" not in banner
    token = banner.split("TELEGRAM_BOT_TOKEN=", 1)[1].split()[0]
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

    interrupt(running.proc)


@pytest.mark.parametrize("running", [((), "Running the reposter once")], indirect=True)
def test_a_stop_during_the_run_stops_the_reposter_too(running: Running) -> None:
    out = interrupt(running.proc, signal.SIGTERM)
    assert "tikrelay run exited with" in out
    assert SERVING not in out
