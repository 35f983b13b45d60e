"""``/api/sources`` and ``/api/destinations``: the catalog through the API, as the command line
changes it. A source added here is polled at once by a job with its schedule's dedupe key;
the config file's entries are read-only; bad input names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.support.web import AUTH, TOKEN
from tikrelay.config import load_settings
from tikrelay.reposter.model import POLL
from tikrelay.runtime.app import Runtime
from tikrelay.store import NewJob
from tikrelay.store.tables import schedules
from tikrelay.web.app import create_app

ALICE = "tiktok:@alice"


@pytest.fixture
def catalog(runtime: Runtime, tmp_path: Path) -> Runtime:
    """Two destinations and a source from the config file, and a chat added from the command
    line."""
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        destinations={"clips": {"telegram": {"chat_id": -100123}}},
        sources=[{"tiktok": "@filed", "to": ["clips"]}],
    )
    found = runtime.catalog()
    found.sync_from_settings(settings)
    found.add_destination("vault", "@vault", origin="cli")
    return runtime


def detail_locations(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [entry["loc"] for entry in answer.json()["detail"]]


async def test_sources_and_destinations_are_listed(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    listed = (await client.get("/api/sources")).json()["sources"]
    assert [(s["key"], s["origin"], s["read_only"], s["to"]) for s in listed] == [
        ("tiktok:@filed", "file", True, ["clips"])
    ]
    assert listed[0]["last_polled_at"] is None
    destinations = (await client.get("/api/destinations")).json()["destinations"]
    shown = {d["name"]: (d["origin"], d["kind"], d["chat_id"], d["sources"]) for d in destinations}
    assert shown == {
        "clips": ("file", "telegram", "-100123", 1),
        "vault": ("cli", "telegram", "@vault", 0),
    }


async def test_a_source_added_is_polled_at_once(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    body = {"tiktok": "https://www.tiktok.com/@Alice", "to": ["clips", "vault"], "backfill": 2}
    answer = await client.post("/api/sources", json=body)
    assert answer.status_code == 201, answer.text
    added = answer.json()
    assert added["source"]["key"] == ALICE
    assert added["source"]["origin"] == "web"
    assert added["source"]["backfill"] == 2
    assert added["source"]["depth"] == 10  # the default
    poll = catalog.queue.get(added["poll"]["job_id"])
    assert poll is not None
    assert (poll.kind, poll.status.value, dict(poll.payload)) == (
        POLL,
        "QUEUED",
        {"source": ALICE},
    )
    assert poll.dedupe_key == f"schedule:{POLL}:{ALICE}"  # the schedule's: never twice
    assert poll.max_attempts == 3  # the reposter's own, though this process runs no reposter
    again = await client.post("/api/sources", json=body)
    assert again.status_code == 409
    assert "exists already" in again.json()["detail"]


async def test_bad_sources_name_the_field(client: httpx.AsyncClient, catalog: Runtime) -> None:
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"tiktok": "not a creator!", "to": ["clips"]}, ["body", "tiktok"]),
        ({"tiktok": "@bob", "to": ["nowhere"]}, ["body", "to"]),
        ({"tiktok": "@bob", "to": []}, ["body", "to"]),
        ({"tiktok": "@bob", "to": ["clips"], "depth": 0}, ["body", "depth"]),
        ({"tiktok": "@bob", "to": ["clips"], "every_minutes": -1}, ["body", "every_minutes"]),
        ({"tiktok": "@bob", "to": ["clips"], "colour": "red"}, ["body", "colour"]),
        ({"to": ["clips"]}, ["body", "tiktok"]),
    ]
    for body, where in cases:
        answer = await client.post("/api/sources", json=body)
        assert where in detail_locations(answer), (body, answer.text)
    nowhere = await client.post("/api/sources", json={"tiktok": "@bob", "to": ["nowhere"]})
    assert "destination 'nowhere' does not exist" in nowhere.json()["detail"][0]["msg"]
    assert (await client.get("/api/sources")).json()["sources"][0]["key"] == "tiktok:@filed"


async def test_a_source_is_edited_paused_and_resumed(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    await client.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
    paused = await client.patch(f"/api/sources/{ALICE}", json={"paused": True})
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    edited = await client.patch(
        "/api/sources/@alice", json={"to": ["vault"], "every_minutes": 5, "depth": 3}
    )
    assert edited.status_code == 200, edited.text
    shown = edited.json()
    assert (shown["to"], shown["every_minutes"], shown["depth"], shown["paused"]) == (
        ["vault"],
        5,
        3,
        True,  # an edit keeps it paused
    )
    assert shown["origin"] == "web"
    refused = await client.patch(f"/api/sources/{ALICE}", json={"to": ["nowhere"]})
    assert ["body", "to"] in detail_locations(refused)
    kept = catalog.catalog().source(ALICE)
    assert kept is not None
    assert kept.settings.to == ["vault"]
    assert kept.paused
    resumed = await client.patch(f"/api/sources/{ALICE}", json={"paused": False, "depth": 4})
    assert (resumed.json()["paused"], resumed.json()["depth"]) == (False, 4)
    assert (await client.patch(f"/api/sources/{ALICE}", json={})).status_code == 200


async def test_file_sources_are_read_only(client: httpx.AsyncClient, catalog: Runtime) -> None:
    for answer in (
        await client.patch("/api/sources/tiktok:@filed", json={"paused": True}),
        await client.patch("/api/sources/@filed", json={"depth": 2}),
        await client.delete("/api/sources/@filed"),
    ):
        assert answer.status_code == 409, answer.text
        assert "config file" in answer.json()["detail"]
        assert "change it there" in answer.json()["detail"]
    found = catalog.catalog().source("@filed")
    assert found is not None
    assert not found.paused
    assert found.settings.depth == 10


async def test_unknown_and_malformed_sources(client: httpx.AsyncClient, catalog: Runtime) -> None:
    for method, path in (
        ("PATCH", "/api/sources/@nobody"),
        ("DELETE", "/api/sources/@nobody"),
        ("POST", "/api/sources/@nobody/poll"),
    ):
        body = {"paused": True} if method == "PATCH" else None
        answer = await client.request(method, path, json=body)
        assert answer.status_code == 404, (method, answer.text)
        assert "tiktok:@nobody is not in the catalog" in answer.json()["detail"]
        malformed = await client.request(method, path.replace("@nobody", "no%20body!"), json=body)
        assert ["path", "id"] in detail_locations(malformed)
    unknown = await client.patch("/api/sources/@filed", json={"colour": "red"})
    assert ["body", "colour"] in detail_locations(unknown)


async def test_a_source_is_removed(client: httpx.AsyncClient, catalog: Runtime) -> None:
    await client.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
    answer = await client.delete("/api/sources/@alice")
    assert answer.status_code == 200
    assert answer.json() == {"key": ALICE}
    assert catalog.catalog().source(ALICE) is None
    assert (await client.delete("/api/sources/@alice")).status_code == 404


async def test_poll_now_is_the_scheduled_poll_when_one_waits(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    waiting = catalog.queue.enqueue(
        NewJob(
            kind=POLL,
            payload={"source": "tiktok:@filed"},
            max_attempts=3,
            dedupe_key=f"schedule:{POLL}:tiktok:@filed",
        )
    ).job
    answer = await client.post("/api/sources/tiktok:@filed/poll")
    assert answer.status_code == 202
    assert answer.json() == {"job_id": waiting.id, "new_job": False}
    catalog.queue.cancel(waiting.id)
    fresh = await client.post("/api/sources/@filed/poll")
    assert fresh.json()["new_job"] is True
    await client.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
    await client.patch("/api/sources/@alice", json={"paused": True})
    paused = await client.post("/api/sources/@alice/poll")
    assert paused.status_code == 409
    assert "paused: resume it first" in paused.json()["detail"]


async def test_under_serve_the_reposter_routes_and_schedules_a_new_source(
    tmp_path: Path, database_url: str | None
) -> None:
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "serve"),
        database_url=database_url,
        telegram={"bot_token": "123456:WEB-TEST"},
        destinations={"clips": {"telegram": {"chat_id": -100123}}},
    )
    with Runtime.open(settings) as runtime:
        reposter = runtime.reposter
        assert reposter is not None
        app = create_app(runtime, SecretStr(TOKEN))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://web", headers=AUTH
        ) as web:
            answer = await web.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
            assert answer.status_code == 201, answer.text
            assert ALICE in reposter.routes.sources
            with runtime.queue.engine.connect() as conn:
                names = set(conn.execute(select(schedules.c.name)).scalars())
            assert f"{POLL}:{ALICE}" in names
            listed = (await web.get("/api/sources")).json()["sources"]
            assert listed[0]["next_poll_at"] is not None
            await web.patch("/api/sources/@alice", json={"paused": True})
            assert ALICE not in reposter.routes.sources  # a paused source is not polled
            await web.delete("/api/sources/@alice")
            with runtime.queue.engine.connect() as conn:
                names = set(conn.execute(select(schedules.c.name)).scalars())
            assert f"{POLL}:{ALICE}" not in names


async def test_a_field_that_is_not_valid_unicode_gets_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    """A lone surrogate (valid JSON escape, invalid Unicode) echoed in the 422 goes back escaped."""
    raw = b'{"tiktok": "\\ud800", "to": ["clips"]}'
    answer = await client.post(
        "/api/sources", content=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert ["body", "tiktok"] in detail_locations(answer)
    assert "\\ud800" in answer.text  # the input, as the escape it came as
