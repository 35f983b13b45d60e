"""``POST /api/requests``: a link becomes the reposter's own deliver job for a destination of the
catalog (named, or found by its chat), with the dedupe key a poll would give it; a TikTok share
link is followed to its post first (through the emulated TikTok); links to this machine or its
network, share links that lead nowhere and unknown destinations are refused naming the field."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tests.support.web.posts import add_post
from tests.support.ytdlp import collect_yt_dlp_leaks
from tikrelay.config import load_settings
from tikrelay.reposter.model import ARCHIVE, DELIVER
from tikrelay.runtime.app import Runtime
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sources.web import web_post_id
from tikrelay.web.app import create_app

POST = "https://www.tiktok.com/@alice/video/7301234567890123456"


@pytest.fixture
def destinations(runtime: Runtime, tmp_path: Path) -> Runtime:
    catalog = runtime.catalog()
    catalog.add_destination("clips", -100123)
    catalog.add_destination("topic", -100777, 5)
    catalog.add_destination("other-topic", -100777, 6)
    catalog.add_archive("vault", path=str(tmp_path / "vault"))
    return runtime


def locations(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [entry["loc"] for entry in answer.json()["detail"]]


async def test_a_tiktok_link_becomes_a_deliver_job(
    client: httpx.AsyncClient, destinations: Runtime
) -> None:
    answer = await client.post(
        "/api/requests", json={"url": POST + "?is_from_webapp=1", "destination": "clips"}
    )
    assert answer.status_code == 202, answer.text
    found = answer.json()
    assert found["post"] == "tiktok:7301234567890123456"
    assert (found["destination"], found["new_job"], found["delivered_before"]) == (
        "clips",
        True,
        False,
    )
    job = destinations.queue.get(found["job_id"])
    assert job is not None
    assert job.kind == DELIVER
    assert job.priority == 2
    assert job.dedupe_key == "deliver:tiktok:7301234567890123456:clips"
    assert dict(job.payload) == {
        "post": "tiktok:7301234567890123456",
        "id": "7301234567890123456",
        "url": POST,
        "source": "web",
        "destination": "clips",
    }
    again = await client.post("/api/requests", json={"url": POST, "destination": "clips"})
    assert again.json()["job_id"] == job.id  # on its way already: the same job
    assert again.json()["new_job"] is False
    shown = await client.get(f"/api/jobs/{job.id}")
    assert shown.json()["status"] == "QUEUED"


async def test_the_destination_by_its_chat_and_an_archive(
    client: httpx.AsyncClient, destinations: Runtime
) -> None:
    by_chat = await client.post("/api/requests", json={"url": POST, "chat_id": -100123})
    assert by_chat.json()["destination"] == "clips"
    by_text = await client.post("/api/requests", json={"url": POST, "chat_id": "-100123"})
    assert by_text.json()["job_id"] == by_chat.json()["job_id"]
    archived = await client.post("/api/requests", json={"url": POST, "destination": "vault"})
    job = destinations.queue.get(archived.json()["job_id"])
    assert job is not None
    assert job.kind == ARCHIVE


async def test_a_link_to_another_site(client: httpx.AsyncClient, destinations: Runtime) -> None:
    url = "https://media.example.org/clips/cat.mp4"
    answer = await client.post("/api/requests", json={"url": url, "destination": "clips"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["post"] == f"web:{web_post_id(url)}"
    job = destinations.queue.get(answer.json()["job_id"])
    assert job is not None
    assert job.payload["url"] == url


async def test_a_post_delivered_before_says_so(
    client: httpx.AsyncClient, destinations: Runtime
) -> None:
    add_post(destinations, "7301234567890123456", author="alice", delivered_to=("clips",))
    answer = await client.post("/api/requests", json={"url": POST, "destination": "clips"})
    assert answer.json()["delivered_before"] is True


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"url": POST, "destination": "nowhere"}, "destination", "'nowhere' does not exist"),
        ({"url": POST}, "destination", "destination (a name) or chat_id"),
        ({"url": POST, "destination": "clips", "chat_id": 1}, "destination", "not both"),
        ({"url": POST, "chat_id": 42}, "chat_id", "no destination posts to chat 42"),
        ({"url": POST, "chat_id": -100777}, "chat_id", "other-topic, topic"),
        ({"url": "ftp://example.org/a.mp4", "destination": "clips"}, "url", "only http"),
        ({"url": "http://127.0.0.1:8080/metrics", "destination": "clips"}, "url", "private"),
        ({"url": "http://[::1]/x.mp4", "destination": "clips"}, "url", "refused to fetch"),
        ({"url": "http://localhost/x.mp4", "destination": "clips"}, "url", "local name"),
        ({"url": "http://169.254.169.254/latest/", "destination": "clips"}, "url", "refused"),
        ({"url": "", "destination": "clips"}, "url", ""),
        ({"destination": "clips"}, "url", ""),
        ({"url": POST, "destination": "clips", "to": "x"}, "to", ""),
    ],
)
async def test_bad_requests_name_the_field(
    client: httpx.AsyncClient, destinations: Runtime, body: dict[str, Any], field: str, said: str
) -> None:
    answer = await client.post("/api/requests", json=body)
    assert ["body", field] in locations(answer)
    assert said in " ".join(entry["msg"] for entry in answer.json()["detail"])
    assert sum(destinations.queue.counts().values()) == 0  # nothing was enqueued


# -- share links, followed through the emulated TikTok -------------------------------------------


@pytest.fixture
def world(media: MediaFixtures) -> TikTokWorld:
    return TikTokWorld(media)


@pytest.fixture
def emulator(world: TikTokWorld) -> Iterator[TikTokEmulator]:
    with TikTokEmulator(world).running() as emulated:
        port = emulated.port
        yield emulated
    collect_yt_dlp_leaks(port)


def web_over(
    tmp_path: Path, database_url: str | None, proxy: str, ca: bytes
) -> tuple[Runtime, httpx.AsyncClient]:
    """``tikrelay web`` alone (no reposter) reaching TikTok through ``proxy``, with the
    destination clips."""
    (tmp_path / "ca.pem").write_bytes(ca)
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        database_url=database_url,
        network={"proxies": [proxy], "ca_bundle": str(tmp_path / "ca.pem")},
    )
    runtime = Runtime.open(settings, reposter=False)
    runtime.catalog().add_destination("clips", -100123)
    transport = httpx.ASGITransport(app=create_app(runtime, SecretStr(TOKEN)))
    return runtime, httpx.AsyncClient(transport=transport, base_url="http://web", headers=AUTH)


@pytest.fixture
def trusted_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle setting changes the process's trust variables: restored afterwards."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, os.environ.get(name, ""))


@pytest.fixture
async def share_web(
    emulator: TikTokEmulator, tmp_path: Path, database_url: str | None, trusted_ca: None
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime, web = web_over(tmp_path, database_url, emulator.proxy_url, emulator.ca_pem)
    with runtime:
        async with web:
            yield runtime, web


@pytest.mark.parametrize("form", ["vm", "vt", "t"])
async def test_a_share_link_becomes_the_job_of_its_post(
    share_web: tuple[Runtime, httpx.AsyncClient], world: TikTokWorld, form: str
) -> None:
    runtime, web = share_web
    world.add_creator("alice")
    post = world.add_video("alice", desc="shared")
    link = world.short_link(post.id, form)
    answer = await web.post("/api/requests", json={"url": link, "destination": "clips"})
    assert answer.status_code == 202, answer.text
    found = answer.json()
    assert (found["post"], found["new_job"]) == (f"tiktok:{post.id}", True)
    job = runtime.queue.get(found["job_id"])
    assert job is not None
    assert job.dedupe_key == f"deliver:tiktok:{post.id}:clips"
    assert dict(job.payload) == {
        "post": f"tiktok:{post.id}",
        "id": post.id,
        "url": f"https://www.tiktok.com/@alice/video/{post.id}",
        "source": "web",
        "destination": "clips",
    }
    # The post's own address asks for the same delivery: the same job.
    again = await web.post("/api/requests", json={"url": post.url, "destination": "clips"})
    assert (again.json()["job_id"], again.json()["new_job"]) == (job.id, False)
    hosts = {request.host for request in world.requests()}
    assert hosts & {"vm.tiktok.com", "vt.tiktok.com", "www.tiktok.com"}


async def test_a_share_link_that_leads_nowhere_names_the_url(
    share_web: tuple[Runtime, httpx.AsyncClient], world: TikTokWorld
) -> None:
    runtime, web = share_web
    answer = await web.post(
        "/api/requests", json={"url": "https://vm.tiktok.com/ZMnothere1/", "destination": "clips"}
    )
    assert ["body", "url"] in locations(answer)
    said = answer.json()["detail"][0]["msg"]
    assert said.startswith("the share link https://vm.tiktok.com/ZMnothere1/ could not be")
    assert "HTTP 404" in said
    assert sum(runtime.queue.counts().values()) == 0


async def test_an_unreachable_tiktok_names_the_url(
    tmp_path: Path, database_url: str | None, emulator: TikTokEmulator, trusted_ca: None
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    runtime, web = web_over(tmp_path, database_url, f"http://127.0.0.1:{port}", emulator.ca_pem)
    with runtime:
        async with web:
            answer = await web.post(
                "/api/requests",
                json={"url": "https://vm.tiktok.com/ZMabc1234/", "destination": "clips"},
            )
        assert ["body", "url"] in locations(answer)
        assert "unreachable" in answer.json()["detail"][0]["msg"]
        assert sum(runtime.queue.counts().values()) == 0
