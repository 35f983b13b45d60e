"""A TikTok world served by the emulator, and yt-dlp options pointing the real yt-dlp at it."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.tiktok.recording import RecordingServer, recording_server
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sources.tiktok import TikTokClient

# What tikrelay asks for: muxed, not watermarked, never a video-only stream.
NO_WATERMARK = "b[format_id!=download][vcodec!=none][acodec!=none]/b[acodec!=none]/b"


class RecordingLogger:
    """yt-dlp's ``logger`` option: keeps messages instead of printing them."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def debug(self, msg: str) -> None:
        self.messages.append(("debug", msg))

    def info(self, msg: str) -> None:
        self.messages.append(("info", msg))

    def warning(self, msg: str) -> None:
        self.messages.append(("warning", msg))

    def error(self, msg: str) -> None:
        self.messages.append(("error", msg))

    def text(self, level: str | None = None) -> str:
        return "\n".join(m for lvl, m in self.messages if level in (None, lvl))


@pytest.fixture
def world(media: MediaFixtures) -> TikTokWorld:
    return TikTokWorld(media)


@pytest.fixture
def emulator(world: TikTokWorld) -> Iterator[TikTokEmulator]:
    with TikTokEmulator(world).running() as emu:
        port = emu.port
        yield emu
    collect_yt_dlp_leaks(port)


def collect_yt_dlp_leaks(port: int) -> None:
    """Collect, now, the client sockets yt-dlp leaves open, and tolerate only those.

    yt-dlp never closes the response of an HTTP error it retries or reports (for one,
    downloader/http.py turns a 5xx into RetryDownload with the response still open), so its
    socket to the emulator is closed by the garbage collector, in whichever later test that
    happens. Collecting here pins it to this test; any other unclosed resource still fails.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    for warning in caught:
        if f"raddr=('127.0.0.1', {port})" not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


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
