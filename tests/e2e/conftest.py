"""The ``relayed`` fixture: both emulators serving a world (tests.support.relayed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.relayed import TOKEN, Relayed
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld


@pytest.fixture
def relayed(media: MediaFixtures, tmp_path: Path) -> Iterator[Relayed]:
    world = TikTokWorld(media)
    with (
        TikTokEmulator(world).running() as tiktok,
        TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram").running() as telegram,
    ):
        yield Relayed(world, tiktok, telegram, tmp_path)
