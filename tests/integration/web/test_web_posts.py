"""``/api/posts``, ``/api/deliveries`` and ``/api/stats``: what the database holds, filtered and
paged by cursor (every row once, whatever the page size), and figures per day, source,
destination and failure kind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.web.kinds import drain
from tests.support.web.posts import T0, add_post
from tikrelay.runtime.app import Runtime


@pytest.fixture
def posts(runtime: Runtime) -> Runtime:
    """Five posts of two creators: three delivered, seen an hour apart (the newest last)."""
    add_post(runtime, "101", author="alice", source="tiktok:@alice", delivered_to=("clips",))
    add_post(
        runtime,
        "102",
        author="alice",
        kind="slideshow",
        source="tiktok:@alice",
        posted=T0 - timedelta(days=3),
        seen=T0 + timedelta(hours=1),
        delivered_to=("clips", "vault"),
    )
    add_post(runtime, "103", author="@bob", source="tiktok:@bob", seen=T0 + timedelta(hours=2))
    add_post(
        runtime,
        "104",
        author="bob",
        kind="audio",
        seen=T0 + timedelta(hours=3),
        delivered_to=("vault",),
        delivered_at=T0 + timedelta(days=1),
    )
    add_post(runtime, "105", author="carol", seen=T0 + timedelta(hours=3))
    return runtime


async def keys(client: httpx.AsyncClient, **params: Any) -> list[str]:
    answer = await client.get("/api/posts", params=params)
    assert answer.status_code == 200, answer.text
    return [post["key"] for post in answer.json()["posts"]]


async def test_posts_newest_first_with_their_deliveries(
    client: httpx.AsyncClient, posts: Runtime
) -> None:
    answer = (await client.get("/api/posts")).json()
    assert [p["id"] for p in answer["posts"]] == ["105", "104", "103", "102", "101"]
    assert answer["next_cursor"] is None
    second = answer["posts"][3]
    assert (second["kind"], second["author"], second["text"]) == ("slideshow", "alice", "post 102")
    assert second["posted_at"].startswith("2026-10-30T09:00:00")
    assert [d["destination"] for d in second["deliveries"]] == ["clips", "vault"]


async def test_posts_are_filtered(client: httpx.AsyncClient, posts: Runtime) -> None:
    assert await keys(client, creator="@alice") == ["tiktok:102", "tiktok:101"]
    assert await keys(client, creator="BOB") == ["tiktok:104", "tiktok:103"]
    assert await keys(client, source="tiktok:@alice") == ["tiktok:102", "tiktok:101"]
    assert await keys(client, kind="audio") == ["tiktok:104"]
    assert await keys(client, status="delivered") == ["tiktok:104", "tiktok:102", "tiktok:101"]
    assert await keys(client, status="undelivered") == ["tiktok:105", "tiktok:103"]
    # Dates compare the post's own time (102 was posted three days before it was seen).
    since = (T0 + timedelta(hours=2)).isoformat()
    assert await keys(client, since=since) == ["tiktok:105", "tiktok:104", "tiktok:103"]
    assert await keys(client, until=T0.isoformat()) == ["tiktok:102"]
    assert await keys(client, until="2026-11-02T09:30:00") == ["tiktok:102", "tiktok:101"]


async def test_posts_are_paged_by_cursor(client: httpx.AsyncClient, posts: Runtime) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/posts", params=params)).json()
        seen += [post["id"] for post in page["posts"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["105", "104", "103", "102", "101"]  # 104 and 105 were seen at one moment
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4IiwgMV0"}, "cursor"),  # ["x", 1]: decodes, but no cursor of ours
        ({"kind": "poem"}, "kind"),
        ({"status": "lost"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
    ],
)
async def test_bad_post_queries_name_the_field(
    client: httpx.AsyncClient, posts: Runtime, params: dict[str, Any], field: str
) -> None:
    answer = await client.get("/api/posts", params=params)
    assert answer.status_code == 422, answer.text
    assert ["query", field] in [entry["loc"] for entry in answer.json()["detail"]]


async def test_deliveries_newest_first_filtered_and_paged(
    client: httpx.AsyncClient, posts: Runtime
) -> None:
    everything = (await client.get("/api/deliveries")).json()
    assert [(d["post"], d["destination"]) for d in everything["deliveries"]] == [
        ("tiktok:104", "vault"),
        ("tiktok:102", "vault"),
        ("tiktok:102", "clips"),
        ("tiktok:101", "clips"),
    ]
    assert everything["next_cursor"] is None
    to_vault = (await client.get("/api/deliveries", params={"destination": "vault"})).json()
    assert [d["post"] for d in to_vault["deliveries"]] == ["tiktok:104", "tiktok:102"]
    of_post = (await client.get("/api/deliveries", params={"post": "tiktok:102"})).json()
    assert len(of_post["deliveries"]) == 2
    later = (await client.get("/api/deliveries", params={"since": "2026-11-03T00:00:00Z"})).json()
    assert [d["post"] for d in later["deliveries"]] == ["tiktok:104"]
    first = (await client.get("/api/deliveries", params={"limit": 3})).json()
    rest = (
        await client.get("/api/deliveries", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    ids = [d["id"] for d in first["deliveries"] + rest["deliveries"]]
    assert ids == [d["id"] for d in everything["deliveries"]]
    assert rest["next_cursor"] is None
    for bad in ({"cursor": "0"}, {"cursor": "abc"}, {"until": "soon"}):
        answer = await client.get("/api/deliveries", params=bad)
        assert answer.status_code == 422
        assert ["query", next(iter(bad))] in [e["loc"] for e in answer.json()["detail"]]


async def test_stats_per_day_source_destination_and_failure(
    client: httpx.AsyncClient, posts: Runtime
) -> None:
    posts.service.enqueue("refused", {})
    await drain(posts)
    today = posts.queue.clock().date()
    answer = await client.get("/api/stats", params={"days": 7})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert len(found["days"]) == 7
    assert found["days"][-1]["day"] == today.isoformat()
    assert found["days"][-1]["failed"] == 1
    assert found["failures"] == {"deleted": 1}
    assert {s["key"]: (s["listed"], s["delivered"]) for s in found["sources"]} == {
        "tiktok:@alice": (2, 3),
        "tiktok:@bob": (1, 0),
    }
    assert {d["name"]: d["delivered"] for d in found["destinations"]} == {"clips": 2, "vault": 2}
    for days in (0, 367, "a week"):
        bad = await client.get("/api/stats", params={"days": days})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["query", "days"]
