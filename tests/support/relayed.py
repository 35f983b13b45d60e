"""The reposter end to end: both emulators serving a world, a config pointing tikrelay at them, and
the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

TOKEN = "123456:RELAY-TEST-TOKEN"
# The emulator has Telegram's flood limits off unless a test turns them on; tikrelay's own pace
# is then raised too, so tests do not wait out a minute per 20 messages.
FAST = {"chat_per_second": 100, "chat_burst": 50, "group_per_minute": 5000, "bot_per_second": 200}


@dataclass
class Relayed:
    """The running emulators and a config file for ``tikrelay run --once``."""

    world: TikTokWorld
    tiktok: TikTokEmulator
    telegram: TelegramEmulator
    folder: Path
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    flood: dict[str, Any] | None = field(default_factory=lambda: dict(FAST))
    env: dict[str, str] = field(default_factory=dict)  # more environment for the command

    @property
    def config(self) -> Path:
        ca = self.folder / "tiktok-ca.pem"
        ca.write_bytes(self.tiktok.ca_pem)
        data = {
            "state_dir": str(self.folder / "state"),
            "telegram": {
                "api_url": self.telegram.url,
                **({"flood": self.flood} if self.flood else {}),
            },
            "network": {"proxies": [self.tiktok.proxy_url], "ca_bundle": str(ca)},
            "destinations": self.destinations,
            "sources": self.sources,
            **self.extra,
        }
        path = self.folder / "tikrelay.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    def newest_timeline(self, kind: str) -> str:
        """``tikrelay jobs show`` of the newest job of ``kind``, as a user reads it."""
        config = str(self.config)
        listed = self.run("jobs", "list", "--kind", kind, "--config", config)
        job_id = listed.stdout.splitlines()[1].split()[0]
        return self.run("jobs", "show", job_id, "--config", config).stdout

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``tikrelay run --once`` (or ``args``) in a subprocess, the token in the environment."""
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1", **self.env}
        command = list(args) or ["run", "--once", "--config", str(self.config)]
        return subprocess.run(
            [sys.executable, "-m", "tikrelay", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
