"""``tikrelay sandbox``: emulated TikTok and Telegram with a demo world, the reposter run once
against them and what it delivered, the bot answering the demo's people and what they said to
each other; then serve (the bot too) until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
#: How long the demo's people wait, in all, for the bot's answers (it answers in seconds).
ANSWER_TIMEOUT_SECONDS = 60.0
#: ``--once``'s exit code when someone got no answer from the bot: as a run's "something failed".
NO_ANSWER_EXIT = 3


def describe(info: SandboxInfo) -> str:
    creators = ", ".join(f"@{name} ({count} posts)" for name, count in info.creators.items())
    chats = "\n".join(
        f"    {chat.label}: chat_id {chat.chat_id}"
        + (f", topic_id {chat.topic_id}" if chat.topic_id is not None else "")
        for chat in info.chats
    )
    people = "\n".join(
        f"    {person.name}: {person.chat.label}, chat_id {person.chat.chat_id}"
        for person in info.people
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
        f"  demo chats:\n{chats}\n"
        f"  demo people, who write to the bot:\n{people}\n\n"
        f"Config for the reposter, written to {info.config_file}:\n{config}"
        f"The bot's, written to {info.bot_config_file}, is the same but for its own database:\n"
        f"    state_dir: {json.dumps(str(info.bot_state_dir))}\n"
    )


def rerun_command(info: SandboxInfo) -> str:
    """The command a user types to run the reposter against the running sandbox."""
    return _command(info, "run --once", info.config_file)


def bot_command(info: SandboxInfo) -> str:
    """The command a user types to run the bot against the running sandbox."""
    return _command(info, "bot", info.bot_config_file)


def _command(info: SandboxInfo, words: str, config: Path) -> str:
    quoted = shlex.quote(str(config))
    return f"TELEGRAM_BOT_TOKEN={info.token} uv run tikrelay {words} --config {quoted}"


def bot_log(info: SandboxInfo) -> Path:
    return info.config_file.with_name("bot.log")


def instructions(info: SandboxInfo, *, bot_running: bool) -> str:
    post = '{"creator": "demo_alice", "kind": "video", "desc": "hello from the sandbox"}'
    channel = info.destination_chats()[0]
    person = info.people[0]
    link = json.dumps({"chat_id": person.chat.chat_id, "text": info.sample_link})
    command = json.dumps({"chat_id": person.chat.chat_id, "command": "help"})
    start_bot = f"  Start the bot, which answers what people send it:\n    {bot_command(info)}\n"
    return (
        f"The sandbox keeps running{', the bot too' if bot_running else ''}; "
        "press Ctrl-C to stop.\n"
        "  Add a post to @demo_alice (or a slideshow: kind slideshow):\n"
        f"    curl -X POST {info.tiktok_control}/posts "
        f"-H 'Content-Type: application/json' -d '{post}'\n"
        "  Run the reposter; each run delivers only what is new:\n"
        f"    {rerun_command(info)}\n"
        f"{'' if bot_running else start_bot}"
        f"  Send the bot a link as {person.name} "
        f"(a command: POST {info.telegram_control}/updates/command {command}):\n"
        f"    curl -X POST {info.telegram_control}/updates/message "
        f"-H 'Content-Type: application/json' -d {shlex.quote(link)}\n"
        f"  See {person.name}'s chat with the bot:\n"
        f"    curl {info.telegram_control}/chats/{person.chat.chat_id}/messages\n"
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


def describe_conversations(box: Sandbox) -> str:
    parts = ["Talked with the bot, as the Telegram emulator holds it:"]
    for person in box.info.people:
        parts.append(f"  {person.name} in {person.chat.label}:")
        parts += [f"    {who:<6} {what}" for who, what in box.conversation(person)]
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


async def start_bot(info: SandboxInfo) -> asyncio.subprocess.Process:
    """``tikrelay bot`` on the sandbox's config in a subprocess, as users run it: its output on
    ours, its log (a line per job, which would bury the demo's output) in ``bot.log``."""
    log = bot_log(info)
    typer.echo(f"Starting the bot, as you would (its log: {log}):\n    {bot_command(info)}")
    with log.open("wb") as sink:  # the child writes to its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tikrelay",
            "bot",
            "--config",
            str(info.bot_config_file),
            stdin=asyncio.subprocess.DEVNULL,
            stderr=sink,
            env=reposter_env(info.token),
        )


async def talk_to_bot(box: Sandbox, bot: asyncio.subprocess.Process, stop: asyncio.Event) -> bool:
    """The demo's people write to the running bot until each got every answer (or the time
    runs out, the bot exits, or a stop comes); prints their conversations. True when every
    line was answered."""
    people = box.info.people
    names = ", ".join(person.name for person in people[:-1]) + f" and {people[-1].name}"
    typer.echo(f"{names} write to the bot, each line once the one before is answered:")
    talks = asyncio.ensure_future(box.converse(people))
    exited = asyncio.ensure_future(bot.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait(
        {talks, exited, stopped},
        timeout=ANSWER_TIMEOUT_SECONDS,
        return_when=asyncio.FIRST_COMPLETED,
    )
    answered = talks.done()
    for task in (talks, exited, stopped):
        task.cancel()
    await asyncio.gather(talks, exited, stopped, return_exceptions=True)
    if answered:
        talks.result()  # a fault of the demo itself is raised, not taken for an answer
    elif not stop.is_set():
        if bot.returncode is not None:
            typer.echo(f"tikrelay bot exited with {bot.returncode} before everyone got an answer")
        for person in people:
            line = box.unanswered(person)
            if line is not None:
                typer.echo(
                    f"no answer in {ANSWER_TIMEOUT_SECONDS:.0f} s: {person.name} still waits "
                    f"for the bot to answer {line!r}"
                )
        typer.echo(f"the bot's log: {bot_log(box.info)}")
    typer.echo(describe_conversations(box))
    return answered


async def stop_bot(bot: asyncio.subprocess.Process) -> None:
    if bot.returncode is None:
        # A terminal's Ctrl-C reached the bot too; this covers a stop sent to us alone.
        with contextlib.suppress(ProcessLookupError):  # it may have ended in the meantime
            bot.terminate()
    typer.echo(f"tikrelay bot exited with {await bot.wait()}\n")


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
        bool,
        typer.Option("--no-run", help="Only serve the emulators; run neither reposter nor bot."),
    ] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run the reposter and the bot, print what they sent, and exit.",
        ),
    ] = False,
) -> None:
    """Start emulated TikTok and Telegram servers with a demo world, run the reposter once
    against them and show what it delivered, then run the bot while demo people write to it and
    show their conversations; serve (the bot too) until Ctrl-C. With --once the exit code is
    the reposter's, or 3 when someone got no answer from the bot."""
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
            bot = None
            try:
                if not no_run:
                    code = await run_reposter(box.info, stop)
                    typer.echo(describe_deliveries(box))
                if not no_run and not stop.is_set():
                    bot = await start_bot(box.info)
                    answered = await talk_to_bot(box, bot, stop)
                    if not answered and not stop.is_set():
                        code = code or NO_ANSWER_EXIT
                if not once and not stop.is_set():
                    running = bot is not None and bot.returncode is None
                    typer.echo(instructions(box.info, bot_running=running))
                    await stop.wait()
            finally:
                if bot is not None:
                    await stop_bot(bot)
        typer.echo("sandbox stopped")
        return code if once else 0

    code = 0
    with contextlib.suppress(KeyboardInterrupt):
        code = asyncio.run(main())
    if code:
        raise typer.Exit(code)
