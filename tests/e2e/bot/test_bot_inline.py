"""Inline mode: `@bot <link>` in any chat is answered with the media by file id; a post Telegram
does not have yet is uploaded once to the storage chat first, within the ten seconds."""

from __future__ import annotations

from tests.support.processes import running_bot, wait_until
from tests.support.relayed import FAST, Relayed


def test_inline_queries_are_answered_by_file_id_uploading_once_to_the_storage_chat(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    storage = telegram.add_chat("channel", title="Storage", username="storage")
    kim = telegram.add_user("Kim")
    world.add_creator("alice")
    video = world.add_video("alice", desc="inline me")
    slides = world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="inline photos")
    relayed.extra = {
        "telegram": {"api_url": telegram.url, "flood": FAST, "storage_chat_id": storage.id}
    }
    first = telegram.inline_query(video.url, user_id=kim.id)["inline_query"]["id"]
    second = telegram.inline_query(f"look {world.short_link(slides.id)}", user_id=kim.id)
    second_id = second["inline_query"]["id"]
    nothing = telegram.inline_query("no link here", user_id=kim.id)["inline_query"]["id"]
    elsewhere = telegram.inline_query(world.web.site.mp4, user_id=kim.id)["inline_query"]["id"]
    local = telegram.inline_query("http://127.0.0.1:1/x.mp4", user_id=kim.id)["inline_query"]["id"]
    asked = {first, second_id, nothing, elsewhere, local}

    with running_bot(relayed) as proc:
        wait_until(lambda: asked <= set(telegram.inline_answers), 30, proc)
        uploads = len([f for c in telegram.record for f in c.files if f.source == "upload"])
        again = telegram.inline_query(video.url, user_id=kim.id)["inline_query"]["id"]
        wait_until(lambda: again in telegram.inline_answers, 30, proc)

    answers = telegram.inline_answers
    [result] = answers[first]["results"]
    assert result["type"] == "video"
    stored = [m for m in telegram.messages(storage.id) if "video" in m]
    assert result["video_file_id"] == stored[0]["video"]["file_id"]
    photos = [r for r in answers[second_id]["results"] if r["type"] == "photo"]
    assert len(photos) == 2
    assert [r["type"] for r in answers[second_id]["results"]].count("audio") == 1
    assert answers[nothing]["results"] == []
    assert answers[local]["results"] == []  # never fetched
    [linked] = answers[elsewhere]["results"]  # a link to another site, uploaded once too
    assert linked["type"] == "video"
    # Asked again: answered from what Telegram has, nothing uploaded.
    assert answers[again]["results"] == answers[first]["results"]
    assert len([f for c in telegram.record for f in c.files if f.source == "upload"]) == uploads
    assert len(stored) == 2  # the TikTok video and the linked one
