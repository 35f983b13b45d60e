"""The JSON control API under /_emulator/, in-process and from a separate emulator process."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from telegram.error import BadRequest

from tests.support.telegram import (  # noqa: F401 - fixtures
    emu,
    make_bot,
    ptb_timedelta,
    said,
)
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator


async def test_world_people_faults_and_record_over_http(emu: TelegramEmulator) -> None:
    async with httpx.AsyncClient(base_url=f"{emu.url}/_emulator") as control:
        alice = (await control.post("/users", json={"first_name": "Alice"})).json()
        chat = await control.post("/chats", json={"kind": "private", "person_id": alice["id"]})
        forum = (
            await control.post("/chats", json={"kind": "supergroup", "title": "F", "forum": True})
        ).json()
        topic = (await control.post(f"/chats/{forum['id']}/topics", json={"name": "Clips"})).json()
        assert topic["message_thread_id"] == 2
        await control.post("/faults", json={"method": "sendMessage", "status": 400})
        update = (
            await control.post("/updates/command", json={"chat_id": forum["id"], "command": "go"})
        ).json()
        assert update["message"]["text"] == "/go"
        async with make_bot(emu) as bot:
            with pytest.raises(BadRequest, match=said("injected failure")):
                await bot.send_message(forum["id"], "x", message_thread_id=2)
            await bot.send_message(forum["id"], "y", message_thread_id=2)
        record = (await control.get("/record", params={"method": "sendMessage"})).json()
        assert [(r["status"], r["thread_id"]) for r in record] == [(400, 2), (200, 2)]
        messages = (await control.get(f"/chats/{forum['id']}/messages")).json()
        assert [m["text"] for m in messages] == ["/go", "y"]
        flood = await control.put("/flood", json={"enabled": True})
        assert flood.json() == {"flood_limits": True}
        state = (await control.get("/state")).json()
        assert state["flood_limits"] is True
        assert [c["type"] for c in state["chats"]] == ["private", "supergroup"]
        assert chat.json()["bot_status"] == "member"
        await control.put(f"/chats/{forum['id']}/membership", json={"status": "kicked"})
        bad = await control.post("/chats", json={"kind": "planet"})
        assert bad.status_code == 400
        assert "chat kind must be one of" in bad.json()["error"]


def read_peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory (Linux VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[tuple[str, psutil.Process]]:
    command = [
        sys.executable,
        "-m",
        "tikrelay.sandbox.telegram",
        "--upload-limit",
        "400000000",
        "--files-dir",
        str(tmp_path / "telegram"),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    ) as process:
        try:
            assert process.stdout is not None
            ready = json.loads(process.stdout.readline())
            yield ready["url"], psutil.Process(ready["pid"])
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0


@pytest.mark.slow
def test_big_upload_is_streamed_to_disk(
    emulator_process: tuple[str, psutil.Process], media: MediaFixtures
) -> None:
    url, process = emulator_process
    big = media.big_file(300_000_000)
    with httpx.Client(base_url=url, timeout=120) as client:
        chat = client.post("/_emulator/chats", json={"kind": "channel", "title": "Big"}).json()
        send = "/bot123456:TEST/sendDocument"
        warm = client.post(send, data={"chat_id": chat["id"]}, files={"document": b"warm-up"})
        assert warm.json()["ok"]
        before = read_peak_rss(process.pid)
        with big.open("rb") as handle:
            answer = client.post(
                send, data={"chat_id": str(chat["id"])}, files={"document": ("big.bin", handle)}
            )
        grown = read_peak_rss(process.pid) - before
        assert answer.json()["result"]["document"]["file_size"] == 300_000_000
        record = client.get("/_emulator/record", params={"method": "sendDocument"}).json()
    assert grown < 50_000_000, f"peak RSS grew by {grown / 1e6:.1f} MB"
    digest = hashlib.sha256()
    with big.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    assert record[-1]["files"] == [
        {
            "part": "document",
            "size": 300_000_000,
            "sha256": digest.hexdigest(),
            "file_name": "big.bin",
            "source": "upload",
        }
    ]
    assert process.memory_info().rss < before + 50_000_000


def test_running_serves_synchronous_callers_and_wakes_their_polls() -> None:
    with TelegramEmulator().running() as emulator:
        chat = emulator.add_chat("private")
        url = f"{emulator.url}/bot{emulator.token}/getUpdates"
        with ThreadPoolExecutor(1) as pool:
            poll = pool.submit(httpx.post, url, json={"timeout": 10}, timeout=20)
            # Whether the poll is already parked or not, this message must reach it at once.
            emulator.user_message(chat.id, "from another thread")
            started = time.monotonic()
            answer = poll.result(timeout=20)
        assert time.monotonic() - started < 5
        assert [u["message"]["text"] for u in answer.json()["result"]] == ["from another thread"]
