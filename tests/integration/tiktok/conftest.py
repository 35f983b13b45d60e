"""A TikTok world served by the emulator, and yt-dlp options pointing the real yt-dlp at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.recording import RecordingServer, recording_server
from tests.support.ytdlp import RecordingLogger, collect_yt_dlp_leaks
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sources.tiktok import TikTokClient


@pytest.fixture
def world(media: MediaFixtures) -> TikTokWorld:
    return TikTokWorld(media)


@pytest.fixture
def emulator(world: TikTokWorld) -> Iterator[TikTokEmulator]:
    with TikTokEmulator(world).running() as emu:
        port = emu.port
        yield emu
    collect_yt_dlp_leaks(port)


@pytest.fixture
def ytdl_log() -> RecordingLogger:
    return RecordingLogger()


@pytest.fixture
def ydl_opts(emulator: TikTokEmulator, tmp_path: Path, ytdl_log: RecordingLogger) -> dict[str, Any]:
    """Production options plus the emulator's two; no retries, so failures show at once."""
    return {
        **emulator.ydl_options,
        "logger": ytdl_log,
        "noprogress": True,
        "outtmpl": str(tmp_path / "%(id)s.%(ext)s"),
        "retries": 0,
        "extractor_retries": 0,
        "socket_timeout": 10,
    }


@pytest.fixture
def source_client(
    emulator: TikTokEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> TikTokClient:
    """tikrelay's TikTok source through the emulator, verifying TLS against its CA."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # restored afterwards
        monkeypatch.setenv(name, os.environ.get(name, ""))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(emulator.ca_pem)
    network = NetworkSettings(proxies=[emulator.proxy_url], ca_bundle=ca)
    return TikTokClient(network, StatePaths(tmp_path / "state"))


@pytest.fixture
def internal(media: MediaFixtures) -> Iterator[RecordingServer]:
    """An internal HTTP service on 127.0.0.1 that answers with a JPEG and records every hit."""
    with recording_server(media.image(0, "jpeg")) as server:
        yield server
