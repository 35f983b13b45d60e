"""``tikrelay doctor`` against both emulators: what it checks, and what its failures say.

The checks themselves, called as functions, are tested in ``tests/**/test_health*.py``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

from tests.support.relayed import TOKEN, Relayed

MARKS = ("✓", "✗", "·")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def network(relayed: Relayed, **more: Any) -> dict[str, Any]:
    """The harness's network section (the emulator as proxy, its CA), plus ``more``."""
    ca = relayed.folder / "tiktok-ca.pem"
    ca.write_bytes(relayed.tiktok.ca_pem)
    return {"proxies": [relayed.tiktok.proxy_url], "ca_bundle": str(ca), **more}


def doctor(
    relayed: Relayed, *, token: str = TOKEN, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``tikrelay doctor`` with ``token`` as TELEGRAM_BOT_TOKEN (``relayed.run`` fixes it)."""
    environment = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "PTB_TIMEDELTA": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tikrelay", "doctor", "--config", str(relayed.config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def checks(output: str) -> dict[str, list[str]]:
    """Check lines by label: {"destination clips": ["✗ ...", ...]}."""
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith(MARKS):
            label = line[2:].split(": ", 1)[0]
            found.setdefault(label, []).append(line)
    return found


def with_channel_and_topic(relayed: Relayed) -> None:
    telegram = relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    forum = telegram.add_chat("supergroup", title="Forum", forum=True)
    topic = telegram.add_topic(forum.id, "Clips")
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}},
        "forum": {"telegram": {"chat_id": forum.id, "topic_id": topic.message_thread_id}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips", "forum"]}]


def test_a_ready_setup_passes_every_check_and_posts_nothing(relayed: Relayed) -> None:
    with_channel_and_topic(relayed)
    cookies = relayed.folder / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n", encoding="utf-8")
    cookies.chmod(0o600)
    relayed.extra = {"network": network(relayed, cookies_file=str(cookies))}

    result = relayed.run("doctor", "--config", str(relayed.config))

    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result.stdout)
    assert list(found) == [
        "config",
        "sources",
        "telegram",
        "destination clips",
        "destination forum",
        "ffmpeg",
        "database",
        "state folder",
        "cookies",
        f"proxy {relayed.tiktok.proxy_url}",
    ]
    assert all(line.startswith("✓") for lines in found.values() for line in lines), result.stdout
    assert "bot @tikrelay_sandbox_bot" in found["telegram"][0]
    assert "channel 'Clips'" in found["destination clips"][0]
    assert "topic 2" in found["destination forum"][0]
    assert "ffmpeg version" in found["ffmpeg"][0]
    assert "TikTok answers through it" in found[f"proxy {relayed.tiktok.proxy_url}"][0]
    assert result.stdout.rstrip().endswith("all 10 checks passed")
    assert TOKEN not in result.stdout + result.stderr
    # Checking sends no message, and the database and state folder are left for the first run.
    assert not [
        r
        for r in relayed.telegram.record
        if r.method.startswith("send") and r.method != "sendChatAction"
    ]
    assert not (relayed.folder / "state").exists()


def test_a_bot_that_may_not_post_and_a_missing_topic_are_named_with_their_fix(
    relayed: Relayed,
) -> None:
    telegram = relayed.telegram
    fine = telegram.add_chat("channel", title="Fine")
    reader = telegram.add_chat("channel", title="Reader", bot_status="member")
    forum = telegram.add_chat("supergroup", title="Forum", forum=True)
    relayed.destinations = {
        "fine": {"telegram": {"chat_id": fine.id}},
        "reader": {"telegram": {"chat_id": reader.id}},
        "lost": {"telegram": {"chat_id": forum.id, "topic_id": 99}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["fine", "reader", "lost"]}]

    result = relayed.run("doctor", "--config", str(relayed.config))

    assert result.returncode == 1, result.stdout + result.stderr
    found = checks(result.stdout)
    assert found["destination fine"][0].startswith("✓")
    [reader_line] = found["destination reader"]
    assert reader_line.startswith("✗ destination reader: the bot is not an administrator of ")
    assert "add it as an administrator with 'Post messages'" in reader_line
    [lost_line] = found["destination lost"]
    assert lost_line.startswith(f"✗ destination lost: topic 99 does not exist in chat {forum.id}")
    assert "check topic_id" in lost_line
    assert result.stdout.rstrip().endswith("2 of 10 checks failed")


def test_a_wrong_token_is_reported_without_showing_it(relayed: Relayed) -> None:
    with_channel_and_topic(relayed)
    wrong = "987654:THIS-TOKEN-IS-NOT-KNOWN-HERE"

    result = doctor(relayed, token=wrong)

    assert result.returncode == 1, result.stdout + result.stderr
    found = checks(result.stdout)
    [line] = found["telegram"]
    assert line.startswith("✗ telegram: Telegram does not accept the bot token")
    assert "set TELEGRAM_BOT_TOKEN to the token @BotFather gave you" in line
    assert found["destination clips"] == [
        "· destination clips: not checked: the bot token must work first"
    ]
    assert found["ffmpeg"][0].startswith("✓")  # the other checks still ran
    for secret in (wrong, "THIS-TOKEN-IS-NOT-KNOWN-HERE"):
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr  # python-telegram-bot's log of the refusal stays out


def test_a_cookies_file_others_may_read_needs_chmod_600(relayed: Relayed) -> None:
    with_channel_and_topic(relayed)
    cookies = relayed.folder / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n", encoding="utf-8")
    cookies.chmod(0o644)
    relayed.extra = {"network": network(relayed, cookies_file=str(cookies))}

    result = relayed.run("doctor", "--config", str(relayed.config))

    assert result.returncode == 1, result.stdout + result.stderr
    assert checks(result.stdout)["cookies"] == [
        f"✗ cookies: network.cookies_file {cookies} is readable by other users: "
        f"run `chmod 600 {cookies}`"
    ]


def test_a_dead_proxy_fails_alone_with_its_password_hidden(relayed: Relayed) -> None:
    with_channel_and_topic(relayed)
    port = closed_port()
    dead = f"http://relay:hunter2@127.0.0.1:{port}"
    relayed.extra = {"network": network(relayed, proxies=[dead, relayed.tiktok.proxy_url])}

    result = relayed.run("doctor", "--config", str(relayed.config))

    assert result.returncode == 1, result.stdout + result.stderr
    found = checks(result.stdout)
    shown = f"proxy http://relay:[redacted]@127.0.0.1:{port}"
    [line] = found[shown]
    assert line.startswith(f"✗ {shown}: cannot connect to 127.0.0.1:{port}")
    assert "network.proxies.0" in line
    assert found[f"proxy {relayed.tiktok.proxy_url}"][0].startswith("✓")
    assert "hunter2" not in result.stdout + result.stderr


def test_without_proxies_an_unreachable_tiktok_is_one_clean_line(relayed: Relayed) -> None:
    with_channel_and_topic(relayed)
    relayed.extra = {"network": {}}
    # The standard proxy variables lead the direct request to a closed port, so it fails the
    # same way with or without internet on the machine running the tests.
    dead = f"http://127.0.0.1:{closed_port()}"

    result = doctor(relayed, env={"https_proxy": dead, "HTTPS_PROXY": dead})

    assert result.returncode == 1, result.stdout + result.stderr
    [line] = checks(result.stdout)["TikTok"]
    assert line.startswith("✗ TikTok: https://www.tiktok.com/ cannot be reached directly (")
    assert line.endswith("check this machine's internet connection and DNS, or set network.proxies")
    assert "Traceback" not in result.stderr


def test_a_config_that_does_not_load_exits_2(relayed: Relayed) -> None:
    relayed.extra = {"destinatons": {}}

    result = relayed.run("doctor", "--config", str(relayed.config))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "destinatons: unknown key" in result.stderr
    assert result.stdout == ""


def test_archive_destinations_are_checked_without_writing(relayed: Relayed) -> None:
    relayed.world.add_creator("alice", videos=1)
    blocked = relayed.folder / "a-file"
    blocked.write_text("not a folder")
    relayed.destinations = {
        "vault": {"archive": {"path": str(relayed.folder / "new" / "vault")}},
        "broken": {"archive": {"path": str(blocked / "vault")}},
        "bucket": {
            "archive": {
                "url": "s3://tiktok-archive/p",
                "endpoint_url": f"http://127.0.0.1:{closed_port()}",
            }
        },
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["vault", "broken", "bucket"]}]
    env = {
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret-never-shown",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    result = doctor(relayed, env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    found = checks(result.stdout)
    assert found["archive vault"][0].startswith("✓")
    assert "created on the first archive" in found["archive vault"][0]
    assert not (relayed.folder / "new").exists()
    assert found["archive broken"][0].startswith("✗")
    assert "is a file" in found["archive broken"][0]
    assert found["archive bucket"][0].startswith("✗")
    assert "network" in found["archive bucket"][0] or "did not answer" in found["archive bucket"][0]
    assert "secret-never-shown" not in result.stdout + result.stderr
    assert found["sources"][0].startswith("✓")
