"""First sight of a creator: the newest ``backfill`` posts of those listed, all of them when
there are fewer, oldest first; what is left out on purpose is counted, never lost silently."""

from __future__ import annotations

from tests.support.relayed import Relayed

# username → (posts, source settings beyond tiktok/to, captions expected on the first run)
CASES = {
    # Fewer than the default backfill (= depth 10): every one (was: only the newest).
    "nine": (9, {}, [f"seeded video {i}" for i in range(1, 10)]),
    # depth 20, backfill unset: 11 of 11 (was: 9).
    "eleven": (11, {"depth": 20}, [f"seeded video {i}" for i in range(1, 12)]),
    # As many as backfill.
    "three": (3, {"backfill": 3}, [f"seeded video {i}" for i in range(1, 4)]),
    # More than backfill 1: the newest only, the others counted as left out.
    "one": (4, {"backfill": 1}, ["seeded video 4"]),
    # backfill 0 only remembers.
    "zero": (2, {"backfill": 0}, []),
    # backfill larger than depth: depth limits what is listed, all of it is delivered.
    "deep": (5, {"depth": 3, "backfill": 8}, [f"seeded video {i}" for i in range(3, 6)]),
}


def test_first_sight_delivers_the_newest_backfill_of_those_listed(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    chats = {}
    for name, (videos, settings, _expected) in CASES.items():
        chats[name] = telegram.add_chat("channel", title=name, username=f"c_{name}")
        world.add_creator(name, videos=videos)
        relayed.destinations[name] = {"telegram": {"chat_id": chats[name].id}}
        relayed.sources.append({"tiktok": f"@{name}", "to": [name], **settings})

    first = relayed.run(timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    for name, (_videos, _settings, expected) in CASES.items():
        captions = [m["caption"].split("\n")[0] for m in telegram.messages(chats[name].id)]
        assert captions == expected, name
    delivered = sum(len(expected) for _v, _s, expected in CASES.values())
    # Left out on purpose: 3 of "one" and 2 of "zero"; said per source and in the summary.
    assert f"{delivered} new deliveries, {delivered} delivered, 0 failed or waiting" in first.stdout
    assert ", 5 older left out (backfill)" in first.stdout
    assert "polled tiktok:@one: 4 listed, 1 to deliver, 3 older left out" in first.stdout
    assert "polled tiktok:@nine: 9 listed, 9 to deliver\n" in first.stdout

    # Left out means remembered: a later run sends only what is new.
    world.add_video("zero", desc="after the first sight")
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 new deliveries, 1 delivered, 0 failed or waiting\n" in second.stdout
    assert "left out" not in second.stdout
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(chats["zero"].id)]
    assert captions == ["after the first sight"]


def test_a_creator_who_has_posted_nothing_yet_is_polled_fine_and_later_posts_arrive(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("newcomer")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@newcomer", "to": ["clips"], "backfill": 0}]

    first = relayed.run()  # was: exit 3, "This account does not have any videos posted", retried
    assert first.returncode == 0, first.stdout + first.stderr
    assert "polled 1 of 1 sources: 0 new deliveries" in first.stdout

    world.add_video("newcomer", desc="hello world")
    world.add_video("newcomer", desc="second")
    second = relayed.run()  # posted after tikrelay started watching: new, whatever backfill says
    assert second.returncode == 0, second.stdout + second.stderr
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["hello world", "second"]
