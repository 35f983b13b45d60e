"""Delivery under bad moments: a day-long flood wait, a 5xx on an older post, a full disk."""

from __future__ import annotations

from tests.e2e.relay.conftest import Relayed


def test_a_day_long_flood_wait_is_scheduled_and_the_cron_run_exits_3_at_once(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    telegram.fail_call("sendVideo", nth=1, status=429, parameters={"retry_after": 86400})
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    # Before: the run sat out the wait until the job's 30-minute time limit.
    result = relayed.run(timeout=90)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "2 new deliveries, 0 delivered, 2 failed or waiting" in result.stdout
    waiting = [line for line in result.stdout.splitlines() if line.startswith("post ")]
    assert len(waiting) == 2
    assert all(" will retry: " in line for line in waiting)
    assert "retry after 86400 s (the chat may be used again at " in waiting[0]
    # Telegram was asked once: the chat's second post waited without another 429.
    assert [r.status for r in telegram.calls("sendVideo")] == [429]
    assert telegram.messages(channel.id) == []


def test_after_a_5xx_on_an_older_post_the_newer_one_waits_for_it(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=3)
    telegram.fail_call("sendVideo", nth=1, status=500)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    # The retry comes due within the run's drain wait: the run waits for it.
    relayed.extra = {"jobs": {"retry_base_seconds": 1, "drain_wait_seconds": 15}}

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 new deliveries, 3 delivered, 0 failed or waiting" in result.stdout
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    # Before: the newer posts went out while the oldest waited for its retry.
    assert captions == ["seeded video 1", "seeded video 2", "seeded video 3"]
    assert [r.status for r in telegram.calls("sendVideo")] == [500, 200, 200, 200]
