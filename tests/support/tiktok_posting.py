"""Helpers for tests of TikTok publishing: an account authorized through the real OAuth flow
against the emulator, token saving recorded, and video files of a chosen size."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tikrelay.config.tiktok_settings import TikTokApp
from tikrelay.destinations.tiktok_auth import (
    OAuthClient,
    Tokens,
    begin_authorization,
    code_from_redirect,
)
from tikrelay.sandbox.tiktok_posting import CLIENT_KEY, CLIENT_SECRET, TikTokPostingEmulator

MB = 1024 * 1024


def app_for(posting: TikTokPostingEmulator) -> TikTokApp:
    return TikTokApp(
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        api_url=posting.url,
        auth_url=posting.auth_url,
        redirect_uri="http://127.0.0.1:3455/callback/",
    )


async def authorize(app: TikTokApp, http: httpx.AsyncClient) -> Tokens:
    """The owner opens the URL; the emulated TikTok sends the browser back with a code."""
    started = begin_authorization(app)
    page = await http.get(started.url)
    assert page.status_code == 302
    code = code_from_redirect(page.headers["location"], started.state)
    return await OAuthClient(app, http).exchange(code, started.verifier, datetime.now(UTC))


class Saved:
    """A ``save`` callback that keeps every token pair it was given."""

    def __init__(self) -> None:
        self.tokens: list[Tokens] = []

    async def __call__(self, tokens: Tokens) -> None:
        self.tokens.append(tokens)


def video_file(folder: Path, size: int, seed: int = 0) -> Path:
    """``size`` bytes whose every MB starts with its number (a misplaced chunk shows)."""
    path = folder / f"video-{size}-{seed}.mp4"
    block = bytes((i * 7 + seed) % 251 for i in range(MB))
    with path.open("wb") as fh:
        left, n = size, 0
        while left > 0:
            piece = n.to_bytes(8, "big") + block[8:]
            fh.write(piece[: min(left, MB)])
            left -= MB
            n += 1
    return path


SECRET_KEY = "a test secret key, long and random enough for tests"


def posting_settings(posting: TikTokPostingEmulator) -> dict[str, object]:
    """The ``tiktok_app:`` section pointing tikrelay at the emulator."""
    return {
        "client_key": CLIENT_KEY,
        "api_url": posting.url,
        "auth_url": posting.auth_url,
        "redirect_uri": "http://127.0.0.1:3455/callback/",
    }


def posting_env() -> dict[str, str]:
    return {
        "TIKRELAY_SECRET_KEY": SECRET_KEY,
        "TIKRELAY_TIKTOK_APP__CLIENT_SECRET": CLIENT_SECRET,
    }


def authorize_with_cli(config: Path, name: str, env: dict[str, str]) -> tuple[str, str]:
    """``tikrelay tiktok-auth NAME`` as a person runs it: the printed URL opened (the emulated
    TikTok redirects at once), the address it led to pasted on stdin. Its stdout and stderr."""
    command = [sys.executable, "-m", "tikrelay", "tiktok-auth", name, "--config", str(config)]
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    shown = []
    url = ""
    while not url:
        line = proc.stdout.readline()
        assert line, proc.communicate()
        shown.append(line)
        if line.strip().startswith("http"):
            url = line.strip()
    location = httpx.get(url, follow_redirects=False).headers["location"]
    out, err = proc.communicate(f"{location}\n", timeout=60)
    assert proc.returncode == 0, "".join(shown) + out + err
    return "".join(shown) + out, err
