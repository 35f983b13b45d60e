"""A slideshow whose image and sound URLs point at an internal server: ``tikrelay run --once``
never contacts it, posts nothing of it, and reports the post as failed, saying why."""

from __future__ import annotations

from tests.support.recording import recording_server
from tests.support.relayed import Relayed
from tikrelay.sandbox.fixtures import MediaFixtures


def test_a_slideshow_pointing_at_an_internal_server_fails_without_touching_it(
    relayed: Relayed, media: MediaFixtures
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    post = world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="innocent")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    with recording_server(media.image(0, "jpeg")) as internal:
        world.patch_item(
            post.id,
            {
                "imagePost.images.0.imageURL.urlList": [internal.url("/admin/photo.jpg")],
                "imagePost.images.1.imageURL.urlList": [internal.url("/admin/other.jpg")],
                "music.playUrl": internal.url("/admin/sound.mp3"),
            },
        )
        result = relayed.run()
        assert result.returncode == 3, result.stdout + result.stderr
        assert internal.hits == []

    assert "2 new deliveries, 1 delivered, 1 failed" in result.stdout
    report = result.stdout.split(f"post tiktok:{post.id}", 1)[1].splitlines()[0]
    assert report.endswith(
        f"→ clips failed: refused to fetch http://127.0.0.1:{internal.port}/admin/photo.jpg: "
        "only https is allowed, not 'http'"
    )
    # Only the video reached the channel: no photo, no "audio" from the internal server.
    sent = telegram.messages(channel.id)
    assert [("video" in m, m["caption"].split("\n")[0]) for m in sent] == [(True, "seeded video 1")]
    assert telegram.calls("sendMediaGroup") == []
    assert telegram.calls("sendAudio") == []
