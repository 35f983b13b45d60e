"""TikTok as a destination end to end: ``tikrelay tiktok-auth`` against the emulated TikTok
(the printed URL opened, the redirect pasted), then ``tikrelay run --once`` publishing a
creator's posts to the account through the Content Posting API emulator, once; the tokens never
in clear in the database or the output; and kill -9 in the middle of an upload, then a run that
resumes it: one post, no duplicate."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.relayed import TOKEN, Relayed
from tests.support.tiktok_posting import (
    authorize_with_cli,
    posting_env,
    posting_settings,
)
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator

ACCOUNT = "me"


@pytest.fixture
def posting() -> Iterator[TikTokPostingEmulator]:
    with TikTokPostingEmulator().running() as emulator:
        emulator.add_account("relay_account")
        emulator.state.processing_fetches = 0  # done at the first status fetch
        yield emulator


def publishing(relayed: Relayed, posting: TikTokPostingEmulator, **tiktok: object) -> None:
    relayed.destinations = {"mirror": {"tiktok": {"account": ACCOUNT, **tiktok}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["mirror"]}]
    relayed.extra = {"tiktok_app": posting_settings(posting)}
    relayed.env = posting_env()


def database_file(relayed: Relayed) -> Path:
    return relayed.folder / "state" / "tikrelay.sqlite3"


def database_bytes(relayed: Relayed) -> bytes:
    """The SQLite file and its write-ahead log, as they lie on disk."""
    files = list(database_file(relayed).parent.glob("tikrelay.sqlite3*"))
    assert database_file(relayed) in files
    return b"".join(p.read_bytes() for p in files)


def test_tiktok_auth_then_run_publishes_each_post_once_and_never_shows_a_token(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    world = relayed.world
    world.add_creator("alice")
    video = world.add_video("alice", desc="first light #sunrise", at=1_700_000_000)
    world.add_slideshow("alice", images=("jpeg", "jpeg"), desc="two slides", at=1_700_000_600)
    publishing(relayed, posting, mode="direct")

    shown, errors = authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    assert "tiktok.com" not in shown  # the emulator's own authorization page
    assert posting.auth_url in shown
    assert f"authorized TikTok account {ACCOUNT!r}" in shown

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 new deliveries, 2 delivered" in result.stdout
    published = posting.published
    assert len(published) == 2
    assert {p.mode for p in published} == {"direct"}
    assert {p.post_info["privacy_level"] for p in published} == {"SELF_ONLY"}  # most private
    titles = sorted(p.title for p in published)
    assert titles == [
        "first light #sunrise\n\n🎥 @alice on TikTok",
        "two slides\n\n🎥 @alice on TikTok",
    ]
    # The video went as the MP4 the media layer prepared, byte for byte.
    prepared = list((relayed.folder / "state").rglob(f"{video.id}/telegram/*.telegram.mp4"))
    assert len(prepared) == 1
    sent = next(p for p in published if p.title.startswith("first light"))
    assert sent.sha256 == hashlib.sha256(prepared[0].read_bytes()).hexdigest()

    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(posting.published) == 2
    timeline = relayed.newest_timeline("publish")
    assert "TIKTOK_PUBLISHED" in timeline

    # No token in clear: not in the database file, the commands' output or a timeline.
    assert posting.state.issued
    stored = database_bytes(relayed)
    said = shown + errors + result.stdout + result.stderr + again.stdout + again.stderr + timeline
    for token in posting.state.issued:
        assert token.encode() not in stored
        assert token not in said
    with sqlite3.connect(database_file(relayed)) as db:
        (sealed,) = db.execute("SELECT tokens FROM tiktok_accounts").fetchone()
    assert sealed.startswith("gAAAA")  # a Fernet token


def test_a_run_without_the_secret_key_says_which_variable_to_set(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    relayed.world.add_creator("alice")
    publishing(relayed, posting)
    relayed.env = {k: v for k, v in posting_env().items() if k != "TIKRELAY_SECRET_KEY"}
    result = relayed.run()
    assert result.returncode == 2
    assert "TIKRELAY_SECRET_KEY" in result.stderr


def big_video(folder: Path) -> Path:
    """A 3-second H.264 clip of about 24 MB (constant bitrate with filler): two chunks."""
    out = folder / "big.mp4"
    subprocess.run(
        [
            str(ffmpeg_path(None)),
            *["-v", "error", "-y", "-f", "lavfi"],
            *["-i", "testsrc2=size=640x360:rate=30:duration=3", "-c:v", "libx264"],
            *["-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "64M", "-minrate", "64M"],
            *["-maxrate", "64M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr"],
            *["-movflags", "+faststart"],
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out


def test_kill_9_in_the_middle_of_an_upload_then_a_run_resumes_it_one_post(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="big one", file=big_video(relayed.folder))
    publishing(relayed, posting)  # inbox
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)

    posting.hold_chunk = 1  # the second chunk's request is taken in and never answered
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, **relayed.env}
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(relayed.config)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not posting.held.wait(0.1):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the upload never reached its second chunk"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    posting.hold_chunk = None
    posting.release()

    [upload] = posting.uploads
    assert upload.next_chunk == 1
    assert upload.total_chunk_count == 2
    with sqlite3.connect(database_file(relayed)) as db:
        row = db.execute("SELECT publish_id, next_chunk, status FROM tiktok_uploads").fetchone()
    assert row == (upload.publish_id, 1, "uploading")

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 delivered" in result.stdout
    # The same upload went on from its second chunk: no new initialization, chunk 0 once.
    assert len(posting.uploads) == 1
    assert upload.ranges[0].startswith("bytes 0-")
    assert len(upload.ranges) == 2
    [post] = posting.published
    assert post.mode == "inbox"
    assert post.size == upload.video_size
    assert "TIKTOK_UPLOAD_RESUMED" in relayed.newest_timeline("publish")

    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(posting.published) == 1


def test_a_tiktok_destination_keeps_its_schedule(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """A window that opens in two hours: nothing is uploaded, the run succeeds and says the post
    waits for its slot."""
    from datetime import UTC, datetime, timedelta

    relayed.world.add_creator("alice", videos=1)
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=2), now + timedelta(hours=3)
    publishing(relayed, posting, mode="inbox")
    relayed.destinations["mirror"]["schedule"] = {
        "hours": f"{start:%H:%M}-{end:%H:%M}",
        "tz": "UTC",
    }
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 post waits for its slot in a destination's schedule" in result.stdout
    assert posting.published == []
    assert posting.state.uploads == {}
