"""The bot's limits, each refusal saying when to try again: requests at once and per hour for a
person, and the spam guard that stops listening to a burst."""

from __future__ import annotations

from tests.support.bot import bot_replies
from tests.support.processes import running_bot, wait_until
from tests.support.relayed import Relayed
from tikrelay.bot import texts


def test_requests_over_a_persons_limits_are_refused_with_when_to_try_again(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    gil = telegram.add_user("Gil")
    chat = telegram.add_chat("private", person=gil)
    world.add_creator("alice")
    posts = [world.add_video("alice", desc=f"clip {n}") for n in range(3)]
    relayed.extra = {"bot": {"limits": {"active_per_user": 1, "per_user_per_hour": 2}}}
    telegram.delay_call("sendVideo", nth=1, seconds=3)  # the first answer takes a while
    first = telegram.user_message(chat.id, posts[0].url)["message"]["message_id"]
    telegram.user_message(chat.id, posts[1].url)  # while the first is on the way

    def videos() -> int:
        return sum(1 for m in telegram.messages(chat.id) if "video" in m)

    def reaction_taken_from_first() -> bool:
        calls = telegram.calls("setMessageReaction", ok=True)
        return any(c.message_ids == [first] and c.params["reaction"] == "[]" for c in calls)

    with running_bot(relayed) as proc:
        wait_until(lambda: videos() == 1, 60, proc)
        wait_until(reaction_taken_from_first, 60, proc)  # the first request is done
        assert bot_replies(relayed, chat.id) == [
            "You have 1 requests on the way already: send this link again once one of them "
            "has arrived."
        ]
        telegram.user_message(chat.id, posts[1].url)
        wait_until(lambda: videos() == 2, 60, proc)
        telegram.user_message(chat.id, posts[2].url)
        wait_until(lambda: len(bot_replies(relayed, chat.id)) == 2, 60, proc)
    assert bot_replies(relayed, chat.id)[-1] == (
        "You made 2 requests this hour: try again in 60 min."
    )
    assert videos() == 2


def test_a_burst_of_messages_pauses_the_sender_and_says_so_once(relayed: Relayed) -> None:
    telegram = relayed.telegram
    hal = telegram.add_user("Hal")
    ivy = telegram.add_user("Ivy")
    hal_chat = telegram.add_chat("private", person=hal)
    ivy_chat = telegram.add_chat("private", person=ivy)
    relayed.extra = {"bot": {"limits": {"burst_messages": 3, "pause_seconds": 600}}}
    for n in range(6):
        telegram.user_message(hal_chat.id, f"hello {n}")
    telegram.user_message(ivy_chat.id, "hello")

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, hal_chat.id)) == 4, 60, proc)
        wait_until(lambda: len(bot_replies(relayed, ivy_chat.id)) == 1, 60, proc)
        telegram.user_command(hal_chat.id, "help")  # still paused: no answer
        telegram.user_command(ivy_chat.id, "help")
        wait_until(lambda: len(bot_replies(relayed, ivy_chat.id)) == 2, 60, proc)
    hints = bot_replies(relayed, hal_chat.id)
    assert hints[:3] == [texts.NO_LINK] * 3
    assert hints[3] == "That is a lot of messages at once: I will read yours again in 600 s."
    assert len(hints) == 4  # the fifth, sixth and the /help were not answered
