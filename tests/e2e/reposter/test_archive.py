"""Archive destinations end to end: `tikrelay run --once` against the emulated TikTok stores every
post in a folder (the media as downloaded and metadata.json), once, beside its Telegram
deliveries; `archive_to` archives what a chat got, with the message ids; `tikrelay cleanup`
applies `keep_days`."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.relayed import TOKEN, Relayed
from tests.support.storage_servers import (
    CREDENTIAL_VARIABLES,
    S3_SECRET,
    StorageServer,
    azure_environment,
    create_bucket,
    create_container,
    s3_environment,
    start_azurite,
    start_moto,
)
from tikrelay.archive import open_archive
from tikrelay.sandbox.tiktok.model import Post


def post_folder(root: Path, post: Post) -> Path:
    created = post.created
    return root / "tiktok" / post.username / f"{created:%Y}" / f"{created:%m}" / post.id


def test_a_folder_archive_keeps_each_post_as_downloaded_with_its_metadata_once(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    video = world.add_video("alice", desc="a clip #one #two", at=1_700_000_000)
    slides = world.add_slideshow("alice", images=("jpeg", "jpeg", "jpeg"), desc="three photos")
    vault = relayed.folder / "vault"
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}},
        "vault": {"archive": {"path": str(vault)}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips", "vault"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 new deliveries, 4 delivered" in result.stdout

    # A video post's folder: the clean original as downloaded, and metadata.json.
    folder = post_folder(vault, video)
    assert folder.relative_to(vault).parts[:4] == ("tiktok", "alice", "2023", "11")
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "video.mp4"]
    assert video.media.clean_path is not None
    assert (folder / "video.mp4").read_bytes() == video.media.clean_path.read_bytes()
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert meta["id"] == video.id
    assert meta["url"] == video.url
    assert meta["author"] == "alice"
    assert meta["description"] == "a clip #one #two"
    assert meta["created_at"] == "2023-11-14T22:13:20Z"
    assert meta["kind"] == "video"
    assert meta["files"] == ["video.mp4"]
    assert meta["hashtags"] == ["one", "two"]

    # A slideshow's folder: the slides in order and the sound.
    folder = post_folder(vault, slides)
    names = sorted(p.name for p in folder.iterdir())
    assert names[:3] == ["01.jpg", "02.jpg", "03.jpg"]
    sound = [n for n in names if n.startswith("sound.")]
    assert sound in (["sound.m4a"], ["sound.mp3"])
    for index, slide in enumerate(slides.slides, start=1):
        assert (folder / f"{index:02d}.jpg").read_bytes() == slide.path.read_bytes()
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "slideshow"
    assert meta["files"] == ["01.jpg", "02.jpg", "03.jpg", sound[0]]
    # Each media file was fetched from TikTok once for both destinations.
    assert len(world.requests(host="v16-webapp-prime.tiktok.com")) == 1

    # Nothing is written twice: a second run finds nothing new, a re-queued job finds it stored.
    stamps = {p: p.stat().st_mtime_ns for p in vault.rglob("*") if p.is_file()}
    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p: p.stat().st_mtime_ns for p in vault.rglob("*") if p.is_file()} == stamps
    timeline = relayed.newest_timeline("archive")
    assert "ARCHIVED" in timeline
    assert str(vault) in timeline
    assert not list(vault.rglob(".incoming*/**/*.*"))


def test_archive_to_archives_what_a_chat_got_with_its_message_ids(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    post = world.add_video("alice", desc="kept")
    vault = relayed.folder / "vault"
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}, "archive_to": "vault"},
        "vault": {"archive": {"path": str(vault)}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    sent = [m["message_id"] for m in telegram.messages(channel.id)]
    assert len(sent) == 1
    meta = json.loads((post_folder(vault, post) / "metadata.json").read_text(encoding="utf-8"))
    assert meta["deliveries"] == [
        {"destination": "clips", "chat_id": str(channel.id), "topic_id": None, "message_ids": sent}
    ]
    assert "ARCHIVE_QUEUED" in relayed.newest_timeline("deliver")


def test_cleanup_deletes_archived_posts_after_keep_days_and_nothing_else(
    relayed: Relayed,
) -> None:
    world = relayed.world
    world.add_creator("alice")
    old = world.add_video("alice", desc="old", at=1_700_000_000)
    new = world.add_video("alice", desc="new")
    vault = relayed.folder / "vault"
    relayed.destinations = {"vault": {"archive": {"path": str(vault), "keep_days": 7}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["vault"]}]
    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert (post_folder(vault, old) / "video.mp4").is_file()

    # The old post was archived eight days ago.
    eight_days_ago = time.time() - 8 * 86400
    for path in post_folder(vault, old).iterdir():
        os.utime(path, (eight_days_ago, eight_days_ago))
    cleaned = relayed.run("cleanup", "--config", str(relayed.config))
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert "archive vault: 1 posts older than keep_days deleted" in cleaned.stdout
    assert not post_folder(vault, old).exists() or not any(post_folder(vault, old).iterdir())
    assert sorted(p.name for p in post_folder(vault, new).iterdir()) == [
        "metadata.json",
        "video.mp4",
    ]


def test_kill_9_while_archiving_leaves_no_partial_file_and_writes_each_post_once(
    relayed: Relayed,
) -> None:
    world = relayed.world
    world.add_creator("alice")
    start = int(time.time()) - 3600
    posts = [world.add_video("alice", desc=f"post {n}", at=start + n * 60) for n in range(6)]
    posts += [
        world.add_slideshow("alice", images=("jpeg",) * 4, desc="photos", at=start + 600 + n)
        for n in range(2)
    ]
    vault = relayed.folder / "vault"
    relayed.destinations = {"vault": {"archive": {"path": str(vault)}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["vault"], "depth": 20}]
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(relayed.config)]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}

    rng = random.Random(20261204)
    killed = 0
    while killed < 8:
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait(timeout=rng.uniform(0.3, 2.0))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
        # After every kill: only whole files under their final names.
        for path in vault.rglob("*"):
            if path.is_file() and ".incoming" not in path.parts:
                assert path.name in EXPECTED_NAMES or path.name[:2].isdigit(), path
                assert "#" not in path.name, path

    final = relayed.run()
    assert final.returncode == 0, final.stdout + final.stderr
    for post in posts:
        folder = post_folder(vault, post)
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        assert sorted(p.name for p in folder.iterdir()) == sorted([*meta["files"], METADATA])
        if post.media.clean_path is not None:
            assert (folder / "video.mp4").read_bytes() == post.media.clean_path.read_bytes()
        for index, slide in enumerate(post.slides, start=1):
            assert (folder / f"{index:02d}.jpg").read_bytes() == slide.path.read_bytes()
    # Each post was written by at most one job: a later one found its metadata.json.
    written = Counter(json.loads(data)["folder"] for data in events_of(relayed, "ARCHIVED"))
    assert written, "nothing was archived"
    assert max(written.values()) == 1, written


EXPECTED_NAMES = {"video.mp4", "sound.m4a", "sound.mp3", "metadata.json"}
METADATA = "metadata.json"


def events_of(relayed: Relayed, kind: str) -> list[str]:
    """The data of every timeline row of type ``kind``, straight from the database."""
    with sqlite3.connect(relayed.folder / "state" / "tikrelay.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT data FROM job_events WHERE type = ?", (kind,))]


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[dict[str, StorageServer]]:
    """moto's S3 server and Azurite, for one test."""
    servers: dict[str, StorageServer] = {}
    try:
        servers["s3"] = start_moto(tmp_path)
        servers["az"] = start_azurite(tmp_path)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_s3_and_azure_archives_get_the_same_folders_as_a_local_one(
    relayed: Relayed, storage: dict[str, StorageServer], tmp_path: Path
) -> None:
    world = relayed.world
    world.add_creator("alice")
    video = world.add_video("alice", desc="to the cloud", at=1_700_000_000)
    slides = world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="two")
    create_bucket(storage["s3"], "tiktok-archive")
    create_container(storage["az"], "tiktok-archive")
    relayed.destinations = {
        "bucket": {
            "archive": {"url": "s3://tiktok-archive/team", "endpoint_url": storage["s3"].endpoint}
        },
        "blobs": {
            "archive": {"url": "az://tiktok-archive/team", "endpoint_url": storage["az"].endpoint}
        },
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["bucket", "blobs"]}]
    relayed.env = {**s3_environment(), **azure_environment()}

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 new deliveries, 4 delivered" in result.stdout
    assert S3_SECRET not in result.stdout + result.stderr

    # Read back through the same storage library, as a user's other tools would.
    os.environ.update(relayed.env)
    try:
        for name in ("bucket", "blobs"):
            target = relayed.destinations[name]["archive"]
            store = open_archive(url=target["url"], endpoint_url=target["endpoint_url"])
            for post in (video, slides):
                folder = post_folder(Path(), post).as_posix()
                raw = store.read_bytes(f"{folder}/metadata.json")
                assert raw is not None, (name, folder)
                meta = json.loads(raw)
                assert meta["id"] == post.id
                listed = sorted(o.key.rsplit("/", 1)[-1] for o in store.list(folder))
                assert listed == sorted([*meta["files"], "metadata.json"])
            assert video.media.clean_path is not None
            stored = store.read_bytes(f"{post_folder(Path(), video).as_posix()}/video.mp4")
            assert stored == video.media.clean_path.read_bytes()
    finally:
        for key in relayed.env:
            os.environ.pop(key, None)


def test_missing_archive_credentials_are_a_config_error_naming_them(relayed: Relayed) -> None:
    relayed.world.add_creator("alice", videos=1)
    relayed.destinations = {
        "bucket": {
            "archive": {"url": "s3://tiktok-archive/p", "endpoint_url": "http://127.0.0.1:9"}
        }
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["bucket"]}]
    saved = {k: os.environ.pop(k) for k in CREDENTIAL_VARIABLES if k in os.environ}
    try:
        result = relayed.run()
    finally:
        os.environ.update(saved)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "destinations.bucket.archive" in result.stderr
    assert "AWS_ACCESS_KEY_ID" in result.stderr
