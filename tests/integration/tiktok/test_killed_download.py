"""A download killed by kill -9 after yt-dlp wrote the whole file but before it renamed it: the
next attempt downloads it afresh instead of failing the post."""

from __future__ import annotations

from pathlib import Path

from tikrelay.config.settings import Settings
from tikrelay.reposter.media_cache import MediaCache
from tikrelay.sandbox.tiktok import TikTokWorld
from tikrelay.sources.tiktok import TikTokClient


def test_a_whole_part_file_left_by_a_killed_download_is_not_resumed(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice", desc="killed while renaming")
    url = f"https://www.tiktok.com/@alice/video/{post.id}"
    with source_client.open_post(url, post.id) as session:
        whole = session.download_video(tmp_path / "elsewhere").read_bytes()
    cache = MediaCache(Settings(state_dir=tmp_path / "state"))
    with source_client.open_post(url, post.id) as session:
        found = session.post()
        source = cache.folder(found) / "source"
        source.mkdir(parents=True)
        # What the killed run left: every byte, under yt-dlp's temporary name. Resumed, it would
        # ask for the range after the last byte (HTTP 416, which yt-dlp's fallback repeats).
        (source / "video.mp4.part").write_bytes(whole)
        files = cache.download_once(session, found)
    assert files.video is not None
    assert (cache.folder(found) / files.video).read_bytes() == whole
    assert list(source.glob("*.part*")) == []
