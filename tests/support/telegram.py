"""Fixtures and checks shared by the Telegram emulator tests (which drive the real PTB)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, TelegramObject

from tikrelay.sandbox.telegram import TelegramEmulator

TOKEN = "123456:TEST"


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt into PTB's timedelta durations, so reading ``Video.duration`` raises no warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram") as emulator:
        yield emulator


def make_bot(emulator: TelegramEmulator, token: str | None = None, **kwargs: Any) -> Bot:
    return Bot(
        token or emulator.token,
        base_url=f"{emulator.url}/bot",
        base_file_url=f"{emulator.url}/file/bot",
        **kwargs,
    )


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with make_bot(emu) as client:
        yield client


def _children(value: Any) -> Iterable[Any]:
    if isinstance(value, TelegramObject):
        return value._get_attrs(include_private=True, remove_bot=True).values()
    if isinstance(value, list | tuple):
        return value
    return ()


def assert_clean(value: Any, path: str = "result") -> None:
    """Fail if PTB parked any field it did not recognise in ``api_kwargs``, at any depth."""
    if isinstance(value, TelegramObject):
        assert dict(value.api_kwargs) == {}, f"{path} ({type(value).__name__}) has leftovers"
    for index, child in enumerate(_children(value)):
        assert_clean(child, f"{path}.{type(value).__name__}[{index}]")


def said(description: str) -> re.Pattern[str]:
    """Match an error PTB raised; PTB drops the "Bad Request: " prefix and capitalises the rest."""
    return re.compile(re.escape(description), re.IGNORECASE)
