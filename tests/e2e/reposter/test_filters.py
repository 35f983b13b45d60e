"""A source's filters through ``tikrelay run --once`` against both emulators: the posts that pass
arrive, the others never do (not after the filters are loosened, not when someone asks for them),
and ``tikrelay posts --filtered``, the job's timeline and the summary say why."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tests.support.jobs_db import temporary_database
from tests.support.processes import running, wait_until
from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line
from tikrelay.sandbox.tiktok.model import Post

DAY = 24 * 3600


def captions(relayed: Relayed, chat_id: int) -> list[str]:
    """The first line of each post's caption in the chat, in order."""
    messages = relayed.telegram.messages(chat_id)
    return [m["caption"].split("\n")[0] for m in messages if "caption" in m]


def video(relayed: Relayed, creator: str, desc: str, at: int | None = None, **page: Any) -> Post:
    """A video whose page says ``page`` (dotted itemStruct fields) besides its own."""
    made = relayed.world.add_video(creator, desc=desc, at=at)
    if page:
        relayed.world.patch_item(made.id, page)
    return made


def watch(relayed: Relayed, creator: str, filters: dict[str, Any]) -> int:
    """A chat of its own for ``creator``'s posts that pass ``filters``; its id."""
    chat = relayed.telegram.add_chat("channel", title=creator, username=f"c_{creator}")
    relayed.world.add_creator(creator)
    relayed.destinations[creator] = {"telegram": {"chat_id": chat.id}}
    relayed.sources.append({"tiktok": f"@{creator}", "to": [creator], "filters": filters})
    return chat.id


