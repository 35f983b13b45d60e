"""``tikrelay sandbox`` starts both emulators with a demo world, runs the real reposter once
against them and shows what arrived, runs the real bot while demo people write to it and shows
their conversations, then serves (the bot too) until Ctrl-C with instructions that work."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import time
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
TALKED = "Talked with the bot, as the Telegram emulator holds it:"
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


def conversations(out: str) -> dict[str, list[tuple[str, str]]]:
    """The printed conversations: person -> (who, what) lines, spaces squeezed."""
    section = out.split(TALKED, 1)[1].split("\n\n", 1)[0]
    talks: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in section.strip("\n").splitlines():
        if line.startswith("    "):
            who, what = line.split(maxsplit=1)
            current.append((who, " ".join(what.split())))
        else:
            current = talks.setdefault(line.strip().split(" in ", 1)[0], [])
    return talks


def assert_everyone_was_answered(out: str) -> None:
    """Each demo person got the bot's answer to every line: its texts, and the media of their
    links with the posts' captions."""
    talks = conversations(out)
    assert sorted(talks) == ["Dana", "Emil", "Fern"]
    dana, emil, fern = talks["Dana"], talks["Emil"], talks["Fern"]
    assert [who for who, _ in dana] == ["Dana", "bot"] * 3
    assert dana[0][1] == "/start"
    assert dana[1][1].startswith("text ")
    assert re.fullmatch(r"https://www\.tiktok\.com/@demo_alice/video/\d+", dana[2][1])
    assert dana[3][1] == "video the crane, now flying #origami [🎵 Sound]"
    assert dana[4][1] == "thanks!"
    assert dana[5][1].startswith("text ")
    assert [who for who, _ in emil] == ["Emil", "bot", "Emil", "bot", "bot"]
    assert emil[0][1] == "/help"
    assert emil[1][1].startswith("text ")
    assert re.fullmatch(r"https://www\.tiktok\.com/@demo_alice/photo/\d+", emil[2][1])
    assert emil[3:] == [
        ("bot", "album of 4 photos four slides #photomode"),
        ("bot", "audio Alice (demo) — original sound - demo_alice"),
    ]
    assert re.fullmatch(r"look at this one https://vm\.tiktok\.com/\w+/", fern[0][1])
    assert fern[1:] == [("bot", "video sharper in HEVC, but Telegram wants H.264 #fyp [🎵 Sound]")]
    assert "tikrelay bot exited with 0" in out


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
        assert_everyone_was_answered(out)
        assert "sandbox stopped" in out
        assert "press Ctrl-C" not in out

    settings = load_settings(tmp_path / "sandbox" / "tikrelay.yaml")
    assert settings.state_dir == (tmp_path / "sandbox" / "state").resolve()
    assert [(s.tiktok, s.to) for s in settings.sources] == [
        ("@demo_alice", ["demo_channel"]),
        ("@demo_bob", ["demo_channel", "demo_topic"]),
    ]
    topic = settings.destinations["demo_topic"].telegram
    assert topic is not None
    assert (topic.chat_id, topic.topic_id) == (-1001000000002, 2)
    # The bot's config is the same but for its own database.
    bot = load_settings(tmp_path / "sandbox" / "bot.yaml")
    assert bot.state_dir == (tmp_path / "sandbox" / "bot-state").resolve()
    assert bot.model_dump(exclude={"state_dir"}) == settings.model_dump(exclude={"state_dir"})


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
        proc.stdout.close()  # a test that failed before reading it all leaves it open


def interrupt(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGINT) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "sandbox stopped" in out
    return out


def control(url: str, body: object = None) -> Any:
    """GET a control API's URL, or POST ``body`` to it as JSON."""
    with httpx.Client(trust_env=False, timeout=30) as client:  # no proxy from the environment
        response = client.get(url) if body is None else client.post(url, json=body)
    response.raise_for_status()
    return response.json()


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
    [send_heading] = [line for line in lines if line.startswith("  Send the bot a link as Dana")]
    send_link = under(send_heading)
    look_at_dana = under("  See Dana's chat with the bot:")
    assert "Start the bot" not in banner  # it runs already

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

    # The printed message, as curl would send it, reaches the running bot, which answers Dana.
    curl = shlex.split(send_link)
    assert curl[:3] == ["curl", "-X", "POST"]
    message = json.loads(curl[curl.index("-d") + 1])
    control(curl[3], message)

    def dana_videos() -> list[str]:
        return [m["caption"] for m in control(shlex.split(look_at_dana)[1]) if "video" in m]

    deadline = time.monotonic() + 60
    while len(dana_videos()) < 2:  # the one of the demo, and this one
        assert time.monotonic() < deadline, f"the bot did not answer {message}"
        time.sleep(0.2)
    assert dana_videos()[-1].startswith("coffee, then code")

    out = interrupt(running.proc)
    assert "tikrelay bot exited with 0" in out


@pytest.mark.parametrize("running", [(("--no-run",), "Faults, flood limits")], indirect=True)
def test_no_run_serves_both_emulators_until_interrupted(running: Running, tmp_path: Path) -> None:
    banner = running.banner
    assert "@demo_alice (4 posts)" in banner
    assert "Running the reposter" not in banner
    assert "Starting the bot" not in banner
    assert "Start the bot, which answers what people send it:" in banner
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
