"""AI captions end to end: ``tikrelay run --once`` against the TikTok, Telegram and
OpenAI-compatible emulators."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.relayed import Relayed
from tikrelay.sandbox.openai import OpenAIEmulator

KEY = "sk-test-KEY-that-must-never-leak-0123456789"
PROMPT = (
    "Caption for @{{ author }} ({{ author_name }}), {{ kind }}, "
    "posted {{ created_at | date('%Y-%m-%d %H:%M %Z') }}: {{ text }}"
)


@pytest.fixture
def model() -> Iterator[OpenAIEmulator]:
    emulator = OpenAIEmulator(reply=lambda prompt: f"AI says: {prompt[-12:]} <b>&")
    with emulator.running():
        yield emulator


@pytest.fixture(autouse=True)
def _key(relayed: Relayed) -> None:
    relayed.env["AI_KEY"] = KEY


def ai(base_url: str, **more: Any) -> dict[str, Any]:
    return {"base_url": base_url, "model": "tiny", "prompt": PROMPT, "api_key_env": "AI_KEY"} | more


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (folder / "state").rglob("*") if p.is_file())


def test_the_models_text_and_the_author_line_arrive_asked_once(
    relayed: Relayed, model: OpenAIEmulator
) -> None:
    world, telegram = relayed.world, relayed.telegram
    first = telegram.add_chat("channel", title="One", username="one")
    second = telegram.add_chat("channel", title="Two", username="two")
    world.add_creator("alice", nickname="Alice A")
    world.add_video("alice", desc="morning run")
    settings = ai(model.base_url)
    relayed.destinations = {
        "one": {"telegram": {"chat_id": first.id}, "tz": "Asia/Tokyo", "ai_caption": settings},
        "two": {"telegram": {"chat_id": second.id}, "tz": "Asia/Tokyo", "ai_caption": settings},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["one", "two"]}]

    run = relayed.run()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 delivered, 0 failed" in run.stdout
    # One request for both destinations: the second read what the first stored.
    assert len(model.requests) == 1
    request = model.requests[0]
    assert request.authorization == f"Bearer {KEY}"
    assert request.body["model"] == "tiny"
    prompt = request.prompt
    assert prompt.startswith("Caption for @alice (Alice A), video, posted ")
    assert prompt.endswith(" JST: morning run")  # the date in the destination's time zone
    for chat in (first, second):
        (message,) = telegram.messages(chat.id)
        # The model's text (escaped, shown as written), a blank line, the author line.
        assert message["caption"] == f"AI says: {prompt[-12:]} <b>&\n\n— @alice"
    timeline = relayed.newest_timeline("deliver")
    assert "AI_CAPTION" in timeline
    # The key is in no log line and nowhere in the database.
    assert KEY not in run.stdout + run.stderr
    assert KEY not in timeline
    assert KEY.encode() not in stored_bytes(relayed.folder)

    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(model.requests) == 1


@pytest.mark.parametrize("trouble", ["refused", "dropped", "refusal", "slow"])
def test_without_an_answer_the_template_caption_goes_and_the_timeline_says_why(
    relayed: Relayed, model: OpenAIEmulator, trouble: str
) -> None:
    world, telegram = relayed.world, relayed.telegram
    chat = telegram.add_chat("channel", title="One", username="one")
    world.add_creator("alice")
    world.add_video("alice", desc="evening walk")
    base_url = closed_port_url() if trouble == "refused" else model.base_url
    model.down = trouble == "dropped"
    model.fail_status = 500 if trouble == "refusal" else None
    model.delay = 5 if trouble == "slow" else 0
    relayed.destinations = {
        "one": {"telegram": {"chat_id": chat.id}, "ai_caption": ai(base_url, timeout_seconds=1)}
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["one"]}]

    run = relayed.run()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 delivered, 0 failed" in run.stdout
    (message,) = telegram.messages(chat.id)
    assert message["caption"] == "evening walk\n\n— @alice"
    timeline = relayed.newest_timeline("deliver")
    reasons = {
        "refused": "request to",
        "dropped": "request to",
        "refusal": "HTTP 500",
        "slow": "within 1 s",
    }
    failed = next(line for line in timeline.splitlines() if "AI_CAPTION_FAILED" in line)
    assert reasons[trouble] in failed
    assert KEY not in run.stdout + run.stderr + timeline
    assert KEY.encode() not in stored_bytes(relayed.folder)


def test_a_missing_key_or_a_broken_prompt_stops_the_start_naming_the_key(
    relayed: Relayed, model: OpenAIEmulator
) -> None:
    chat = relayed.telegram.add_chat("channel", title="One", username="one")
    relayed.world.add_creator("alice")
    relayed.sources = [{"tiktok": "@alice", "to": ["one"]}]
    relayed.destinations = {
        "one": {"telegram": {"chat_id": chat.id}, "ai_caption": ai(model.base_url)}
    }
    relayed.env["AI_KEY"] = ""
    run = relayed.run()
    assert run.returncode != 0
    assert "destinations.one.ai_caption.api_key_env" in run.stdout + run.stderr
    assert "AI_KEY is not set" in run.stdout + run.stderr

    relayed.env["AI_KEY"] = KEY
    relayed.destinations["one"]["ai_caption"] = ai(model.base_url, prompt="{{ text ")
    run = relayed.run()
    assert run.returncode != 0
    assert "destinations.one.ai_caption.prompt: line 1" in run.stdout + run.stderr
    assert not model.requests


def test_a_failure_stands_for_the_other_destinations_of_the_post(
    relayed: Relayed, model: OpenAIEmulator
) -> None:
    """Three destinations with the same prompt and a model that never answers in time: it is
    asked once, and the others take that failure at once instead of waiting as long each."""
    world, telegram = relayed.world, relayed.telegram
    world.add_creator("alice")
    world.add_video("alice", desc="evening walk")
    model.delay = 5
    chats = [telegram.add_chat("channel", title=f"c{n}", username=f"c{n}") for n in range(3)]
    relayed.destinations = {
        f"c{n}": {
            "telegram": {"chat_id": chat.id},
            "ai_caption": ai(model.base_url, timeout_seconds=1),
        }
        for n, chat in enumerate(chats)
    }
    relayed.sources = [{"tiktok": "@alice", "to": [f"c{n}" for n in range(3)]}]
    run = relayed.run()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 delivered, 0 failed" in run.stdout
    for chat in chats:
        (message,) = telegram.messages(chat.id)
        assert message["caption"] == "evening walk\n\n— @alice"
    assert len(model.requests) == 1
