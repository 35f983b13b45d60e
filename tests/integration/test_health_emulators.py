"""``health.examine`` against both emulators, as the bot's /health and the web's /readyz call it:
settings in, a typed report out, nothing posted."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.support.ytdlp import collect_yt_dlp_leaks
from tikrelay.config import Settings
from tikrelay.health import Report, Status, examine
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

TOKEN = "123456:HEALTH-TEST-TOKEN"
# Where the TikTok checks point HTTPS clients for their CA bundle (sources.ytdlp.trust_ca_bundle).
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class Peers:
    tiktok: TikTokEmulator
    telegram: TelegramEmulator
    folder: Path

    def settings(self, *, token: str = TOKEN, **network: Any) -> Settings:
        ca = self.folder / "tiktok-ca.pem"
        ca.write_bytes(self.tiktok.ca_pem)
        good = self.telegram.add_chat("channel", title="Fine")
        bad = self.telegram.add_chat("channel", title="Reader", bot_status="member")
        return Settings(
            state_dir=self.folder / "state",
            telegram={"api_url": self.telegram.url, "bot_token": SecretStr(token)},
            network={"proxies": [self.tiktok.proxy_url], "ca_bundle": ca, **network},
            destinations={
                "good": {"telegram": {"chat_id": good.id}},
                "bad": {"telegram": {"chat_id": bad.id}},
            },
            sources=[{"tiktok": "@alice", "to": ["good", "bad"]}],
        )

    def posted(self) -> list[str]:
        return [
            r.method
            for r in self.telegram.record
            if r.method.startswith("send") and r.method != "sendChatAction"
        ]


@pytest.fixture
def peers(media: MediaFixtures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Peers]:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB's timedelta durations, without a warning
    with (
        TikTokEmulator(TikTokWorld(media)).running() as tiktok,
        TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram").running() as telegram,
    ):
        yield Peers(tiktok, telegram, tmp_path)
        port = tiktok.port
    collect_yt_dlp_leaks(port)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def statuses(report: Report) -> dict[str, Status]:
    return {check.name: check.status for check in report.checks}


async def test_a_good_destination_passes_and_a_bad_one_fails_with_its_fix(peers: Peers) -> None:
    port = closed_port()
    dead = f"http://relay:hunter2@127.0.0.1:{port}"
    settings = peers.settings(proxies=[dead, peers.tiktok.proxy_url])
    variables = {name: os.environ.get(name) for name in CA_VARIABLES}

    report = await examine(settings, config_file=None)

    shown = f"proxy http://relay:[redacted]@127.0.0.1:{port}"
    assert statuses(report) == {
        "config": Status.PASSED,
        "sources": Status.PASSED,
        "telegram": Status.PASSED,
        "destination good": Status.PASSED,
        "destination bad": Status.FAILED,
        "ffmpeg": Status.PASSED,
        "database": Status.PASSED,
        "state folder": Status.PASSED,
        shown: Status.FAILED,
        f"proxy {peers.tiktok.proxy_url}": Status.PASSED,
    }
    assert not report.ok
    assert [c.name for c in report.failures] == ["destination bad", shown]
    assert report.named("telegram").detail == (
        f"the token is accepted: bot @tikrelay_sandbox_bot at {peers.telegram.url}"
    )
    good = settings.destinations["good"].telegram.chat_id
    assert report.named("destination good").detail == (
        f"channel 'Fine' ({good}): the bot is administrator"
    )
    [problem] = report.named("destination bad").problems
    assert problem.startswith("the bot is not an administrator of ")
    assert "add it as an administrator with 'Post messages'" in problem
    [problem] = report.named(shown).problems
    assert problem.startswith(f"cannot connect to 127.0.0.1:{port} (")
    assert problem.endswith("start the proxy, or fix or remove network.proxies.0")
    assert report.named(f"proxy {peers.tiktok.proxy_url}").detail == (
        "TikTok answers through it (HTTP 404)"
    )
    assert "hunter2" not in repr(report)
    assert TOKEN not in repr(report)
    assert peers.posted() == []
    assert not (peers.folder / "state").exists()
    # The checks' CA bundle is gone: the process's HTTPS clients do not point at it any more.
    assert {name: os.environ.get(name) for name in CA_VARIABLES} == variables


async def test_a_refused_token_fails_and_leaves_the_destinations_unchecked(
    peers: Peers, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "987654:THIS-TOKEN-IS-NOT-KNOWN-HERE"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)

    report = await examine(peers.settings(token=wrong), config_file=Path("tikrelay.yaml"))

    assert report.named("config").detail == "tikrelay.yaml loads"
    [problem] = report.named("telegram").problems
    assert problem.startswith("Telegram does not accept the bot token")
    for name in ("destination good", "destination bad"):
        skipped = report.named(name)
        assert skipped.status is Status.SKIPPED
        assert skipped.detail == "not checked: the bot token must work first"
    assert [c.name for c in report.failures] == ["telegram"]
    assert len(report.done) == len(report.checks) - 2
    assert "THIS-TOKEN-IS-NOT-KNOWN-HERE" not in repr(report)
