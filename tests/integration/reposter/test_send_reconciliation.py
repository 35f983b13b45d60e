"""The send-intent protocol against the Telegram emulator, crash by crash: a send Telegram
carried out but never answered, and a send that never left, each followed by other posts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.relayed import FAST
from tikrelay.config.settings import Settings
from tikrelay.engine.context import JobContext
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.model import Route, Routes
from tikrelay.reposter.parts import AlbumPart
from tikrelay.reposter.sending import send_parts
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.store import JobQueue, NewJob, open_queue
from tikrelay.store import relay as sql

TOKEN = "123456:RECONCILE"


@dataclass
class Harness:
    clients: Clients
    queue: JobQueue
    route: Route
    emu: TelegramEmulator
    photo: Path

    async def ledger(self) -> Ledger:
        job = self.queue.enqueue(NewJob(kind="noop", payload={}, max_attempts=1)).job

        async def run_db(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(func, *args, **kwargs)

        ctx = JobContext(job, run_db=run_db, add_event=self.queue.add_event, stage_timeouts={})
        return Ledger(ctx, self.queue)

    async def send(self, post: str) -> list[int]:
        part = AlbumPart(0, [self.photo], f"caption of {post}")
        sender = self.clients.telegram
        sent = await send_parts(await self.ledger(), sender, self.route, post, [part])
        return sent.message_ids

    def died_before_sending(self, post: str, *, after: int) -> None:
        """The intent a send writes first, and nothing else: the process died right there."""
        with self.queue.transaction() as conn:
            sql.start_intent(
                conn,
                post_key=post,
                destination=self.route.name,
                part=0,
                chat_id=self.route.chat,
                expected=1,
                parts=1,
                after_message_id=after,
                now=self.queue.clock(),
            )

    def captions(self) -> list[str]:
        return [
            m.get("caption", "") for m in self.emu.messages(self.route.settings.telegram.chat_id)
        ]


@pytest.fixture
async def harness(tmp_path: Path, media: MediaFixtures) -> AsyncIterator[Harness]:
    async with TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram") as emu:
        channel = emu.add_chat("channel", title="Clips", username="clips")
        settings = Settings.model_validate(
            {
                "state_dir": str(tmp_path / "state"),
                "telegram": {"api_url": emu.url, "bot_token": TOKEN, "flood": FAST},
                "destinations": {"clips": {"telegram": {"chat_id": channel.id}}},
            }
        )
        queue = open_queue(settings)
        clients = Clients(settings)
        route = Routes.from_settings(settings).route("clips")
        try:
            async with clients.telegram:
                yield Harness(clients, queue, route, emu, media.image(1, "jpeg"))
        finally:
            queue.engine.dispose()


async def test_a_send_carried_out_but_never_answered_is_found_not_repeated(
    harness: Harness,
) -> None:
    assert await harness.send("t:0") == [1]
    # Telegram carries out A's send, but the answer never reaches us: the "crash".
    harness.emu.delay_call("sendPhoto", nth=1, seconds=30)
    crashed = asyncio.create_task(harness.send("t:A"))
    for _ in range(1000):  # until the emulator holds A's message (at most 10 s)
        if len(harness.captions()) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(harness.captions()) == 2
    crashed.cancel()
    await asyncio.gather(crashed, return_exceptions=True)

    # B comes first: it settles A's open send (found at id 2), then sends after it.
    assert await harness.send("t:B") == [3]
    # A's own retry finds its send confirmed already: nothing is sent twice.
    assert await harness.send("t:A") == [2]
    assert harness.captions() == ["caption of t:0", "caption of t:A", "caption of t:B"]


async def test_a_send_that_never_left_is_dropped_and_sent_afresh(harness: Harness) -> None:
    assert await harness.send("t:0") == [1]
    harness.died_before_sending("t:A", after=1)  # intent written, died before sending
    assert await harness.send("t:B") == [2]  # A's intent found nothing and went
    assert await harness.send("t:A") == [3]  # A starts afresh after B: not taken for B's
    assert harness.captions() == ["caption of t:0", "caption of t:B", "caption of t:A"]


async def test_a_send_that_never_left_is_not_credited_with_the_next_crashed_send(
    harness: Harness,
) -> None:
    assert await harness.send("t:0") == [1]
    harness.died_before_sending("t:A", after=1)  # intent written, died before sending
    # B: carried out by Telegram at id 2, never answered.
    harness.emu.delay_call("sendPhoto", nth=1, seconds=30)
    crashed = asyncio.create_task(harness.send("t:B"))
    for _ in range(1000):
        if len(harness.captions()) == 2:
            break
        await asyncio.sleep(0.01)
    crashed.cancel()
    await asyncio.gather(crashed, return_exceptions=True)

    assert await harness.send("t:C") == [3]  # settles B's send (id 2), sends after it
    assert await harness.send("t:B") == [2]  # B: confirmed by the settling, not sent again
    assert await harness.send("t:A") == [4]  # A never sent: sent now, not credited with 2
    assert harness.captions() == [
        "caption of t:0",
        "caption of t:B",
        "caption of t:C",
        "caption of t:A",
    ]
