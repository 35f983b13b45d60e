"""The reposter works from the catalog: a source added from the command line is polled and
delivered by the next run, a paused one is not, and a file-made one cannot be paused there."""

from __future__ import annotations

import httpx

from tests.support.processes import running, wait_until
from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line


def test_sources_added_and_paused_from_the_command_line_take_effect_in_the_next_run(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    world.add_creator("bob", videos=1)
    world.add_creator("carol", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    config = str(relayed.config)

    added = relayed.run("sources", "add", "@bob", "--to", "clips", "--config", config)
    assert added.returncode == 0, added.stdout + added.stderr
    carol = relayed.run("sources", "add", "@carol", "--to", "clips", "--config", config)
    assert carol.returncode == 0, carol.stdout + carol.stderr
    paused = relayed.run("sources", "pause", "@carol", "--config", config)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    refused = relayed.run("sources", "pause", "@alice", "--config", config)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "config file" in refused.stderr

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "polled 2 of 2 sources: 2 new deliveries, 2 delivered" in result.stdout
    authors = sorted(m["caption"].rsplit("@", 1)[1] for m in telegram.messages(channel.id))
    assert authors == ["alice", "bob"]  # carol is paused

    resumed = relayed.run("sources", "resume", "@carol", "--config", config)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "polled 3 of 3 sources: 1 new deliveries, 1 delivered" in again.stdout


def test_a_serve_polls_and_delivers_a_source_another_process_added(relayed: Relayed) -> None:
    """``tikrelay web`` alone adds a source and queues its poll; the workers of a ``serve``
    started before (which did not hold that source) read the catalog again, poll it and
    deliver its post, and send to a destination it did not hold either."""
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    world.add_creator("bob")
    world.add_video("bob", desc="bob's newest")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"bot": {"enabled": False}, "web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "serve") as serve:
        line, _ = start_line(serve)
        assert line.startswith("serving 1 sources")
        with running(relayed, "web") as web_alone:
            _, url = start_line(web_alone)
            with httpx.Client(base_url=url, timeout=30) as web:
                added = web.post(
                    "/api/sources", headers=AUTH, json={"tiktok": "@bob", "to": ["clips"]}
                )
                assert added.status_code == 201, added.text
                job = added.json()["poll"]["job_id"]
                status = lambda: web.get(f"/api/jobs/{job}", headers=AUTH).json()["status"]  # noqa: E731
                wait_until(lambda: status() == "COMPLETED", 60, serve)
        wait_until(lambda: len(telegram.messages(channel.id)) == 1, 60, serve)
    assert telegram.messages(channel.id)[0]["caption"].startswith("bob's newest")


def test_the_web_alone_knows_the_destinations_of_the_file(relayed: Relayed) -> None:
    """Before any run: ``tikrelay web`` syncs the config file into the catalog, so a source
    added through it may route to a destination of the file."""
    channel = relayed.telegram.add_chat("channel", title="Clips", username="clips")
    relayed.world.add_creator("bob")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.extra = {"web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "web") as web_alone:
        _, url = start_line(web_alone)
        with httpx.Client(base_url=url, timeout=30) as web:
            listed = web.get("/api/destinations", headers=AUTH).json()["destinations"]
            names = [d["name"] for d in listed]
            added = web.post("/api/sources", headers=AUTH, json={"tiktok": "@bob", "to": ["clips"]})
    assert names == ["clips"]
    assert added.status_code == 201, added.text
