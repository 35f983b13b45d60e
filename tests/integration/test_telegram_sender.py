"""TelegramSender over HTTP against the Bot API emulator, with the real python-telegram-bot.

Waits are never real: the pacer and the sender get a fake clock, moved only by a recorded sleep.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut

from tests.support.telegram import ptb_timedelta  # noqa: F401 - fixture
from tikrelay.destinations.pacer import FloodPacer
from tikrelay.destinations.target import Probe
from tikrelay.destinations.telegram import ChatTarget, TelegramSender
from tikrelay.destinations.telegram_checks import PRIVATE_NOTE, TOPIC_NOTE
from tikrelay.destinations.telegram_errors import AlbumPartiallySentError, ChatMigratedError
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator

# Shaped like a real token, so that a leak could not hide behind an unusual format.
TOKEN = "123456:AAEsecretTokenPart-0123456789_abcdefXYZ"
OTHER_TOKEN = "123456:AAEsomeOtherToken-9876543210_zyxwvuTSR"


class FakeTime:
    """A clock that moves only when slept on; sleeps are recorded. ``park`` holds sleepers
    until ``wake`` (to look at the world while a chat waits out its pause)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []
        self.parked = asyncio.Event()
        self._hold: asyncio.Event | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._hold is not None:
            self.parked.set()
            await self._hold.wait()
        self.now += seconds

    def park(self) -> None:
        self._hold = asyncio.Event()

    def wake(self) -> None:
        assert self._hold is not None
        self._hold.set()
        self._hold = None


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN, files_dir=tmp_path / "telegram") as emulator:
        yield emulator


@pytest.fixture
async def sender(emu: TelegramEmulator, fake: FakeTime) -> AsyncIterator[TelegramSender]:
    pacer = FloodPacer(clock=fake.clock, sleep=fake.sleep)
    async with TelegramSender(TOKEN, api_url=emu.url, pacer=pacer, sleep=fake.sleep) as client:
        yield client


def photos(media: MediaFixtures, n: int, start: int = 0) -> list[Path]:
    return [media.image(i, "jpeg") for i in range(start, start + n)]


def without_token(text: str, *tokens: str) -> bool:
    return not any(token in text for token in tokens or (TOKEN,))


def error_chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def assert_token_free(error: BaseException, *tokens: str) -> None:
    """Neither the error nor anything chained to it says the token, in any form."""
    text = "".join(traceback.format_exception(error))
    assert without_token(text, *tokens), text
    for link in error_chain(error):
        assert without_token(repr(link), *tokens)
        assert without_token(repr(getattr(link, "__dict__", {})), *tokens)
        assert not hasattr(link, "request"), f"{type(link).__name__} keeps the request URL"


# -- sending ---------------------------------------------------------------------------------


