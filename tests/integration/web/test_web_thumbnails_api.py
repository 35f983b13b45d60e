"""Posts' pictures: ``thumbnail_url`` in ``GET /api/posts`` (from the media cache, or an archive
destination that recorded the post) and ``GET /thumbnails/{site}/{id}`` taking the picture from
the archive once the cache has none: a slideshow's first slide, a frame of a video (the real
ffmpeg), from a local folder and from S3 (moto's server on 127.0.0.1); made once into the
cache; a sound has none; an archive that cannot be reached is said; the paths stay inside the
post's folder."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import update

from tests.support.storage_servers import (
    CREDENTIAL_VARIABLES,
    StorageServer,
    create_bucket,
    free_port,
    s3_environment,
    start_moto,
    unique_name,
)
from tests.support.web.posts import T0, add_post
from tikrelay.archive import ArchiveStore, open_archive
from tikrelay.config.paths import StatePaths
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.posts import Post, PostKind
from tikrelay.reposter.archiving import ARCHIVE_CHAT, METADATA, archive_folder
from tikrelay.runtime.app import Runtime
from tikrelay.runtime.pictures import ARCHIVED
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.store import relay
from tikrelay.store.tables import deliveries
from tikrelay.store.transition import add_events

#: A tiny JPEG's first bytes are enough for the cache: the route serves files, it does not
#: decode them.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    server = start_moto(tmp_path_factory.mktemp("storage-servers"))
    yield server
    server.stop()


@dataclass
class Vault:
    """The archive destination ``vault`` of the catalog, and its storage."""

    store: ArchiveStore
    settings: dict[str, str]


@pytest.fixture(params=["folder", "s3"])
def vault(
    request: pytest.FixtureRequest,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Vault:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if request.param == "folder":
        settings = {"path": str(tmp_path / "archive")}
    else:
        server: StorageServer = request.getfixturevalue("moto")
        for name, value in s3_environment().items():
            monkeypatch.setenv(name, value)
        bucket = unique_name()
        create_bucket(server, bucket)
        settings = {"url": f"s3://{bucket}/posts", "endpoint_url": server.endpoint}
    runtime.catalog().add_archive("vault", **settings)
    return Vault(open_archive(**settings), settings)


def archived(
    runtime: Runtime,
    store: ArchiveStore | None,
    native_id: str,
    *,
    kind: str,
    files: dict[str, Path],
    destination: str = "vault",
    at: datetime = T0,
    renamed: str | None = None,
) -> str:
    """A post read by a delivery and archived as the archive job archives it: its media under
    its folder, metadata.json last, the job's ARCHIVED event and the archive's delivery row.
    ``renamed``: the author's name when a later delivery read the post again. Its key."""
    posted = T0 - timedelta(days=40)
    key = add_post(runtime, native_id, author=renamed or "alice", kind=kind, posted=posted)
    post = Post(
        site="tiktok",
        id=native_id,
        kind=PostKind(kind),
        url=f"https://www.tiktok.com/@alice/video/{native_id}",
        author="alice",
        created_at=posted,
    )
    folder = archive_folder(post)
    if store is not None:
        for name, local in files.items():
            store.put_file(f"{folder}/{name}", local)
        store.put_bytes(f"{folder}/{METADATA}", json.dumps({"id": native_id}).encode())
    job = runtime.service.enqueue("greet", {}).job.id  # stands for the archive job
    with runtime.queue.transaction() as conn:
        add_events(conn, [(job, ReposterEvent.ARCHIVED, {"folder": folder})], at)
        relay.record_delivery(
            conn,
            post_key=key,
            destination=destination,
            chat_id=f"{ARCHIVE_CHAT}{destination}",
            topic_id=None,
            message_ids=[],
            job_id=job,
            reconciled=False,
            now=at,
        )
    return key


def picture(answer: httpx.Response) -> Image.Image:
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/jpeg"), answer.text
    found = Image.open(io.BytesIO(answer.content))
    assert found.format == "JPEG"
    return found


