"""``tikrelay sandbox`` waits for the bot's answers a bounded time: a bot that never answers, or
one that exits, is said plainly, naming who still waits, instead of hanging the demo.

The demo's emulators run in this process and the "bot" is a stand-in process, so that the
failures are certain and quick; test_sandbox_command.py runs the real one."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tikrelay.cli import sandbox as sandbox_cli
from tikrelay.sandbox.demo import Sandbox, start_sandbox


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with start_sandbox(tmp_path) as running:
        yield running


async def stand_in(code: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-c", code)


async def test_a_bot_that_never_answers_is_named_with_who_waits_once_the_time_is_up(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox_cli, "ANSWER_TIMEOUT_SECONDS", 1.0)
    bot = await stand_in("import time; time.sleep(60)")
    try:
        answered = await sandbox_cli.talk_to_bot(box, bot, asyncio.Event())
    finally:
        await sandbox_cli.stop_bot(bot)
    out = capsys.readouterr().out
    assert not answered
    assert "no answer in 1 s: Dana still waits for the bot to answer '/start'" in out
    assert "no answer in 1 s: Emil still waits for the bot to answer '/help'" in out
    assert "Fern still waits for the bot to answer 'look at this one https://vm.tiktok.com/" in out
    assert f"the bot's log: {box.info.config_file.with_name('bot.log')}" in out
    # Each asked once, and nobody went on before an answer.
    talked = out.split("Talked with the bot, as the Telegram emulator holds it:\n", 1)[1]
    assert talked.startswith("  Dana in a private chat with the bot:\n    Dana   /start\n  Emil")


async def test_a_bot_that_exits_is_said_at_once(
    box: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = await stand_in("raise SystemExit(5)")
    answered = await asyncio.wait_for(sandbox_cli.talk_to_bot(box, bot, asyncio.Event()), 30)
    out = capsys.readouterr().out
    assert not answered
    assert "tikrelay bot exited with 5 before everyone got an answer" in out


async def test_a_stop_ends_the_wait_without_blaming_the_bot(
    box: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = await stand_in("import time; time.sleep(60)")
    stop = asyncio.Event()
    stop.set()
    try:
        answered = await asyncio.wait_for(sandbox_cli.talk_to_bot(box, bot, stop), 30)
    finally:
        await sandbox_cli.stop_bot(bot)
    out = capsys.readouterr().out
    assert not answered
    assert "no answer" not in out
    assert "exited with" not in out.split("Talked with the bot")[0]
