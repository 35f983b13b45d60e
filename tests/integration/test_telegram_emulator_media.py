"""Uploads, albums, file ids, downloads and size limits through the real python-telegram-bot."""

# The shared fixtures are imported by name, so their parameters shadow the imports.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from telegram import Bot, InputFile, InputMediaDocument, InputMediaPhoto, InputMediaVideo
from telegram.error import BadRequest, NetworkError

from tests.support.telegram import (  # noqa: F401 - fixtures
    assert_clean,
    bot,
    emu,
    make_bot,
    ptb_timedelta,
    said,
)
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import TelegramEmulator


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_streamed_video_upload_to_a_topic(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures
) -> None:
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    topic = emu.add_topic(forum.id, "Clips")
    clip = media.clean_video()
    with clip.open("rb") as handle:
        sent = await bot.send_video(
            forum.id,
            InputFile(handle, filename="clip.mp4", read_file_handle=False),
            caption="<i>new</i> clip",
            parse_mode="HTML",
            supports_streaming=True,
            width=144,
            height=256,
            duration=1,
            message_thread_id=topic.message_thread_id,
        )
    assert_clean(sent)
    assert sent.video is not None
    assert sent.video.file_size == clip.stat().st_size
    assert (sent.video.width, sent.video.height, sent.video.duration.total_seconds()) == (
        144,
        256,
        1,
    )
    assert sent.caption == "new clip"
    assert sent.caption_entities[0].type == "italic"
    assert sent.message_thread_id == topic.message_thread_id
    assert sent.is_topic_message
    [record] = emu.calls("sendVideo")
    assert record.kind == "video"
    assert record.thread_id == topic.message_thread_id
    assert record.caption == "new clip"
    assert record.params["supports_streaming"] == "true"
    assert [(f.part, f.size, f.sha256) for f in record.files] == [
        ("video", clip.stat().st_size, sha256(clip))
    ]


async def test_every_single_media_kind(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures
) -> None:
    chat = emu.add_chat("channel", title="Media")
    photo = await bot.send_photo(chat.id, media.image(1).read_bytes(), caption="p")
    audio = await bot.send_audio(chat.id, media.music(), performer="Band", title="Song")
    document = await bot.send_document(chat.id, media.image(2, "webp"), filename="two.webp")
    animation = await bot.send_animation(chat.id, media.clean_video(2), has_spoiler=True)
    for message in (photo, audio, document, animation):
        assert_clean(message)
    assert (photo.photo[-1].width, photo.photo[-1].height) == (360, 640)
    assert audio.audio is not None
    assert (audio.audio.performer, audio.audio.title) == (
        "Band",
        "Song",
    )
    assert audio.audio.duration.total_seconds() >= 1
    assert document.document is not None
    assert document.document.file_name == "two.webp"
    assert animation.animation is not None
    assert animation.document is not None
    assert animation.has_media_spoiler
    kinds = [r.kind for r in emu.record if r.method.startswith("send")]
    assert kinds == ["photo", "audio", "document", "animation"]
    ids = [m["message_id"] for m in emu.messages(chat.id)]
    assert ids == sorted(ids)
    assert len(ids) == 4


async def test_file_id_reuse_and_unknown_file_id(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures
) -> None:
    chat = emu.add_chat("private")
    first = await bot.send_video(chat.id, media.clean_video())
    assert first.video is not None
    again = await bot.send_video(chat.id, first.video.file_id, caption="again")
    assert again.video is not None
    assert again.video.file_id == first.video.file_id
    assert again.video.file_unique_id == first.video.file_unique_id
    with pytest.raises(BadRequest, match=said("wrong file identifier/HTTP URL specified")):
        await bot.send_video(chat.id, "BAACAgIAAxkBAAnotknown")
    reuse = emu.calls("sendVideo", ok=True)[1]
    assert reuse.files[0].source == "file_id"
    assert reuse.files[0].sha256 == sha256(media.clean_video())


async def test_get_file_and_download(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures, tmp_path: Path
) -> None:
    chat = emu.add_chat("group", title="G")
    clip = media.clean_video(3)
    sent = await bot.send_document(chat.id, clip)
    assert sent.document is not None
    remote = await bot.get_file(sent.document.file_id)
    assert_clean(remote)
    assert remote.file_size == clip.stat().st_size
    target = await remote.download_to_drive(tmp_path / "back.mp4")
    assert target.read_bytes() == clip.read_bytes()
    with pytest.raises(BadRequest, match=said("invalid file_id")):
        await bot.get_file("nope")