def test_each_filter_lets_through_what_passes_and_says_why_not(relayed: Relayed) -> None:
    now = int(time.time())
    chats = {
        "views": watch(relayed, "views", {"min_views": 1000}),
        "likes": watch(relayed, "likes", {"min_likes": 50}),
        "age": watch(relayed, "age", {"max_age_days": 7}),
        "kinds": watch(relayed, "kinds", {"kinds": ["video"]}),
        "length": watch(relayed, "length", {"min_duration": 5, "max_duration": 60}),
        "height": watch(relayed, "height", {"min_height": 720}),
        "words": watch(
            relayed, "words", {"include": ["cats", "#kitten"], "exclude": ["#ad", "réclame"]}
        ),
    }
    video(relayed, "views", "seen 999 times", **{"stats.playCount": 999})
    video(relayed, "views", "seen 1000 times", **{"stats.playCount": 1000})
    video(relayed, "likes", "liked 49 times", **{"stats.diggCount": 49})
    video(relayed, "likes", "liked 50 times", **{"stats.diggCount": 50})
    video(relayed, "age", "eight days old", at=now - 8 * DAY)
    video(relayed, "age", "six days old", at=now - 6 * DAY)
    relayed.world.add_slideshow("kinds", desc="a slideshow")
    video(relayed, "kinds", "a video")
    video(relayed, "length", "four seconds", **{"video.duration": 4})
    video(relayed, "length", "sixty-one seconds", **{"video.duration": 61})
    video(relayed, "length", "half a minute", **{"video.duration": 30})
    video(relayed, "height", "256 pixels high")  # the emulator's own videos are small
    video(relayed, "height", "720 pixels high", **{"video.height": 720})
    for desc in (
        "my cats",
        "#Kitten time",
        "cats #ad",
        "#adventure with cats",
        "RECLAME for cats",
        "dogs only",
    ):
        video(relayed, "words", desc)

    first = relayed.run(timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr  # filtered is not failed
    assert "19 new deliveries, 9 delivered, 0 failed or waiting, 10 filtered" in first.stdout
    assert {name: captions(relayed, chat) for name, chat in chats.items()} == {
        "views": ["seen 1000 times"],
        "likes": ["liked 50 times"],
        "age": ["six days old"],
        "kinds": ["a video"],
        "length": ["half a minute"],
        "height": ["720 pixels high"],
        "words": ["my cats", "#Kitten time", "#adventure with cats"],
    }

    config = str(relayed.config)
    listed = relayed.run("posts", "--filtered", "--config", config)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 10, listed.stdout
    reasons = {line.split("filtered for ", 1)[1] for line in lines}
    age = next(reason for reason in reasons if reason.startswith("age: "))
    assert re.fullmatch(r"age: age 8(\.\d)? days > max_age_days 7", age), age
    assert reasons - {age} == {
        "views: views 999 < min_views 1000",
        "likes: likes 49 < min_likes 50",
        "kinds: kind slideshow not in kinds (video)",
        "length: duration 4 s < min_duration 5",
        "length: duration 61 s > max_duration 60",
        "height: height 256 < min_height 720",
        'words: has "#ad" (exclude)',
        'words: has "réclame" (exclude)',
        'words: has none of include ("cats", "#kitten")',
    }
    slideshow = next(line for line in lines if "kinds (video)" in line)
    assert re.match(
        r"tiktok:\d+  @kinds  slideshow  \d{4}-\d\d-\d\d \d\d:\d\d  filtered", slideshow
    )

    words = relayed.run("posts", "--source", "@words", "--config", config).stdout.splitlines()
    assert len(words) == 6
    assert sum(line.endswith("delivered to words") for line in words) == 3
    assert sum("filtered for words: " in line for line in words) == 3


def test_a_filtered_post_is_decided_for_good(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Main", username="main")
    world.add_creator("alice")
    video(relayed, "alice", "popular", **{"stats.playCount": 5000})
    unpopular = video(relayed, "alice", "unpopular", **{"stats.playCount": 10})
    relayed.destinations = {"main": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["main"], "filters": {"min_views": 1000}}]
    key = f"tiktok:{unpopular.id}"

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 new deliveries, 1 delivered, 0 failed or waiting, 1 filtered" in first.stdout
    assert f"filtered {key} → main: views 10 < min_views 1000" in first.stdout
    assert captions(relayed, channel.id) == ["popular"]

    # The newest deliver job is the newer post's: read, kept out, completed, nothing downloaded.
    timeline = relayed.newest_timeline("deliver")
    assert "status=COMPLETED" in timeline
    assert "POST_FILTERED" in timeline
    assert "reason=views 10 < min_views 1000 source=tiktok:@alice" in timeline
    assert "METADATA_FETCH" in timeline
    assert "DOWNLOAD" not in timeline
    config = str(relayed.config)
    listed = relayed.run("posts", "--filtered", "--config", config).stdout.splitlines()
    assert len(listed) == 1
    assert listed[0].startswith(f"{key}  @alice  video  ")
    assert listed[0].endswith("  filtered for main: views 10 < min_views 1000")

    # Looser filters take the posts that come next, never the one kept out.
    relayed.sources[0]["filters"] = {"min_views": 1}
    world.patch_item(unpopular.id, {"stats.playCount": 1_000_000})
    video(relayed, "alice", "newer", **{"stats.playCount": 50})
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 new deliveries, 1 delivered, 0 failed or waiting\n" in second.stdout
    assert captions(relayed, channel.id) == ["popular", "newer"]

    # Asked for by name (the web's request), it is still not sent there: the timeline says why.
    relayed.extra = {"bot": {"enabled": False}, "web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "serve") as proc:
        _, url = start_line(proc)
        with httpx.Client(base_url=url, timeout=30) as web:
            body = {"url": unpopular.url, "destination": "main"}
            asked = web.post("/api/requests", headers=AUTH, json=body)
            assert asked.status_code == 202, asked.text
            job_id = asked.json()["job_id"]

            def status() -> str:
                return str(web.get(f"/api/jobs/{job_id}", headers=AUTH).json()["status"])

            wait_until(lambda: status() == "COMPLETED", 60, proc)
    shown = relayed.run("jobs", "show", str(job_id), "--config", config).stdout
    assert "reason=views 10 < min_views 1000 earlier=True" in shown
    assert "METADATA_FETCH" not in shown
    assert captions(relayed, channel.id) == ["popular", "newer"]


def test_the_same_on_postgresql(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Main", username="main")
    world.add_creator("alice")
    relayed.world.add_slideshow("alice", desc="slides #ad")
    video(relayed, "alice", "a clip")
    relayed.destinations = {"main": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["main"], "filters": {"exclude": ["ad"]}}]
    with temporary_database("postgres", relayed.folder) as url:
        relayed.extra = {"database_url": url}
        first = relayed.run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert "2 new deliveries, 1 delivered, 0 failed or waiting, 1 filtered" in first.stdout
        relayed.sources[0]["filters"] = {}
        second = relayed.run()
        assert second.returncode == 0, second.stdout + second.stderr
        config = str(relayed.config)
        listed = relayed.run("posts", "--config", config).stdout.splitlines()
    assert captions(relayed, channel.id) == ["a clip"]
    # The plain word "ad" finds the hashtag #ad; the looser filters never send that post.
    assert sorted((line.split("  ")[2], line.split("  ")[4]) for line in listed) == [
        ("slideshow", 'filtered for main: has "ad" (exclude)'),
        ("video", "delivered to main"),
    ]


def test_an_archive_of_the_source_is_filtered_too_one_through_archive_to_takes_the_chats(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Main", username="main")
    world.add_creator("alice")
    kept = video(relayed, "alice", "kept #ad")
    passed = video(relayed, "alice", "passed")
    vault, copies = relayed.folder / "vault", relayed.folder / "copies"
    relayed.destinations = {
        "main": {"telegram": {"chat_id": channel.id}, "archive_to": "copies"},
        "vault": {"archive": {"path": str(vault)}},
        "copies": {"archive": {"path": str(copies)}},
    }
    relayed.sources = [
        {"tiktok": "@alice", "to": ["main", "vault"], "filters": {"exclude": ["ad"]}}
    ]

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    # main, vault and the archive_to copy of what main got; the #ad post went nowhere.
    assert "5 new deliveries, 3 delivered, 0 failed or waiting, 2 filtered" in first.stdout
    assert captions(relayed, channel.id) == ["passed"]
    for root in (vault, copies):
        archived = {path.name for path in root.glob("tiktok/alice/*/*/*")}
        assert archived == {passed.id}, root
    config = str(relayed.config)
    listed = relayed.run("posts", "--filtered", "--config", config).stdout.splitlines()
    assert len(listed) == 1
    assert listed[0].startswith(f"tiktok:{kept.id}  ")
    assert listed[0].endswith('filtered for main, vault: has "ad" (exclude)')


def test_mistakes_in_filters_stop_the_run_with_one_line(relayed: Relayed) -> None:
    relayed.destinations = {"main": {"telegram": {"chat_id": -1001}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["main"], "filters": {"kinds": ["gif"]}}]
    result = relayed.run()
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().endswith(
        "sources.0.filters.kinds.0: 'gif' is not a kind of post: write video and/or slideshow"
    )
    assert len(result.stderr.strip().splitlines()) == 1

    relayed.sources = [
        {"tiktok": "@alice", "to": ["main"], "filters": {"min_views": 10}},
        {"tiktok": "https://www.tiktok.com/@alice", "to": ["main"]},
    ]
    result = relayed.run()
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        "error: sources.1.filters: @alice is watched by sources.0 too, with other filters"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
