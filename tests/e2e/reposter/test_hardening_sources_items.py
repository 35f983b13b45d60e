"""A post page whose createTime is not a number: ``tikrelay run --once`` reports the post as
failed for good, naming the field, delivers the others, and does not try it again."""

from __future__ import annotations

from tests.support.relayed import Relayed


def test_a_post_with_a_malformed_create_time_fails_once_naming_the_field(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    broken = world.add_video("alice", desc="broken")
    world.add_video("alice", desc="fine")
    world.patch_item(broken.id, {"createTime": "yesterday"}, feed=False)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "3 new deliveries, 2 delivered, 1 failed" in result.stdout
    report = result.stdout.split(f"post tiktok:{broken.id}", 1)[1].splitlines()[0]
    assert report.endswith(
        f"failed: post {broken.id}: TikTok sent createTime = 'yesterday', not a time in seconds"
    )
    assert "Traceback" not in result.stdout + result.stderr
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["seeded video 1", "fine"]
    pages = len(world.requests(path=f"/@alice/video/{broken.id}"))
    assert pages == 1  # read once: not retried

    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(world.requests(path=f"/@alice/video/{broken.id}")) == pages
