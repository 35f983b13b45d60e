"""Through the web API of a real ``tikrelay serve``, against the emulated TikTok and Telegram: a
link posted to ``/api/requests`` is delivered to the destination's chat by the workers beside
it, and a source added through ``/api/sources`` is polled at once and its post delivered. Through
``tikrelay web`` alone: a destination added through ``/api/destinations`` gets a TikTok share link
asked for there, delivered by a ``tikrelay worker`` of another process."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.processes import running, wait_until
from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line


def job_status(web: httpx.Client, job_id: int) -> Callable[[], str]:
    return lambda: str(web.get(f"/api/jobs/{job_id}", headers=AUTH).json()["status"])


def test_requests_and_new_sources_are_delivered(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    post = world.add_video("alice", desc="asked for through the API")
    world.add_creator("bob")
    world.add_video("bob", desc="bob's newest")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.extra = {"bot": {"enabled": False}, "web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "serve") as proc:
        line, url = start_line(proc)
        assert line == f"serving 0 sources and the web at {url}; Ctrl-C stops"
        with httpx.Client(base_url=url, timeout=30) as web:
            asked = web.post(
                "/api/requests", headers=AUTH, json={"url": post.url, "destination": "clips"}
            )
            assert asked.status_code == 202, asked.text
            found = asked.json()
            assert found["post"] == f"tiktok:{post.id}"
            wait_until(lambda: len(telegram.messages(channel.id)) == 1, 60, proc)
            assert telegram.messages(channel.id)[0]["caption"].startswith("asked for")
            done = job_status(web, found["job_id"])
            wait_until(lambda: done() == "COMPLETED", 30, proc)  # recorded once sent
            delivered = web.get("/api/deliveries", headers=AUTH).json()["deliveries"]
            assert [(d["post"], d["destination"]) for d in delivered] == [
                (f"tiktok:{post.id}", "clips")
            ]

            added = web.post("/api/sources", headers=AUTH, json={"tiktok": "@bob", "to": ["clips"]})
            assert added.status_code == 201, added.text
            polled = job_status(web, added.json()["poll"]["job_id"])
            wait_until(lambda: polled() == "COMPLETED", 60, proc)
            wait_until(lambda: len(telegram.messages(channel.id)) == 2, 60, proc)
            assert telegram.messages(channel.id)[1]["caption"].startswith("bob's newest")
            again = web.post(
                "/api/requests", headers=AUTH, json={"url": post.url, "destination": "clips"}
            )
            assert again.json()["delivered_before"] is True
            wait_until(lambda: job_status(web, again.json()["job_id"])() == "COMPLETED", 30, proc)
    assert proc.returncode == 0
    assert len(telegram.messages(channel.id)) == 2  # the second request sent nothing again


def test_a_share_link_to_a_destination_added_on_the_web_is_delivered_by_another_process(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Shared", username="shared")
    world.add_creator("carol")
    post = world.add_video("carol", desc="shared through a link")
    relayed.extra = {"web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "web") as web_proc, running(relayed, "worker") as worker:
        _, url = start_line(web_proc)
        with httpx.Client(base_url=url, timeout=30) as web:
            body = {"name": "shared", "telegram": {"chat_id": channel.id}, "link": True}
            added = web.post("/api/destinations", headers=AUTH, json=body)
            assert added.status_code == 201, added.text
            asked = web.post(
                "/api/requests",
                headers=AUTH,
                json={"url": world.short_link(post.id, "vt"), "destination": "shared"},
            )
            assert asked.status_code == 202, asked.text
            assert asked.json()["post"] == f"tiktok:{post.id}"
            # The worker started before the destination existed: its first job naming it
            # reads the catalog again.
            wait_until(lambda: len(telegram.messages(channel.id)) == 1, 60, worker)
            caption = telegram.messages(channel.id)[0]["caption"]
            assert caption.startswith("shared through a link")
            done = job_status(web, asked.json()["job_id"])
            wait_until(lambda: done() == "COMPLETED", 30, worker)
    assert worker.returncode == 0
    assert web_proc.returncode == 0
