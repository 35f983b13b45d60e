"""``tikrelay run --once`` against both emulators: the reposter as a cron user runs it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av

from tests.support.jobs_db import temporary_database
from tests.support.relayed import Relayed
from tikrelay.media.probe import probe


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def packets(path: Path) -> str:
    """A digest of the file's coded packets: equal for a remux of the same streams."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def test_creators_posts_arrive_once_in_order_and_new_ones_only_after(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    slides = world.add_slideshow("alice", images=("jpeg", "webp", "heic"), desc="three slides")
    world.add_creator("bob", videos=1)
    trap = world.add_video("bob", desc="sharper in HEVC", hevc=True)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}, {"tiktok": "@bob", "to": ["clips"]}]

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "5 new deliveries, 5 delivered, 0 failed" in first.stdout
    sent = [r for r in telegram.record if r.ok and r.method.startswith("send")]
    by_author: dict[str, list[str]] = {}
    for record in sent:
        if record.caption:
            by_author.setdefault(record.caption.rsplit("@", 1)[1], []).append(record.caption)
    # Each creator's posts arrive oldest first.
    assert [c.split("\n")[0] for c in by_author["alice"]] == [
        "seeded video 1",
        "seeded video 2",
        "three slides",
    ]
    album = [r for r in sent if r.method == "sendMediaGroup"]
    assert len(album) == 1
    assert len(album[0].files) == 3
    assert [r for r in sent if r.method == "sendAudio"]  # the slideshow's sound follows it
    # The HEVC trap: the delivered file is the clean H.264 with sound.
    videos = [r for r in sent if r.method == "sendVideo"]
    assert len(videos) == 4
    trap_message = next(
        m for m in telegram.messages(channel.id) if m.get("caption", "").startswith("sharper")
    )
    info = probe(telegram.file_path(trap_message["video"]["file_id"]))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert trap.media.clean_path is not None
    delivered = telegram.file_path(trap_message["video"]["file_id"])
    assert packets(delivered) == packets(trap.media.clean_path)  # remuxed, not re-encoded
    # Never the watermarked file: neither its bytes nor its streams.
    posts = world.posts("alice") + world.posts("bob")
    marked = [p.media.watermarked_path for p in posts if p.media.watermarked_path]
    uploaded = {f.sha256 for r in videos for f in r.files if f.part == "video"}
    assert len(uploaded) == 4
    assert not uploaded & {sha256(p) for p in marked}
    streams = {
        packets(telegram.file_path(m["video"]["file_id"]))
        for m in telegram.messages(channel.id)
        if "video" in m
    }
    assert not streams & {packets(p) for p in marked}
    assert slides.media.music_path is not None

    count = len(telegram.messages(channel.id))
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 new deliveries, 0 delivered" in second.stdout
    assert len(telegram.messages(channel.id)) == count

    world.add_video("bob", desc="brand new")
    third = relayed.run()
    assert third.returncode == 0, third.stdout + third.stderr
    assert "1 new deliveries, 1 delivered" in third.stdout
    newest = telegram.messages(channel.id)[-1]
    assert newest["caption"].startswith("brand new")
    assert len(telegram.messages(channel.id)) == count + 1


def test_the_same_on_postgresql(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    world.add_slideshow("alice", images=("jpeg", "webp"), desc="two")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    with temporary_database("postgres", relayed.folder) as url:
        relayed.extra = {"database_url": url}
        first = relayed.run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert "3 new deliveries, 3 delivered, 0 failed" in first.stdout
        second = relayed.run()
        assert second.returncode == 0, second.stdout + second.stderr
        assert "0 new deliveries, 0 delivered" in second.stdout
    kinds = [
        next(k for k in ("video", "photo", "audio") if k in m)
        for m in telegram.messages(channel.id)
    ]
    assert kinds == ["video", "video", "photo", "photo", "audio"]
