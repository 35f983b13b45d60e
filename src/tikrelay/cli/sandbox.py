"""``tikrelay sandbox``: emulated TikTok and Telegram with a demo world, the reposter run once
against them, and what it delivered; then serve until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tikrelay.config.paths import StatePaths

if TYPE_CHECKING:
    from tikrelay.sandbox.demo import Sandbox, SandboxInfo

#: The variables that could point the demo run at a real database or bot (see reposter_env).
_SETTINGS_PREFIX = "TIKRELAY_"


def describe(info: SandboxInfo) -> str:
    creators = ", ".join(f"@{name} ({count} posts)" for name, count in info.creators.items())
    chats = "\n".join(
        f"    {chat.label}: chat_id {chat.chat_id}"
        + (f", topic_id {chat.topic_id}" if chat.topic_id is not None else "")
        for chat in info.chats
    )
    config = "".join(f"    {line}\n" for line in info.config_text().splitlines())
    return (
        "tikrelay sandbox: emulated TikTok and Telegram with a demo world.\n\n"
        f"  TikTok emulator (HTTPS proxy): {info.tiktok_proxy}\n"
        f"      control API:               {info.tiktok_control}\n"
        f"      CA certificate:            {info.ca_file}\n"
        f"  Telegram Bot API emulator:     {info.telegram_url}\n"
        f"      control API:               {info.telegram_control}\n\n"
        f"  demo creators: {creators}\n"
        f"  demo chats:\n{chats}\n\n"
        f"Config for the reposter, written to {info.config_file}:\n{config}"
    )


def rerun_command(info: SandboxInfo) -> str:
    """The command a user types to run the reposter against the running sandbox."""
    config = shlex.quote(str(info.config_file))
    return f"TELEGRAM_BOT_TOKEN={info.token} uv run tikrelay run --once --config {config}"


def instructions(info: SandboxInfo) -> str:
    post = '{"creator": "demo_alice", "kind": "video", "desc": "hello from the sandbox"}'
    channel = info.destination_chats()[0]
    return (
        "The sandbox keeps running; press Ctrl-C to stop.\n"
        "  Add a post to @demo_alice (or a slideshow: kind slideshow):\n"
        f"    curl -X POST {info.tiktok_control}/posts "
        f"-H 'Content-Type: application/json' -d '{post}'\n"
        "  Run the reposter; each run delivers only what is new:\n"
        f"    {rerun_command(info)}\n"
        "  See what a chat holds:\n"
        f"    curl {info.telegram_control}/chats/{channel.chat_id}/messages\n"
        "  Faults, flood limits and more: docs/sandbox.md\n"
    )


def describe_deliveries(box: Sandbox) -> str:
    parts = ["Delivered, as the Telegram emulator holds it:"]
    for chat in box.info.destination_chats():
        messages = box.delivered(chat)
        parts.append(f"  {chat.label}: {len(messages)} messages")
        parts += [f"    {message.describe()}" for message in messages]
    return "\n".join(parts) + "\n"


def reposter_env(token: str) -> dict[str, str]:
    """This environment with the sandbox's token, without ``TIKRELAY_*`` overrides: one such as
    ``TIKRELAY_DATABASE_URL`` would send the demo's deliveries into a real database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_PREFIX)}
    return {**env, "TELEGRAM_BOT_TOKEN": token}


async def run_reposter(info: SandboxInfo, stop: asyncio.Event) -> int:
    """``tikrelay run --once`` on the sandbox's config in a subprocess, its output on ours: the
    very command users run. A stop asks it to finish early; returns its exit code."""
    typer.echo(f"Running the reposter once, as you would:\n    {rerun_command(info)}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tikrelay",
        "run",
        "--once",
        "--config",
        str(info.config_file),
        stdin=asyncio.subprocess.DEVNULL,
        env=reposter_env(info.token),
    )
    finished = asyncio.ensure_future(process.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({finished, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not finished.done():
        # A terminal's Ctrl-C reached the reposter too; this covers a SIGTERM sent to us alone.
        with contextlib.suppress(ProcessLookupError):  # it may have ended in the meantime
            process.terminate()
    code = await finished
    typer.echo(f"tikrelay run exited with {code}\n")
    return code


def sandbox(
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Folder for the sandbox's files.")
    ] = Path("tikrelay-data"),
    tiktok_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the TikTok proxy; 0 picks a free one.")
    ] = 0,
    telegram_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Port of the Bot API emulator; 0 picks a free one."),
    ] = 0,
    flood_limits: Annotated[bool, typer.Option(help="Enforce Telegram's flood limits.")] = False,
    no_run: Annotated[
        bool, typer.Option("--no-run", help="Only serve the emulators; do not run the reposter.")
    ] = False,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run the reposter, print what it delivered, and exit."),
    ] = False,
) -> None:
    """Start emulated TikTok and Telegram servers with a demo world, run the reposter once
    against them and show what it delivered, then serve until Ctrl-C. With --once the exit code
    is the reposter's."""
    if no_run and once:
        raise typer.BadParameter("--once runs the reposter; it cannot go with --no-run")
    # Imported here: the emulators pull in aiohttp and TLS tooling that other commands never need.
    from tikrelay.sandbox.demo import start_sandbox

    folder = StatePaths(state_dir).sandbox
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        code = 0
        async with start_sandbox(
            folder, tiktok_port=tiktok_port, telegram_port=telegram_port, flood_limits=flood_limits
        ) as box:
            typer.echo(describe(box.info))
            if not no_run:
                code = await run_reposter(box.info, stop)
                typer.echo(describe_deliveries(box))
            if not once and not stop.is_set():
                typer.echo(instructions(box.info))
                await stop.wait()
        typer.echo("sandbox stopped")
        return code if once else 0

    code = 0
    with contextlib.suppress(KeyboardInterrupt):
        code = asyncio.run(main())
    if code:
        raise typer.Exit(code)
