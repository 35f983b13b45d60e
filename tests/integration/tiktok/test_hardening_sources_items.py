"""Malformed fields served by the emulator, read by the real yt-dlp and tikrelay's source."""

from __future__ import annotations

import pytest

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sandbox.tiktok import TikTokWorld
from tikrelay.sources.tiktok import TikTokClient


def test_a_post_page_with_a_non_number_create_time_is_a_final_named_error(
    source_client: TikTokClient, world: TikTokWorld
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    world.patch_item(post.id, {"createTime": "yesterday"}, feed=False)
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.post()
    assert (c.value.kind, c.value.retryable) == (ErrorKind.EXTRACTOR, False)
    assert (
        c.value.message
        == f"post {post.id}: TikTok sent createTime = 'yesterday', not a time in seconds"
    )


def test_missing_stats_and_odd_music_are_tolerated(
    source_client: TikTokClient, world: TikTokWorld
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice", desc="fine")
    world.patch_item(post.id, {"stats": None, "music.duration": "long", "music.title": 7})
    with source_client.open_post(post.url, post.id) as session:
        found = session.post()
    assert (found.text, found.views, found.likes) == ("fine", None, None)
    assert found.sound is not None
    assert (found.sound.duration, found.sound.title) == (None, None)


@pytest.mark.parametrize("bad", ["yesterday", None, {"at": 1}])
def test_a_feed_with_a_bad_create_time_still_lists_its_posts(
    source_client: TikTokClient, world: TikTokWorld, bad: object
) -> None:
    creator = world.add_creator("alice", videos=3)
    middle = world.posts("alice")[1]
    world.patch_item(middle.id, {"createTime": bad}, page=False)
    sec_uid, entries = source_client.resolve("alice", 3)
    assert sec_uid == creator.sec_uid
    assert [e.id for e in entries] == [p.id for p in world.posts("alice")][::-1]
    assert source_client.latest(sec_uid, "alice", 3) == entries
