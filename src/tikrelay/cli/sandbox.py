"""``tikrelay sandbox``: run the emulated TikTok and Telegram with a demo world until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tikrelay.config.paths import StatePaths

if TYPE_CHECKING:
    from tikrelay.sandbox.demo import SandboxInfo


def describe(info: SandboxInfo) -> str:
    creators = ", ".join(f"@{name} ({count} posts)" for name, count in info.creators.items())
    chats = "\n".join(
        f"    {chat.label}: chat_id {chat.chat_id}"
        + (f", topic_id {chat.topic_id}" if chat.topic_id is not None else "")
        for chat in info.chats
    )
    config = "".join(f"    {line}\n" for line in info.config_text().splitlines())
    return (
        "tikrelay sandbox is running; press Ctrl-C to stop.\n\n"
        f"  TikTok emulator (HTTPS proxy): {info.tiktok_proxy}\n"
        f"      control API:               {info.tiktok_control}\n"
        f"      CA certificate:            {info.ca_file}\n"
        f"  Telegram Bot API emulator:     {info.telegram_url}\n"
        f"      control API:               {info.telegram_control}\n\n"
        f"  demo creators: {creators}\n"
        f"  demo chats:\n{chats}\n\n"
        "Point tikrelay at them (also written to "
        f"{info.config_file}):\n"
        f"    export TELEGRAM_BOT_TOKEN={info.token}\n{config}"
    )


def sandbox(
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Folder for the sandbox's files.")
    ] = Path("tikrelay-data"),
    tiktok_port: Annotated[
        int, typer.Option(help="Port of the TikTok proxy; 0 picks a free one.")
    ] = 0,
    telegram_port: Annotated[
        int, typer.Option(help="Port of the Bot API emulator; 0 picks a free one.")
    ] = 0,
    flood_limits: Annotated[bool, typer.Option(help="Enforce Telegram's flood limits.")] = False,
) -> None:
    """Start emulated TikTok and Telegram servers with a demo world, and print how to use them."""
    # Imported here: the emulators pull in aiohttp and TLS tooling that other commands never need.
    from tikrelay.sandbox.demo import serve_sandbox

    folder = StatePaths(state_dir).sandbox
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def on_ready(info: SandboxInfo) -> None:
        typer.echo(describe(info))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_sandbox(
            folder,
            on_ready,
            stop,
            tiktok_port=tiktok_port,
            telegram_port=telegram_port,
            flood_limits=flood_limits,
        )
        typer.echo("sandbox stopped")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
