"""Filters and ``url:`` sources made without the config file: the real ``tikrelay sources add``,
``edit`` and ``list``, and the real ``tikrelay web``'s API, then the real ``tikrelay run --once``
against both emulators. A post the filters keep out never arrives (not after the filters are
dropped either); a ``url:`` source added from the command line or the web delivers its entries;
bad input is one line naming the option (or, on the web, a 422 naming the field)."""

from __future__ import annotations

import httpx

from tests.support.processes import running
from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line


def captions(relayed: Relayed, chat_id: int) -> list[str]:
    """The first line of each caption in the chat, in order."""
    messages = relayed.telegram.messages(chat_id)
    return [m["caption"].split("\n")[0].split(" (")[0] for m in messages if "caption" in m]


def ok(relayed: Relayed, *args: str) -> str:
    done = relayed.run(*args, "--config", str(relayed.config))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def error(relayed: Relayed, code: int, *args: str) -> str:
    done = relayed.run(*args, "--config", str(relayed.config))
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")
    return done.stderr.removeprefix("error: ").strip()


def test_filters_and_a_url_source_added_and_edited_from_the_command_line(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    seen = world.add_video("alice", desc="seen 999 times")
    world.patch_item(seen.id, {"stats.playCount": 999})
    popular = world.add_video("alice", desc="seen 5000 times")
    world.patch_item(popular.id, {"stats.playCount": 5000})
    world.add_slideshow("alice", desc="a popular slideshow")
    feed = world.web.add_feed("harbour", title="Harbour Diaries")
    for n in (1, 2):
        page = world.web.add_page(f"day-{n}", title=f"Day {n}")
        world.web.add_feed_item("harbour", page, title=f"Day {n}", guid=f"day-{n}")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}

    added = ok(relayed, "sources", "add", "@alice", "--to", "clips", "--min-views", "1000")
    assert added == "added source tiktok:@alice → clips; filters: min_views=1000"
    edited = ok(relayed, "sources", "edit", "@alice", "--kind", "video", "--exclude", "#ad")
    assert edited == (
        "changed source tiktok:@alice → clips; filters: min_views=1000 kinds=video exclude=#ad"
    )
    added = ok(relayed, "sources", "add", feed, "--to", "clips", "--every-minutes", "60")
    assert added == f"added source url:{feed} → clips"
    listed = [line.split() for line in ok(relayed, "sources", "list").splitlines()[1:]]
    assert listed == [
        [
            "tiktok:@alice",
            "cli",
            "no",
            "15",
            "clips",
            "min_views=1000",
            "kinds=video",
            "exclude=#ad",
        ],
        [f"url:{feed}", "cli", "no", "60", "clips"],
    ]

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 delivered" in first.stdout, first.stdout
    assert "2 filtered" in first.stdout, first.stdout
    assert sorted(captions(relayed, channel.id)) == ["Day 1", "Day 2", "seen 5000 times"]

    dropped = ok(relayed, "sources", "edit", "tiktok:@alice", "--no-filters")
    assert dropped == "changed source tiktok:@alice → clips; no filters"
    world.add_video("alice", desc="seen by nobody yet")
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    # The new post passes (no filters now); those kept out before stay out, for good.
    assert captions(relayed, channel.id)[3:] == ["seen by nobody yet"]


def test_bad_options_are_one_line_naming_the_option(relayed: Relayed) -> None:
    channel = relayed.telegram.add_chat("channel", title="Clips")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    add = ("sources", "add", "@bob", "--to", "clips")
    assert error(relayed, 2, *add, "--kind", "audio").startswith(
        "--kind: 'audio' is not a kind a creator's feed holds"
    )
    assert error(relayed, 2, *add, "--min-views", "-1") == (
        "--min-views: Input should be greater than or equal to 0 (got -1)"
    )
    assert error(relayed, 2, *add, "--include", "!!!").startswith(
        "--include: '!!!' has no letters or digits"
    )
    assert error(relayed, 2, *add, "--min-duration", "90", "--max-duration", "60").startswith(
        "filters: min_duration 90 is more than max_duration 60"
    )
    tag = "https://www.tiktok.com/tag/cats"
    refused = error(relayed, 2, "sources", "add", tag, "--to", "clips")
    assert refused.startswith(f"url: {tag}: TikTok hashtags")  # as the config file says it
    assert "app_info" in refused
    assert error(relayed, 2, "sources", "edit", "@bob").startswith("nothing to change")
    assert error(relayed, 1, "sources", "edit", "@bob", "--depth", "3") == (
        "source tiktok:@bob is not in the catalog"
    )
    assert ok(relayed, "sources", "list").startswith("no sources yet")


def test_a_url_source_added_through_the_web_delivers_on_the_next_run(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Feed", username="feedclips")
    feed = world.web.add_feed("quiet", title="Quiet Films")
    for n in (1, 2):
        page = world.web.add_page(f"calm-{n}", title=f"Calm {n}")
        world.web.add_feed_item("quiet", page, title=f"Calm {n}", guid=f"calm-{n}")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.extra = {"web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "web") as web_alone:
        _, url = start_line(web_alone)
        with httpx.Client(base_url=url, timeout=30, headers=AUTH) as web:
            bad = web.post(
                "/api/sources",
                json={"url": feed, "to": ["clips"], "filters": {"max_age_days": 0}},
            )
            added = web.post(
                "/api/sources",
                json={"url": feed, "to": ["clips"], "backfill": 1, "filters": {"kinds": ["video"]}},
            )
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"][0]["loc"] == ["body", "filters", "max_age_days"]
    assert added.status_code == 201, added.text
    assert added.json()["source"]["key"] == f"url:{feed}"

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 delivered" in result.stdout, result.stdout
    assert captions(relayed, channel.id) == ["Calm 2"]  # the newest: backfill 1
