"""Planned faults and Telegram's flood limits, as python-telegram-bot experiences them."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dtm
from pathlib import Path

import pytest
from telegram import Bot, InputFile, InputMediaPhoto
from telegram.error import BadRequest, ChatMigrated, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from tests.support.telegram import (  # noqa: F401 - fixtures
    TOKEN,
    bot,
    emu,
    make_bot,
    ptb_timedelta,
    said,
)
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import FloodLimits, TelegramEmulator


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_retry_after_is_honoured_by_the_rate_limiter(
    emu: TelegramEmulator, media: MediaFixtures
) -> None:
    chat = emu.add_chat("channel", title="Busy")
    emu.fail_call("sendVideo", status=429, parameters={"retry_after": 1})
    limited = ExtBot(
        TOKEN,
        base_url=f"{emu.url}/bot",
        base_file_url=f"{emu.url}/file/bot",
        rate_limiter=AIORateLimiter(max_retries=2),
    )
    clip = media.clean_video()
    async with limited:
        with clip.open("rb") as handle:
            sent = await limited.send_video(chat.id, InputFile(handle, read_file_handle=False))
    assert sent.video is not None
    refused, accepted = emu.calls("sendVideo")
    assert (refused.status, refused.error) == (429, "Too Many Requests: retry after 1")
    assert accepted.ok
    assert accepted.time - refused.time >= 1.0
    # The retry sent the whole file again, not the rest of a consumed stream.
    assert refused.files[0].size == accepted.files[0].size == clip.stat().st_size
    assert [m["message_id"] for m in emu.messages(chat.id)] == [sent.message_id]


async def test_retry_after_and_migration_reach_a_plain_bot(bot: Bot, emu: TelegramEmulator) -> None:
    group = emu.add_chat("group", title="Old")
    emu.fail_call("sendMessage", status=429, parameters={"retry_after": 7})
    emu.fail_call("sendMessage", nth=2, parameters={"migrate_to_chat_id": -1001234})
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(group.id, "a")
    assert retry.value.retry_after == dtm.timedelta(seconds=7)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(group.id, "b")
    assert migrated.value.new_chat_id == -1001234
    assert await bot.send_message(group.id, "c")
    assert [r.status for r in emu.calls("sendMessage")] == [429, 400, 200]
    assert [r.text for r in emu.calls("sendMessage")] == ["a", "b", "c"]


async def test_nth_call_counts_from_when_the_fault_is_planned(
    bot: Bot, emu: TelegramEmulator
) -> None:
    chat = emu.add_chat("private")
    await bot.send_message(chat.id, "before")
    emu.fail_call("sendMessage", nth=2, status=502, description="Bad Gateway")
    await bot.send_message(chat.id, "first")
    with pytest.raises(Exception, match="Bad Gateway"):
        await bot.send_message(chat.id, "second")
    assert [m["text"] for m in emu.messages(chat.id)] == ["before", "first"]


async def test_album_partial_failure_keeps_what_was_delivered(
    emu: TelegramEmulator, media: MediaFixtures
) -> None:
    chat = emu.add_chat("channel", title="Albums")
    emu.fail_album(delivered=2)
    limited = ExtBot(TOKEN, base_url=f"{emu.url}/bot", rate_limiter=AIORateLimiter(max_retries=3))
    photos = [InputMediaPhoto(media.image(i).read_bytes()) for i in range(4)]
    async with limited:
        with pytest.raises(BadRequest) as refused:
            await limited.send_media_group(chat.id, photos)
    assert said(
        'failed to send message #3 with the error message "Too Many Requests: retry after 8"'
    ).fullmatch(str(refused.value))
    [record] = emu.calls("sendMediaGroup")  # a 400: the rate limiter did not retry it
    assert record.status == 400
    assert len(record.message_ids) == 2
    delivered = emu.messages(chat.id)
    assert [m["message_id"] for m in delivered] == record.message_ids
    assert {m["media_group_id"] for m in delivered} == {record.media_group_id}


async def test_slow_answer_after_the_message_is_recorded(emu: TelegramEmulator) -> None:
    chat = emu.add_chat("private")
    emu.delay_call("sendMessage", seconds=0.5)
    impatient = make_bot(emu, request=HTTPXRequest(read_timeout=0.05))
    async with impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(chat.id, "slow")
        await impatient.send_message(chat.id, "retried")
    assert [m["text"] for m in emu.messages(chat.id)] == ["slow", "retried"]


async def test_flood_limits_per_chat_per_group_and_albums(
    tmp_path: Path, media: MediaFixtures
) -> None:
    clock = FakeClock()
    async with TelegramEmulator(flood_limits=True, clock=clock, files_dir=tmp_path) as emu:
        person, group = emu.add_chat("private"), emu.add_chat("supergroup", title="G")
        async with make_bot(emu) as client:
            for text in "abc":  # the burst
                await client.send_message(person.id, text)
            with pytest.raises(RetryAfter) as waited:
                await client.send_message(person.id, "d")
            assert waited.value.retry_after == dtm.timedelta(seconds=1)
            clock.now += 1
            await client.send_message(person.id, "d")
            for _ in range(20):
                await client.send_message(group.id, "g")
                clock.now += 1.5
            with pytest.raises(RetryAfter) as minute:
                await client.send_message(group.id, "21st")
            assert minute.value.retry_after == dtm.timedelta(seconds=30)
            clock.now += 60  # the minute has passed for every message so far
            photos = [InputMediaPhoto(media.image(i).read_bytes()) for i in range(5)]
            await client.send_media_group(group.id, photos)
            with pytest.raises(RetryAfter) as album:
                await client.send_message(group.id, "after album")
            assert album.value.retry_after == dtm.timedelta(seconds=3)
            emu.set_flood_limits(False)
            await client.send_message(group.id, "no limits now")
        [refused] = [r for r in emu.record if r.text == "21st"]
        assert refused.error == "Too Many Requests: retry after 30"


async def test_custom_flood_numbers(tmp_path: Path) -> None:
    clock = FakeClock()
    limits = FloodLimits(chat_per_second=10, chat_burst=10, bot_per_second=2)
    async with TelegramEmulator(flood_limits=limits, clock=clock, files_dir=tmp_path) as emu:
        chats = [emu.add_chat("group", title=str(i)) for i in range(3)]
        async with make_bot(emu) as client:
            await client.send_message(chats[0].id, "1")
            await client.send_message(chats[1].id, "2")
            with pytest.raises(RetryAfter, match=said("retry in 0:00:01")):
                await client.send_message(chats[2].id, "3")