async def test_video_to_a_channel_and_to_a_forum_topic(
    emu: TelegramEmulator, sender: TelegramSender, media: MediaFixtures
) -> None:
    channel = emu.add_chat("channel", title="Clips")
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    topic = emu.add_topic(forum.id, "Clips")
    clip, thumb = media.clean_video(), media.image(0, "jpeg")
    first = await sender.send_video(
        ChatTarget(channel.id),
        clip,
        width=144,
        height=256,
        duration=1.2,
        thumbnail=thumb,
        caption="<b>New</b> from @alice",
    )
    second = await sender.send_video(
        ChatTarget(forum.id, topic.message_thread_id),
        clip,
        width=144,
        height=256,
        duration=1.2,
        thumbnail=None,
        caption=None,
    )
    to_channel, to_topic = emu.calls("sendVideo")
    assert first == [m["message_id"] for m in emu.messages(channel.id)]
    assert second == [m["message_id"] for m in emu.messages(forum.id)]
    assert to_channel.params["supports_streaming"] in (True, "true", "True")
    assert (to_channel.params["width"], to_channel.params["height"]) == ("144", "256")
    assert to_channel.params["duration"] == "1"
    assert to_channel.params["parse_mode"] == "HTML"
    assert {f.part for f in to_channel.files} == {"video", "thumbnail"}
    assert [f.size for f in to_channel.files if f.part == "video"] == [clip.stat().st_size]
    assert (to_channel.thread_id, to_topic.thread_id) == (None, topic.message_thread_id)
    assert {f.part for f in to_topic.files} == {"video"}
    [posted] = emu.messages(channel.id)
    assert (posted["video"]["width"], posted["video"]["height"]) == (144, 256)
    assert "thumbnail" in posted["video"]
    assert posted["caption"] == "New from @alice"
    assert posted["caption_entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    [in_topic] = emu.messages(forum.id)
    assert in_topic["is_topic_message"] is True
    assert "caption" not in in_topic


async def test_an_album_of_ten_and_a_single_photo(
    emu: TelegramEmulator, sender: TelegramSender, media: MediaFixtures
) -> None:
    channel = emu.add_chat("channel", title="Slides")
    album = await sender.send_photos(ChatTarget(channel.id), photos(media, 10), "slides <i>1</i>")
    single = await sender.send_photos(ChatTarget(channel.id), photos(media, 1, 10), None)
    messages = emu.messages(channel.id)
    assert album + single == [m["message_id"] for m in messages]
    assert len(album) == 10
    assert len({m["media_group_id"] for m in messages[:10]}) == 1
    assert [m.get("caption") for m in messages[:10]] == ["slides 1"] + [None] * 9
    [group_call] = emu.calls("sendMediaGroup")
    assert len(group_call.files) == 10
    assert len(emu.calls("sendPhoto")) == 1
    for wrong in ([], photos(media, 11)):
        with pytest.raises(ValueError, match="1 to 10 photos"):
            await sender.send_photos(ChatTarget(channel.id), wrong, None)


async def test_audio_with_title_and_performer(
    emu: TelegramEmulator, sender: TelegramSender, media: MediaFixtures
) -> None:
    group = emu.add_chat("supergroup", title="Sounds")
    ids = await sender.send_audio(
        ChatTarget(group.id),
        media.music(),
        title="Original sound",
        performer="alice",
        caption="a <u>sound</u>",
    )
    [message] = emu.messages(group.id)
    assert ids == [message["message_id"]]
    assert (message["audio"]["title"], message["audio"]["performer"]) == (
        "Original sound",
        "alice",
    )
    assert message["caption"] == "a sound"


async def test_local_mode_names_files_by_path(tmp_path: Path, media: MediaFixtures) -> None:
    async with TelegramEmulator(TOKEN, local_mode=True, files_dir=tmp_path / "tg") as emu:
        channel = emu.add_chat("channel", title="Local")
        async with TelegramSender(TOKEN, api_url=emu.url, local_mode=True) as sender:
            target = ChatTarget(channel.id)
            await sender.send_video(
                target,
                media.clean_video(),
                width=144,
                height=256,
                duration=1,
                thumbnail=media.image(3),
                caption=None,
            )
            await sender.send_photos(target, photos(media, 2), "two")
        [video] = emu.calls("sendVideo")
        [album] = emu.calls("sendMediaGroup")
        assert {f.source for f in video.files + album.files} == {"local"}
        assert len(emu.messages(channel.id)) == 3


# -- flood control ---------------------------------------------------------------------------


async def test_a_429_is_waited_out_by_its_chat_only_and_delivered_once(
    emu: TelegramEmulator, sender: TelegramSender, fake: FakeTime, media: MediaFixtures
) -> None:
    busy, other = emu.add_chat("channel", title="Busy"), emu.add_chat("channel", title="Other")
    emu.fail_call("sendPhoto", status=429, parameters={"retry_after": 7})
    fake.park()
    waiting = asyncio.create_task(sender.send_photos(ChatTarget(busy.id), photos(media, 1), None))
    await fake.parked.wait()  # the busy chat is now sitting out its 7 seconds
    assert fake.sleeps == [pytest.approx(7.25)]
    sent_other = await sender.send_photos(ChatTarget(other.id), photos(media, 1, 1), None)
    assert fake.sleeps == [pytest.approx(7.25)]  # the other chat did not wait at all
    fake.wake()
    sent_busy = await waiting
    assert [m["message_id"] for m in emu.messages(busy.id)] == sent_busy
    assert [m["message_id"] for m in emu.messages(other.id)] == sent_other
    statuses = [(r.chat_id, r.status) for r in emu.calls("sendPhoto")]
    assert statuses == [(busy.id, 429), (other.id, 200), (busy.id, 200)]


async def test_429s_past_the_retry_budget_are_raised(
    emu: TelegramEmulator, fake: FakeTime, media: MediaFixtures
) -> None:
    channel = emu.add_chat("channel", title="Hot")
    for nth in range(1, 4):
        emu.fail_call("sendPhoto", nth=nth, status=429, parameters={"retry_after": nth})
    async with TelegramSender(
        TOKEN, api_url=emu.url, max_429_retries=2, sleep=fake.sleep
    ) as sender:
        with pytest.raises(TikrelayError) as raised:
            await sender.send_photos(ChatTarget(channel.id), photos(media, 1), None)
    assert (raised.value.kind, raised.value.retry_after, raised.value.http_status) == (
        ErrorKind.RATE_LIMIT,
        3,
        429,
    )
    assert fake.sleeps == [1, 2]  # without a pacer the sender sleeps itself
    assert emu.messages(channel.id) == []


async def test_a_flood_wait_longer_than_max_wait_is_raised_at_once_and_pauses_the_chat(
    emu: TelegramEmulator, fake: FakeTime, media: MediaFixtures
) -> None:
    hot, calm = emu.add_chat("channel", title="Hot"), emu.add_chat("channel", title="Calm")
    emu.fail_call("sendPhoto", nth=1, status=429, parameters={"retry_after": 86400})
    pacer = FloodPacer(clock=fake.clock, sleep=fake.sleep)
    async with TelegramSender(
        TOKEN, api_url=emu.url, pacer=pacer, max_wait=15, sleep=fake.sleep
    ) as sender:
        with pytest.raises(TikrelayError) as raised:
            await sender.send_photos(ChatTarget(hot.id), photos(media, 1), None)
        assert (raised.value.kind, raised.value.retry_after) == (ErrorKind.RATE_LIMIT, 86400)
        assert "may be used again at" in raised.value.message
        # The chat's next send is refused without asking Telegram; other chats go on.
        with pytest.raises(TikrelayError) as again:
            await sender.send_photos(ChatTarget(hot.id), photos(media, 1, 1), None)
        assert again.value.kind is ErrorKind.RATE_LIMIT
        assert again.value.retry_after == pytest.approx(86400.25)
        await sender.send_photos(ChatTarget(calm.id), photos(media, 1, 2), None)
    assert fake.sleeps == []  # nothing waited the day out
    assert [(r.chat_id, r.status) for r in emu.calls("sendPhoto")] == [
        (hot.id, 429),
        (calm.id, 200),
    ]
    assert emu.messages(hot.id) == []


async def test_an_album_cut_short_is_not_retried(
    emu: TelegramEmulator, sender: TelegramSender, fake: FakeTime, media: MediaFixtures
) -> None:
    channel = emu.add_chat("channel", title="Albums")
    emu.fail_album(delivered=2, retry_after=8)
    target = ChatTarget(channel.id)
    with pytest.raises(AlbumPartiallySentError) as raised:
        await sender.send_photos(target, photos(media, 4), "four")
    error = raised.value
    assert (error.kind, error.failed_item, error.retry_after) == (ErrorKind.RATE_LIMIT, 3, 8)
    assert "item 3" in error.message
    [call] = emu.calls("sendMediaGroup")
    delivered = call.message_ids
    assert len(delivered) == 2
    # The caller finds out what arrived: the ids before the cut exist, the next does not.
    assert [await sender.probe_message(target, i) for i in delivered] == [Probe.OURS] * 2
    assert fake.sleeps == [pytest.approx(8.25)]  # probes waited out the chat's pause
    assert await sender.probe_message(target, delivered[-1] + 1) is Probe.NONE


# -- errors ----------------------------------------------------------------------------------


async def test_too_large_is_a_size_limit(tmp_path: Path, media: MediaFixtures) -> None:
    async with TelegramEmulator(TOKEN, upload_limit=1000, files_dir=tmp_path / "tg") as emu:
        channel = emu.add_chat("channel", title="Small")
        async with TelegramSender(TOKEN, api_url=emu.url) as sender:
            with pytest.raises(TikrelayError) as raised:
                await sender.send_photos(ChatTarget(channel.id), photos(media, 1), None)
    assert (raised.value.kind, raised.value.http_status) == (ErrorKind.SIZE_LIMIT, 413)
    assert "50 MB" in raised.value.message


async def test_refusals_say_what_to_fix(
    emu: TelegramEmulator, sender: TelegramSender, media: MediaFixtures
) -> None:
    gone = emu.add_chat("channel", title="Gone", bot_status="left", username="gone_channel")
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    group = emu.add_chat("group", title="Old group")
    cases: list[tuple[ChatTarget, ErrorKind, str]] = [
        (ChatTarget(gone.id), ErrorKind.AUTH, "add the bot to the chat and allow it to post"),
        (ChatTarget(-100999), ErrorKind.UNSUPPORTED, "Telegram does not know chat -100999"),
        (ChatTarget(forum.id, 99), ErrorKind.UNSUPPORTED, "topic 99 does not exist in chat"),
    ]
    for target, kind, says in cases:
        with pytest.raises(TikrelayError) as raised:
            await sender.send_photos(target, photos(media, 1), None)
        assert (raised.value.kind, raised.value.retryable) == (kind, False)
        assert says in raised.value.message
    emu.fail_call("sendPhoto", parameters={"migrate_to_chat_id": -1001234567})
    with pytest.raises(ChatMigratedError) as migrated:
        await sender.send_photos(ChatTarget(group.id), photos(media, 1), None)
    assert migrated.value.new_chat_id == -1001234567
    assert "put chat_id: -1001234567 in the configuration" in migrated.value.message


def test_ptb_exception_types_are_classified() -> None:
    """Through the project's one ``classify``: registering happened on import."""
    cases: list[tuple[Exception, ErrorKind, bool | None]] = [
        (RetryAfter(5), ErrorKind.RATE_LIMIT, None),
        (TimedOut(), ErrorKind.NETWORK, True),
        (NetworkError("Bad Gateway"), ErrorKind.NETWORK, True),
        (NetworkError("Request Entity Too Large"), ErrorKind.SIZE_LIMIT, False),
        (InvalidToken("Unauthorized"), ErrorKind.AUTH, False),
        (BadRequest("Message caption is too long"), ErrorKind.UNSUPPORTED, False),
        (BadRequest("Not enough rights to send videos to the chat"), ErrorKind.AUTH, False),
    ]
    for exc, kind, retryable in cases:
        error = classify(exc)
        assert (error.kind, error.retryable) == (kind, retryable), exc
    assert classify(RetryAfter(5)).retry_after == 5
    album = classify(BadRequest('Failed to send message #2 with the error message "Boom"'))
    assert isinstance(album, AlbumPartiallySentError)
    assert (album.failed_item, album.retry_after) == (2, None)


# -- looking ---------------------------------------------------------------------------------


async def test_probe_message_tells_ours_from_others_and_missing(
    emu: TelegramEmulator, sender: TelegramSender, media: MediaFixtures
) -> None:
    group = emu.add_chat("supergroup", title="G")
    channel = emu.add_chat("channel", title="C")
    [sent] = await sender.send_photos(ChatTarget(group.id), photos(media, 1), None)
    assert await sender.probe_message(ChatTarget(group.id), sent) is Probe.OURS
    assert await sender.probe_message(ChatTarget(group.id), sent + 10) is Probe.NONE
    # Somebody else's message answers "can't be edited": a bot may always edit its own.
    written = emu.user_message(group.id, "from a person")["message"]["message_id"]
    assert await sender.probe_message(ChatTarget(group.id), written) is Probe.OTHERS
    # In a channel an admin bot may edit any post: a probe cannot tell who sent it there.
    post = emu.user_message(channel.id, "an admin's post")["channel_post"]["message_id"]
    assert await sender.probe_message(ChatTarget(channel.id), post) is Probe.OURS
    assert emu.messages(group.id)[0]["message_id"] == sent  # probing changed nothing


async def test_whoami(sender: TelegramSender) -> None:
    assert await sender.whoami() == "tikrelay_sandbox_bot"


async def test_check_destination(emu: TelegramEmulator, sender: TelegramSender) -> None:
    fine = emu.add_chat("channel", title="Fine", username="fine_channel")
    member = emu.add_chat("channel", title="Reader", bot_status="member")
    mute = emu.add_chat("channel", title="Mute", rights={"can_post_messages": False})
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    topic = emu.add_topic(forum.id, "Clips")
    plain = emu.add_chat("supergroup", title="Plain")
    limited = emu.add_chat(
        "supergroup", title="Limited", bot_status="restricted", rights={"can_send_videos": False}
    )
    person = emu.add_chat("private")

    ok = await sender.check_destination(ChatTarget("@fine_channel"))
    assert (ok.ok, ok.chat_title, ok.chat_type, ok.bot_status) == (
        True,
        "Fine",
        "channel",
        "administrator",
    )
    assert ok.notes == ()
    in_topic = await sender.check_destination(ChatTarget(forum.id, topic.message_thread_id))
    assert (in_topic.ok, in_topic.notes) == (True, (TOPIC_NOTE,))
    assert emu.messages(forum.id) == []  # the topic check posted nothing
    private = await sender.check_destination(ChatTarget(person.id))
    assert (private.ok, private.notes) == (True, (PRIVATE_NOTE,))

    expected = {
        ChatTarget(member.id): "the bot is not an administrator of channel 'Reader'",
        ChatTarget(mute.id): "without the right to post: turn on 'Post messages'",
        ChatTarget(forum.id, 99): "topic 99 does not exist in chat",
        ChatTarget(forum.id, 1): "topic 1 is the General topic",
        ChatTarget(plain.id, 5): "is not a forum, so topic_id 5 cannot be used",
        ChatTarget(limited.id): "and may not send videos: lift those restrictions",
        ChatTarget(-100777): "Telegram does not know chat -100777",
    }
    for target, says in expected.items():
        check = await sender.check_destination(target)
        assert not check.ok, target
        [problem] = check.problems
        assert says in problem, problem
    assert fine.id != member.id


# -- the token stays secret ------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_token_is_in_no_error_repr_or_log(
    emu: TelegramEmulator, caplog: pytest.LogCaptureFixture, media: MediaFixtures
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = emu.add_chat("channel", title="Secret")
    emu.fail_call("sendPhoto", status=429, parameters={"retry_after": 1})
    slept: list[float] = []

    async def note(seconds: float) -> None:
        slept.append(seconds)

    with structlog.testing.capture_logs() as events:
        async with TelegramSender(TOKEN, api_url=emu.url, sleep=note) as sender:
            assert without_token(repr(sender))
            await sender.send_photos(ChatTarget(channel.id), photos(media, 1), "x")
            with pytest.raises(TikrelayError) as refused:
                await sender.send_photos(ChatTarget(-1005), photos(media, 1), None)
    assert_token_free(refused.value)
    assert slept == [1]
    assert events
    assert [e for e in events if not without_token(repr(e))] == []

    unreachable = TelegramSender(TOKEN, api_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TikrelayError) as down:
        await unreachable.__aenter__()
    assert down.value.kind == ErrorKind.NETWORK
    assert_token_free(down.value)

    with pytest.raises(TikrelayError) as wrong:
        async with TelegramSender(OTHER_TOKEN, api_url=emu.url):
            pass
    assert wrong.value.kind == ErrorKind.AUTH
    assert "TELEGRAM_BOT_TOKEN" in wrong.value.message
    assert_token_free(wrong.value, TOKEN, OTHER_TOKEN)

    lines = [record.getMessage() for record in caplog.records]
    assert any("[redacted]" in line for line in lines)  # the URLs were logged, scrubbed
    assert [line for line in lines if not without_token(line, TOKEN, OTHER_TOKEN)] == []
