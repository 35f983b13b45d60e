"""The demo world of ``tikrelay sandbox``: both emulators, a few creators and chats, in one loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

# A made-up token the emulator accepts; it is fixed so that the printed config stays valid.
SANDBOX_TOKEN = "1000000001:sandbox-token-not-a-secret"  # noqa: S105
DEMO_CHANNEL = "tikrelay_demo"


@dataclass(frozen=True)
class DemoChat:
    label: str
    chat_id: int
    topic_id: int | None = None


@dataclass(frozen=True)
class SandboxInfo:
    """What a user needs to point tikrelay (or any client) at the running emulators."""

    tiktok_proxy: str
    tiktok_control: str
    telegram_url: str
    telegram_control: str
    token: str
    ca_file: Path
    config_file: Path
    creators: dict[str, int]
    chats: list[DemoChat]

    def config_text(self) -> str:
        """Config lines that point tikrelay at the emulators (valid for ``load_settings``)."""
        return (
            "# tikrelay pointed at the sandbox emulators (tikrelay sandbox)\n"
            "telegram:\n"
            f"  api_url: {self.telegram_url}\n"
            "network:\n"
            f"  proxies: [{self.tiktok_proxy}]\n"
            f"  ca_bundle: {self.ca_file}\n"
        )


def build_tiktok_world(media: MediaFixtures) -> TikTokWorld:
    world = TikTokWorld(media)
    world.add_creator("demo_alice", nickname="Alice (demo)", videos=3)
    world.add_slideshow(
        "demo_alice", images=("jpeg", "webp", "heic", "jpeg"), desc="four slides #photomode"
    )
    world.add_creator("demo_bob", nickname="Bob (demo)", videos=1)
    world.add_video("demo_bob", desc="sharper in HEVC, but Telegram wants H.264 #fyp", hevc=True)
    world.add_slideshow("demo_bob", images=("heic", "webp"), desc="two slides")
    return world


def build_telegram_world(emu: TelegramEmulator) -> list[DemoChat]:
    channel = emu.add_chat("channel", title="tikrelay demo", username=DEMO_CHANNEL)
    forum = emu.add_chat("supergroup", title="Demo forum", forum=True)
    topic = emu.add_topic(forum.id, "Clips")
    group = emu.add_chat("group", title="Demo group")
    return [
        DemoChat(f"channel @{DEMO_CHANNEL}", channel.id),
        DemoChat('forum "Demo forum", topic "Clips"', forum.id, topic.message_thread_id),
        DemoChat('group "Demo group"', group.id),
    ]


async def serve_sandbox(
    folder: Path,
    on_ready: Callable[[SandboxInfo], None],
    stop: asyncio.Event,
    *,
    tiktok_port: int = 0,
    telegram_port: int = 0,
    flood_limits: bool = False,
) -> None:
    """Start both emulators with the demo world in ``folder`` (which must exist), call
    ``on_ready`` with their addresses, and serve until ``stop`` is set."""
    world = build_tiktok_world(MediaFixtures.at())
    tiktok = TikTokEmulator(world, port=tiktok_port)
    telegram = TelegramEmulator(
        SANDBOX_TOKEN, port=telegram_port, flood_limits=flood_limits, files_dir=folder / "telegram"
    )
    async with tiktok, telegram:
        chats = build_telegram_world(telegram)
        ca_file = folder / "tiktok-ca.pem"
        ca_file.write_bytes(tiktok.ca_pem)
        info = SandboxInfo(
            tiktok_proxy=tiktok.proxy_url,
            tiktok_control=tiktok.control_url,
            telegram_url=telegram.url,
            telegram_control=f"{telegram.url}/_emulator",
            token=SANDBOX_TOKEN,
            ca_file=ca_file,
            config_file=folder / "tikrelay.yaml",
            creators={c.username: len(world.posts(c.username)) for c in world.creators()},
            chats=chats,
        )
        info.config_file.write_text(info.config_text(), encoding="utf-8")
        on_ready(info)
        await stop.wait()