def near(one: tuple[int, ...], other: tuple[int, ...], within: int = 24) -> bool:
    return all(abs(a - b) <= within for a, b in zip(one, other, strict=True))


async def test_the_api_says_which_posts_have_a_picture(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.catalog().add_archive("vault", path=str(tmp_path / "archive"))
    runtime.catalog().add_archive("brief", path=str(tmp_path / "brief"), keep_days=1)
    now = datetime.now(UTC)
    archived(runtime, None, "201", kind="slideshow", files={}, at=now)
    archived(runtime, None, "202", kind="video", files={}, at=now)
    archived(runtime, None, "203", kind="audio", files={}, at=now)  # a sound: no picture
    archived(runtime, None, "204", kind="video", files={}, destination="gone", at=now)
    archived(runtime, None, "205", kind="video", files={}, destination="brief", at=now)
    old = now - timedelta(days=3)
    archived(runtime, None, "206", kind="video", files={}, destination="brief", at=old)
    add_post(runtime, "207", author="bob", delivered_to=("clips",))
    add_post(runtime, "208", author="bob")
    cached = StatePaths(runtime.settings.state_dir).post_media("tiktok", "208") / "telegram"
    cached.mkdir(parents=True)
    (cached / "video.thumb.jpg").write_bytes(JPEG)

    answer = await client.get("/api/posts")
    assert answer.status_code == 200
    urls = {post["id"]: post["thumbnail_url"] for post in answer.json()["posts"]}
    assert urls == {
        "201": "/thumbnails/tiktok/201",
        "202": "/thumbnails/tiktok/202",
        "203": None,
        "204": None,  # its destination is no longer in the catalog
        "205": "/thumbnails/tiktok/205",
        "206": None,  # archived longer ago than the archive keeps posts
        "207": None,  # delivered to a chat, nothing cached
        "208": "/thumbnails/tiktok/208",
    }
    # The link works as given, with the token.
    assert (await client.get(str(urls["208"]))).content == JPEG

    document = (await client.get("/openapi.json")).json()
    field = document["components"]["schemas"]["PostOut"]["properties"]["thumbnail_url"]
    assert "media cache" in field["description"]
    assert {"type": "null"} in field["anyOf"]
    assert "thumbnail_url" in document["components"]["schemas"]["PostOut"]["required"]


async def test_a_slideshow_picture_comes_from_the_archive_once(
    client: httpx.AsyncClient, runtime: Runtime, vault: Vault
) -> None:
    media = MediaFixtures.at()
    first, second = media.image(1), media.image(2)
    archived(
        runtime,
        vault.store,
        "301",
        kind="slideshow",
        files={"01.jpg": first, "02.jpg": second, "sound.mp3": media.music()},
    )
    page = await client.get("/posts")  # the posts page shows it too, from the same answer
    assert '<img class="thumb" src="/thumbnails/tiktok/301"' in page.text
    shown = picture(await client.get("/thumbnails/tiktok/301"))
    assert max(shown.size) <= 320
    with Image.open(first) as original:
        assert shown.size == (180, 320)  # the slide's shape, made small
        assert near(shown.convert("RGB").getpixel((4, 4)), original.convert("RGB").getpixel((8, 8)))

    cached = StatePaths(runtime.settings.state_dir).post_media("tiktok", "301") / ARCHIVED
    assert cached.is_file()
    vault.store.delete([o.key for o in vault.store.list("")])  # the archive pruned it since
    again = await client.get("/thumbnails/tiktok/301")
    assert (again.status_code, again.content) == (200, cached.read_bytes())


async def test_a_post_is_found_where_its_archive_job_said_it_put_it(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.catalog().add_archive("vault", path=str(tmp_path / "archive"))
    store = open_archive(path=tmp_path / "archive")
    slide = MediaFixtures.at().image(4)
    # Read again after the creator changed name: the folder is named after the old one.
    archived(runtime, store, "351", kind="slideshow", files={"01.jpg": slide}, renamed="alicia")
    assert (await client.get("/thumbnails/tiktok/351")).status_code == 200
    # Once the job is pruned (the delivery row keeps its id), the folder named from the post
    # as read now is not it: no picture.
    archived(runtime, store, "352", kind="slideshow", files={"01.jpg": slide}, renamed="alicia")
    with runtime.queue.transaction() as conn:
        gone = update(deliveries).where(deliveries.c.post_key == "tiktok:352")
        conn.execute(gone.values(job_id=10**9))
    assert (await client.get("/thumbnails/tiktok/352")).status_code == 404


async def test_a_video_picture_is_a_frame_of_the_archived_video(
    client: httpx.AsyncClient, runtime: Runtime, vault: Vault
) -> None:
    video = MediaFixtures.at().clean_video()
    archived(runtime, vault.store, "401", kind="video", files={"video.mp4": video})
    shown = picture(await client.get("/thumbnails/tiktok/401"))
    assert shown.size == (144, 256)  # the clip's own size: never made bigger
    listing = (await client.get("/api/posts")).json()["posts"]
    assert listing[0]["thumbnail_url"] == "/thumbnails/tiktok/401"


async def test_what_an_archive_has_no_picture_of_is_not_found(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.catalog().add_archive("vault", path=str(tmp_path / "archive"))
    store = open_archive(path=tmp_path / "archive")
    media = MediaFixtures.at()
    archived(runtime, store, "501", kind="audio", files={"sound.mp3": media.music()})
    archived(runtime, store, "502", kind="video", files={})  # a folder without its media
    archived(runtime, None, "503", kind="video", files={})  # recorded, but not in the archive
    for post_id in ("501", "502", "503", "999"):
        answer = await client.get(f"/thumbnails/tiktok/{post_id}")
        assert answer.status_code == 404, post_id
        assert "in the media cache or an archive" in answer.json()["detail"]
    media_root = StatePaths(runtime.settings.state_dir).media_cache
    assert not (media_root / "tiktok" / "503").exists()  # nothing made for a miss


async def test_an_archive_out_of_reach_is_said_and_left_alone_a_while(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_environment().items():
        monkeypatch.setenv(name, value)
    closed = f"http://127.0.0.1:{free_port()}"
    runtime.catalog().add_archive("vault", url="s3://nowhere/posts", endpoint_url=closed)
    archived(runtime, None, "601", kind="video", files={})
    answer = await client.get("/thumbnails/tiktok/601")
    assert answer.status_code == 502
    assert answer.json()["detail"].startswith("the archive could not be read (vault: ")
    assert "s3-secret" not in answer.text
    again = await client.get("/thumbnails/tiktok/601")
    assert again.status_code == 502
    assert "vault: failed less than 60 s ago" in again.json()["detail"]


async def test_pictures_stay_inside_the_posts_folder_and_behind_the_token(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.catalog().add_archive("vault", path=str(tmp_path / "archive"))
    store = open_archive(path=tmp_path / "archive")
    archived(runtime, store, "701", kind="slideshow", files={"01.jpg": MediaFixtures.at().image(3)})
    state = runtime.settings.state_dir
    state.mkdir(parents=True, exist_ok=True)  # PostgreSQL keeps no file there
    (state / "secret.jpg").write_bytes(JPEG)
    linked = StatePaths(state).post_media("tiktok", "702") / "telegram"
    linked.mkdir(parents=True)
    (linked / "video.thumb.jpg").symlink_to(state / "secret.jpg")

    assert (await stranger.get("/thumbnails/tiktok/701")).status_code == 401
    for path in (
        "/thumbnails/../secret.jpg",
        "/thumbnails/tiktok/..%2F..%2Fsecret.jpg",
        "/thumbnails/tiktok/702",  # a link out of the post's folder
        "/thumbnails/ti.ktok/701",  # not a site's name: neither the cache nor an archive
        "/thumbnails/tiktok%2F..%2F..%2F/701",
    ):
        assert (await client.get(path)).status_code == 404, path
    assert not (state / "media" / "ti.ktok").exists()
    assert (await client.get("/thumbnails/tiktok/701")).status_code == 200
