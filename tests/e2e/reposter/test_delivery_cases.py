"""Delivery cases a channel owner meets: big slideshows, forum topics, several destinations,
flood control answers, posts that cannot be delivered, first sight."""

from __future__ import annotations

from tests.support.relayed import Relayed
from tikrelay.media.probe import probe
from tikrelay.sandbox.tiktok.model import PRIVATE_POST


def test_a_23_image_slideshow_goes_as_albums_of_10_10_and_3_with_one_caption(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    formats = ("jpeg", "webp", "heic") * 7 + ("jpeg", "jpeg")
    post = world.add_slideshow("alice", images=formats, desc="twenty-three #photos")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    albums = telegram.calls("sendMediaGroup", ok=True)
    assert [len(a.files) for a in albums] == [10, 10, 3]
    captions = [m.get("caption") for m in telegram.messages(channel.id) if "photo" in m]
    assert len(captions) == 23
    assert captions[0] is not None
    assert captions[0].startswith("twenty-three #photos")
    assert captions[1:] == [None] * 22
    # Every image arrived as a JPEG, in the post's order (sizes follow the slides).
    uploaded = [f for a in albums for f in a.files]
    assert all((f.file_name or "").endswith(".jpg") for f in uploaded)
    assert [f.file_name for f in uploaded] == [f"slide-{i:02d}.jpg" for i in range(1, 24)]
    audio = telegram.calls("sendAudio", ok=True)
    assert len(audio) == 1
    assert audio[0].message_ids[0] > albums[-1].message_ids[-1]
    assert post.media.music_path is not None


def test_forum_topics_and_several_destinations_each_get_each_post_once(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    forum = telegram.add_chat("supergroup", title="Fans", forum=True)
    topic = telegram.add_topic(forum.id, "Alice")
    world.add_creator("alice", videos=2)
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": "@clips"}},
        "fans": {"telegram": {"chat_id": forum.id, "topic_id": topic.message_thread_id}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips", "fans"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 new deliveries, 4 delivered" in result.stdout
    in_topic = [m for m in telegram.messages(forum.id) if "video" in m]
    assert len(in_topic) == 2
    assert {m.get("message_thread_id") for m in in_topic} == {topic.message_thread_id}
    assert len([m for m in telegram.messages(channel.id) if "video" in m]) == 2
    # Downloaded once per post, whatever the number of destinations.
    assert len(world.requests(host="v16-webapp-prime.tiktok.com")) == 2


def test_a_429_on_the_first_send_is_waited_out_and_the_post_delivered_once(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    telegram.fail_call("sendVideo", nth=1, status=429, parameters={"retry_after": 1})
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.status for r in telegram.calls("sendVideo")] == [429, 200]
    assert len(telegram.messages(channel.id)) == 1


def test_a_private_post_is_reported_and_the_others_delivered(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    hidden = world.add_video("alice", desc="friends only")
    world.add_video("alice", desc="public again")
    world.set_status(hidden.id, PRIVATE_POST)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "4 new deliveries, 3 delivered, 1 failed" in result.stdout
    assert f"post tiktok:{hidden.id}" in result.stdout
    assert f"https://www.tiktok.com/@alice/video/{hidden.id}" in result.stdout
    assert "private" in result.stdout
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["seeded video 1", "seeded video 2", "public again"]

    again = relayed.run()  # a post that failed for good is not retried by later runs
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(telegram.messages(channel.id)) == 3


def test_first_sight_delivers_only_the_backfill_and_remembers_the_rest(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=5)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"], "backfill": 2}]

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["seeded video 4", "seeded video 5"]

    world.add_video("alice", desc="sixth")
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["seeded video 4", "seeded video 5", "sixth"]


def test_config_mistakes_exit_2_naming_the_key(relayed: Relayed) -> None:
    relayed.destinations = {"clips": {"telegram": {"chat_id": "clips"}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    result = relayed.run()
    assert result.returncode == 2
    assert "destinations.clips.telegram.chat_id" in result.stderr
    assert "@channelname" in result.stderr

    relayed.destinations = {"clips": {"telegram": {"chat_id": -100123}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["elsewhere"]}]
    result = relayed.run()
    assert result.returncode == 2
    assert "sources.0.to" in result.stderr
    assert "'elsewhere'" in result.stderr


def test_an_album_refused_part_way_sends_only_the_missing_images(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)  # a message before: the album has a mark to probe from
    world.add_slideshow("alice", images=("jpeg",) * 6, desc="six")
    telegram.fail_album(nth=1, delivered=4, retry_after=1)
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}, "slideshow_audio": False}
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    photos = [m for m in telegram.messages(channel.id) if "photo" in m]
    assert len(photos) == 6  # four from the refused album, then only the missing two
    albums = telegram.calls("sendMediaGroup")
    assert [(a.status, len(a.files)) for a in albums] == [(400, 6), (200, 2)]
    probes = telegram.calls("editMessageReplyMarkup")
    assert probes  # the arrived items were found by probing, not guessed


def test_a_creator_whose_feed_fails_is_skipped_with_its_reason(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    world.add_creator("bob", videos=2, private=True)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@bob", "to": ["clips"]}, {"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "polled 1 of 2 sources: 2 new deliveries, 2 delivered" in result.stdout
    assert "source tiktok:@bob will retry:" in result.stdout
    assert "private:" in result.stdout.split("source tiktok:@bob", 1)[1].splitlines()[0]
    assert len(telegram.messages(channel.id)) == 2

    feed_reads = len(world.requests(path="/@bob"))
    again = relayed.run()  # the next cron run leaves bob's poll waiting for its backoff
    assert again.returncode == 3, again.stdout + again.stderr
    assert len(world.requests(path="/@bob")) == feed_reads
    assert "source tiktok:@bob will retry:" in again.stdout


def test_with_oversize_skip_a_video_over_the_limit_is_refused_before_it_is_downloaded(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id, "oversize": "skip"}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"delivery": {"max_upload_mb": 0.001}}  # 1,000 bytes

    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "size-limit" in result.stdout
    assert "the video is too large" in result.stdout
    assert "over the 0.001 MB upload limit" in result.stdout
    assert world.requests(host="v16-webapp-prime.tiktok.com") == []  # nothing downloaded
    assert telegram.messages(channel.id) == []


def test_media_go_once_no_delivery_needs_them(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    hidden = world.add_video("alice", desc="later")
    world.set_status(hidden.id, PRIVATE_POST)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    cache = relayed.folder / "state" / "media" / "tiktok"

    kept = relayed.run()  # default: files stay a day after the last delivery job
    assert kept.returncode == 3, kept.stdout + kept.stderr
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2

    relayed.extra = {"delivery": {"keep_media_hours": 0}}
    pruned = relayed.run()
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert [p for p in cache.iterdir() if p.is_dir()] == []
    assert len(telegram.messages(channel.id)) == 2  # and nothing was sent again


def test_a_video_over_the_limit_is_compressed_to_fit_by_default(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    post = world.add_video("alice", desc="squeezed")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"delivery": {"max_upload_mb": 0.04}}  # 41,943 bytes: MB of 1,048,576
    assert post.media.clean_size is not None
    assert post.media.clean_size > 41_943

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    [message] = telegram.messages(channel.id)
    sent = telegram.file_path(message["video"]["file_id"])
    assert sent.stat().st_size <= 41_943
    info = probe(sent)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.duration is not None
    assert abs(info.duration - 1.0) < 0.2
    shown = relayed.newest_timeline("deliver")
    assert "over the 41,943-byte upload limit: re-encoded at" in shown, shown
