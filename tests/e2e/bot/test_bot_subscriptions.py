"""Subscriptions from Telegram: a group's admin subscribes it to a creator with /subscribe, the
catalog holds the new source (origin bot), and the reposter delivers the creator's new posts
there; others are refused, and /subscriptions lists what the chat gets."""

from __future__ import annotations

from tests.support.bot import bot_replies
from tests.support.processes import running_bot, wait_until
from tests.support.relayed import Relayed


def test_a_groups_admin_subscribes_it_and_new_posts_arrive_there(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    group = telegram.add_chat("supergroup", title="Fans")
    ann = telegram.add_user("Ann")
    bob = telegram.add_user("Bob")
    telegram.chat(group.id).members[ann.id] = "administrator"
    world.add_creator("alice", videos=2)
    world.add_creator("carol")
    telegram.user_command(group.id, "subscribe", "@alice", user_id=ann.id)
    telegram.user_command(group.id, "subscribe", "@carol", user_id=bob.id)
    telegram.user_command(group.id, "subscribe", "@alice", user_id=ann.id)
    telegram.user_command(group.id, "subscriptions", user_id=bob.id)

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, group.id)) == 4, 60, proc)
    assert bot_replies(relayed, group.id) == [
        "Subscribed: new posts of @alice will arrive here.",
        "Only the administrators of that chat can change its subscriptions.",
        "@alice is subscribed here already.",
        "Subscriptions here:\n• @alice",
    ]

    listed = relayed.run("sources", "list", "--config", str(relayed.config))
    assert ["tiktok:@alice", "bot", "no", "15", f"chat:{group.id}"] in [
        line.split() for line in listed.stdout.splitlines()
    ], listed.stdout
    # The posts that existed are remembered, not sent; a new one arrives in the group.
    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert [m for m in telegram.messages(group.id) if "video" in m] == []
    world.add_video("alice", desc="fresh from alice")
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    [video] = [m for m in telegram.messages(group.id) if "video" in m]
    assert video["caption"].startswith("fresh from alice")

    telegram.user_command(group.id, "unsubscribe", "@alice", user_id=ann.id)
    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, group.id)) == 5, 60, proc)
    assert bot_replies(relayed, group.id)[-1] == "Unsubscribed: no more posts of @alice here."
    listed = relayed.run("sources", "list", "--config", str(relayed.config))
    assert "tiktok:@alice" not in listed.stdout


def test_in_a_private_chat_the_channel_is_named_and_its_admins_only_may_subscribe_it(
    relayed: Relayed,
) -> None:
    telegram = relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    dana = telegram.add_user("Dana")
    eve = telegram.add_user("Eve")
    telegram.chat(channel.id).members[dana.id] = "administrator"
    dms = {user.id: telegram.add_chat("private", person=user) for user in (dana, eve)}
    relayed.world.add_creator("alice")
    telegram.user_command(dms[dana.id].id, "subscribe", "@alice")
    telegram.user_command(dms[eve.id].id, "subscribe", "@alice @clips")
    telegram.user_command(dms[dana.id].id, "subscribe", "@alice @clips")

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, dms[dana.id].id)) == 2, 60, proc)
        wait_until(lambda: len(bot_replies(relayed, dms[eve.id].id)) == 1, 60, proc)
    assert bot_replies(relayed, dms[dana.id].id) == [
        "In a private chat, name the channel too: /subscribe @creator @channel",
        "Subscribed: new posts of @alice will arrive in @clips.",
    ]
    assert bot_replies(relayed, dms[eve.id].id) == [
        "Only the administrators of that chat can change its subscriptions."
    ]
