"""``tikrelay bot``: people send links in the Telegram emulator, the real bot process takes the
updates, and answers with the media fetched from the TikTok emulator by the real yt-dlp."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import av

from tests.support.processes import running, running_bot, wait_until
from tests.support.relayed import Relayed
from tikrelay.bot import texts


def test_a_tiktok_link_in_a_private_chat_is_answered_with_the_clean_video(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Dana", username="dana")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    post = world.add_video("alice", desc="hello #there")
    asked = telegram.user_message(chat.id, f"look at this {post.url}")
    telegram.user_message(chat.id, "hi")

    with running_bot(relayed) as proc:

        def answered() -> bool:
            kinds = [m for m in telegram.messages(chat.id) if m["from"]["is_bot"]]
            return len(kinds) == 2

        wait_until(answered, 60, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out

    replies = [m for m in telegram.messages(chat.id) if m["from"]["is_bot"]]
    [video] = [m for m in replies if "video" in m]
    assert video["caption"].startswith("hello #there")
    # The clean file's pictures (remuxed, never re-encoded), not the watermarked one's.
    sent = telegram.file_path(video["video"]["file_id"])
    assert post.media.clean_path is not None
    assert video_packets(sent) == video_packets(post.media.clean_path)
    [hint] = [m for m in replies if "text" in m]
    assert hint["text"] == texts.NO_LINK
    assert asked["message"]["message_id"] != video["message_id"]
    # The link got a reaction while its media was on the way, taken away once it arrived.
    reactions = [
        json.loads(c.params["reaction"])
        for c in telegram.calls("setMessageReaction", ok=True)
        if c.message_ids == [asked["message"]["message_id"]]
    ]
    assert reactions == [[{"type": "emoji", "emoji": "👀"}], []]
    # Every update was confirmed to Telegram: a new bot would get none of them again.
    assert telegram.env.queue.pending() == []


def test_updates_sent_while_the_bot_is_down_are_answered_once_after_a_restart(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Eli")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    first = world.add_video("alice", desc="first")
    second = world.add_video("alice", desc="second")
    telegram.user_message(chat.id, first.url)

    def videos() -> list[str]:
        return [m["caption"] for m in telegram.messages(chat.id) if "video" in m]

    with running_bot(relayed) as proc:
        wait_until(lambda: len(videos()) == 1, 60, proc)
    telegram.user_message(chat.id, second.url)  # while no bot runs
    with running_bot(relayed) as proc:
        wait_until(lambda: len(videos()) == 2, 60, proc)
    assert [caption.split("\n")[0] for caption in videos()] == ["first", "second"]
    # One request job per link, both done: nothing is waiting to answer the first one again.
    listed = relayed.run("jobs", "list", "--kind", "request", "--config", str(relayed.config))
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == 2, listed.stdout
    assert all("COMPLETED" in row for row in rows), listed.stdout


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def test_serve_answers_people_beside_the_reposter(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    person = telegram.add_user("Fay")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice", videos=1)
    asked = world.add_video("alice", desc="asked for")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"], "backfill": 1}]
    telegram.user_message(chat.id, asked.url)
    with running(relayed, "serve") as proc:
        wait_until(lambda: len(telegram.messages(channel.id)) == 1, 60, proc)
        wait_until(lambda: any("video" in m for m in telegram.messages(chat.id)), 60, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "serving 1 sources and the bot" in out
    [answer] = [m for m in telegram.messages(chat.id) if "video" in m]
    assert answer["caption"].startswith("asked for")


def test_share_links_are_followed_to_their_post(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Gus")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    posts = {form: world.add_video("alice", desc=f"shared as {form}") for form in ("vm", "vt", "t")}
    for form, post in posts.items():
        telegram.user_message(chat.id, f"check {world.short_link(post.id, form)}")

    def captions() -> set[str]:
        return {m["caption"].split("\n")[0] for m in telegram.messages(chat.id) if "video" in m}

    with running_bot(relayed) as proc:
        wait_until(lambda: len(captions()) == 3, 60, proc)
    assert captions() == {"shared as vm", "shared as vt", "shared as t"}
    assert len(world.requests(host="vm.tiktok.com")) == 1
    assert "LINK_EXPAND" in relayed.newest_timeline("request")


def test_a_post_asked_for_again_is_sent_by_file_id_without_download_or_upload(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    first, second = telegram.add_user("Ann"), telegram.add_user("Ben")
    chats = [telegram.add_chat("private", person=person) for person in (first, second)]
    world.add_creator("alice")
    video = world.add_video("alice", desc="popular")
    slides = world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="popular photos")
    for post in (video, slides):
        telegram.user_message(chats[0].id, post.url)

    def answered(chat_id: int) -> int:
        return sum(1 for m in telegram.messages(chat_id) if {"video", "photo", "audio"} & set(m))

    with running_bot(relayed) as proc:
        wait_until(lambda: answered(chats[0].id) == 4, 60, proc)  # video, 2 photos, sound
        world.clear_log()
        uploads = len([f for c in telegram.record for f in c.files if f.source == "upload"])
        for post in (video, slides):
            telegram.user_message(chats[1].id, post.url)
        wait_until(lambda: answered(chats[1].id) == 4, 60, proc)

    assert world.requests() == []  # not even the post pages were read again
    again = [f for c in telegram.record for f in c.files if f.source == "upload"]
    assert len(again) == uploads  # nothing uploaded again
    reused = [f for c in telegram.record for f in c.files if f.source == "file_id"]
    assert len(reused) == 4
    [caption] = [m["caption"] for m in telegram.messages(chats[1].id) if "video" in m]
    assert caption.startswith("popular")
    assert "FILE_IDS_REUSED" in relayed.newest_timeline("request")


def test_the_sound_button_under_a_video_sends_its_sound_once(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Lea")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    post = world.add_video("alice", desc="with a tune")
    telegram.user_message(chat.id, post.url)

    def with_button() -> list[dict[str, Any]]:
        return [m for m in telegram.messages(chat.id) if "video" in m and "reply_markup" in m]

    def audios() -> list[dict[str, Any]]:
        return [m for m in telegram.messages(chat.id) if "audio" in m]

    with running_bot(relayed) as proc:
        wait_until(lambda: len(with_button()) == 1, 60, proc)
        [video] = with_button()
        [[button]] = video["reply_markup"]["inline_keyboard"]
        assert button["text"] == "🎵 Sound"
        telegram.press_button(chat.id, video["message_id"], button["callback_data"])
        telegram.press_button(chat.id, video["message_id"], button["callback_data"])
        wait_until(lambda: len(audios()) == 1, 60, proc)
        wait_until(lambda: len(telegram.callback_answers) == 2, 60, proc)
    [audio] = audios()
    assert post.media.music_path is not None
    sent = telegram.file_path(audio["audio"]["file_id"])
    assert sent.read_bytes() == post.media.music_path.read_bytes()
    assert len(audios()) == 1  # pressed twice, sent once
    assert {a.get("text") for a in telegram.callback_answers.values()} == {
        "The sound is on its way."
    }


def test_a_chat_that_turned_archive_on_gets_its_posts_archived_too(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    keeper, other = telegram.add_user("Max"), telegram.add_user("Noa")
    kept_chat = telegram.add_chat("private", person=keeper)
    other_chat = telegram.add_chat("private", person=other)
    world.add_creator("alice")
    kept, not_kept = (world.add_video("alice", desc=d) for d in ("keep me", "not me"))
    vault = relayed.folder / "vault"
    relayed.destinations = {"vault": {"archive": {"path": str(vault)}}}
    relayed.extra = {"bot": {"archive_to": "vault"}}
    telegram.user_command(kept_chat.id, "archive_on")
    telegram.user_message(kept_chat.id, kept.url)
    telegram.user_message(other_chat.id, not_kept.url)

    with running_bot(relayed) as proc:
        wait_until(lambda: len(list(vault.rglob("metadata.json"))) == 1, 60, proc)
        wait_until(lambda: any("video" in m for m in telegram.messages(other_chat.id)), 60, proc)
    [meta] = vault.rglob("metadata.json")
    assert meta.parent.name == kept.id
    replies = [
        m["text"] for m in telegram.messages(kept_chat.id) if "text" in m and m["from"]["is_bot"]
    ]
    assert replies == ["Archiving is on: what I send in this chat is also kept in the archive."]


def test_settings_choose_audio_only_or_no_caption(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    person = telegram.add_user("Pia")
    chat = telegram.add_chat("private", person=person)
    world.add_creator("alice")
    quiet, tune = (world.add_video("alice", desc=d) for d in ("no caption please", "just the tune"))
    telegram.user_command(chat.id, "settings", "caption off")
    telegram.user_message(chat.id, quiet.url)
    telegram.user_command(chat.id, "settings", "format audio")
    telegram.user_message(chat.id, tune.url)
    telegram.user_command(chat.id, "settings")

    def media() -> list[dict[str, Any]]:
        return [m for m in telegram.messages(chat.id) if "video" in m or "audio" in m]

    with running_bot(relayed) as proc:
        wait_until(lambda: len(media()) == 2, 60, proc)
        wait_until(
            lambda: (
                len([m for m in telegram.messages(chat.id) if "text" in m and m["from"]["is_bot"]])
                == 3
            ),
            60,
            proc,
        )
    [video] = [m for m in media() if "video" in m]
    [audio] = [m for m in media() if "audio" in m]
    assert "caption" not in video
    assert tune.media.music_path is not None
    assert (
        telegram.file_path(audio["audio"]["file_id"]).read_bytes()
        == tune.media.music_path.read_bytes()
    )
    said = [m["text"] for m in telegram.messages(chat.id) if "text" in m and m["from"]["is_bot"]]
    assert said[-1].startswith("Your settings: format audio, caption off.")


def test_settings_format_document_sends_the_video_as_a_file(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    filer, watcher = telegram.add_user("Rui"), telegram.add_user("Sol")
    filer_chat = telegram.add_chat("private", person=filer)
    watcher_chat = telegram.add_chat("private", person=watcher)
    world.add_creator("alice")
    post = world.add_video("alice", desc="keep the file")
    telegram.user_command(filer_chat.id, "settings", "format document")
    telegram.user_message(filer_chat.id, post.url)
    telegram.user_message(watcher_chat.id, post.url)

    def sent(chat_id: int, kind: str) -> list[dict[str, Any]]:
        return [m for m in telegram.messages(chat_id) if kind in m]

    with running_bot(relayed) as proc:
        wait_until(lambda: len(sent(filer_chat.id, "document")) == 1, 60, proc)
        wait_until(lambda: len(sent(watcher_chat.id, "video")) == 1, 60, proc)
    [document] = sent(filer_chat.id, "document")
    assert document["caption"].startswith("keep the file")
    assert sent(filer_chat.id, "video") == []
    file = telegram.file_path(document["document"]["file_id"])
    assert video_packets(file) == video_packets(
        telegram.file_path(sent(watcher_chat.id, "video")[0]["video"]["file_id"])
    )  # the same prepared video, as a file and as a video