async def test_album_of_ten_mixed_items(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures
) -> None:
    forum = emu.add_chat("supergroup", title="Forum", forum=True)
    topic = emu.add_topic(forum.id, "Albums")
    items: list[InputMediaPhoto | InputMediaVideo] = []
    for index in range(10):
        if index % 2:
            items.append(InputMediaVideo(media.clean_video(index).read_bytes(), width=144))
        else:
            items.append(InputMediaPhoto(media.image(index).read_bytes()))
    items[0] = InputMediaPhoto(media.image(0).read_bytes(), caption="<b>ten</b>", parse_mode="HTML")
    sent = await bot.send_media_group(forum.id, items, message_thread_id=topic.message_thread_id)
    for message in sent:
        assert_clean(message)
    assert len(sent) == 10
    assert len({m.media_group_id for m in sent}) == 1
    assert [m.message_id for m in sent] == list(range(sent[0].message_id, sent[0].message_id + 10))
    assert all(m.message_thread_id == topic.message_thread_id for m in sent)
    assert sent[0].caption == "ten"
    assert sent[1].caption is None
    assert [bool(m.photo) for m in sent] == [i % 2 == 0 for i in range(10)]
    [record] = emu.calls("sendMediaGroup")
    assert record.kind == "album"
    assert len(record.files) == 10
    assert record.media_group_id == sent[0].media_group_id
    assert record.caption == "ten"
    assert record.message_ids == [m.message_id for m in sent]
    expected = sha256(media.clean_video(1))
    assert record.files[1].sha256 == expected


async def test_album_rules(bot: Bot, emu: TelegramEmulator, media: MediaFixtures) -> None:
    chat = emu.add_chat("private")
    photo = InputMediaPhoto(media.image(1).read_bytes())
    with pytest.raises(BadRequest, match=said("media must include 2-10 items")):
        await bot.send_media_group(chat.id, [photo] * 11)
    document = InputMediaDocument(media.music().read_bytes())
    with pytest.raises(BadRequest, match=said("document can't be mixed")):
        await bot.send_media_group(chat.id, [photo, document])
    assert emu.messages(chat.id) == []


async def test_upload_over_the_limit_is_413(tmp_path: Path, media: MediaFixtures) -> None:
    async with TelegramEmulator(upload_limit=10_000, files_dir=tmp_path / "tg") as emu:
        chat = emu.add_chat("private")
        async with make_bot(emu) as client:
            with pytest.raises(NetworkError, match="Request Entity Too Large"):
                await client.send_document(chat.id, media.big_file(10_001))
            small = await client.send_document(chat.id, media.big_file(10_000))
            assert small.document is not None
            assert small.document.file_size == 10_000
        refused = emu.record[1]
        assert (refused.method, refused.status, refused.error) == (
            "sendDocument",
            413,
            "Request Entity Too Large",
        )
        assert emu.messages(chat.id)[0]["message_id"] == small.message_id
        leftovers = list((tmp_path / "tg" / "uploads").iterdir())
        assert leftovers == []


async def test_local_mode_takes_file_paths(tmp_path: Path, media: MediaFixtures) -> None:
    async with TelegramEmulator(local_mode=True, files_dir=tmp_path / "tg") as emu:
        chat = emu.add_chat("channel", title="Local")
        async with make_bot(emu, local_mode=True) as client:
            clip = media.clean_video(4)
            sent = await client.send_video(chat.id, clip)
            assert sent.video is not None
            remote = await client.get_file(sent.video.file_id)
            assert remote.file_path is not None
            assert Path(remote.file_path).is_absolute()
            back = await remote.download_to_drive(tmp_path / "back.mp4")
            assert back.read_bytes() == clip.read_bytes()
        [record] = emu.calls("sendVideo")
        assert record.params["video"] == clip.absolute().as_uri()
        assert record.files[0].source == "local"
        assert record.files[0].sha256 == sha256(clip)
        assert emu.env.upload_limit == 2000 * 1024 * 1024


async def test_caption_edit_and_media_rights(
    bot: Bot, emu: TelegramEmulator, media: MediaFixtures
) -> None:
    chat = emu.add_chat("supergroup", bot_status="restricted", rights={"can_send_videos": False})
    with pytest.raises(BadRequest, match=said("not enough rights to send videos to the chat")):
        await bot.send_video(chat.id, media.clean_video())
    photo = await bot.send_photo(chat.id, media.image(5), caption="old")
    edited = await bot.edit_message_caption(
        chat.id, photo.message_id, caption="<u>new</u>", parse_mode="HTML"
    )
    assert_clean(edited)
    assert not isinstance(edited, bool)
    assert edited.caption == "new"
    assert edited.caption_entities[0].type == "underline"
    with pytest.raises(BadRequest, match=said("there is no text in the message to edit")):
        await bot.edit_message_text("text", chat.id, photo.message_id)
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await bot.edit_message_caption(chat.id, photo.message_id, caption="x" * 1025)
    [stored] = emu.messages(chat.id)
    assert stored["caption"] == "new"
    assert stored["edit_date"] >= stored["date"]
