"""The publish job's recovery branches end to end, the real ``tikrelay run --once`` against the
Content Posting API emulator: TikTok's FAILED answered by a new upload; kill -9 mid-upload, then
the upload URL expired (TikTok's clock past the hour), answered by a new upload; kill -9 after
TikTok took the last chunk and before tikrelay heard of it, answered by recording the delivery.
Each ends with exactly one post, and a run after it adds none. A post that is only a sound is
refused, not retried, with its reason."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.e2e.reposter.test_tiktok_publish import (
    ACCOUNT,
    big_video,
    database_file,
    publishing,
)
from tests.support.relayed import TOKEN, Relayed
from tests.support.tiktok_posting import authorize_with_cli
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator
from tikrelay.sandbox.tiktok_posting.state import UPLOAD_LIFETIME


@pytest.fixture
def posting() -> Iterator[TikTokPostingEmulator]:
    with TikTokPostingEmulator().running() as emulator:
        emulator.add_account("relay_account")
        emulator.state.processing_fetches = 0  # done at the first status fetch
        yield emulator


def killed_when_held(relayed: Relayed, posting: TikTokPostingEmulator) -> None:
    """``tikrelay run --once`` started and killed with SIGKILL once the emulator holds the
    chunk it was told to (``hold_chunk`` or ``hold_reply``); the held request then let go."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, **relayed.env}
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(relayed.config)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not posting.held.wait(0.1):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the upload never reached the held chunk"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    posting.hold_chunk = posting.hold_reply = None
    posting.release()


def upload_row(relayed: Relayed) -> tuple[str, int, str]:
    with sqlite3.connect(database_file(relayed)) as db:
        rows = db.execute("SELECT publish_id, next_chunk, status FROM tiktok_uploads").fetchall()
    assert len(rows) == 1
    publish_id, next_chunk, status = rows[0]
    return str(publish_id), int(next_chunk), str(status)


def deliveries(relayed: Relayed) -> list[tuple[str, str]]:
    with sqlite3.connect(database_file(relayed)) as db:
        found = db.execute("SELECT destination, chat_id FROM deliveries").fetchall()
    return [(str(d), str(c)) for d, c in found]


def run_ok(relayed: Relayed) -> str:
    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_failed_processing_is_retried_with_a_new_upload_and_makes_one_post(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="fails once")
    publishing(relayed, posting)  # inbox
    # The retry comes due within the run's drain wait: the run waits for it.
    relayed.extra["jobs"] = {"retry_base_seconds": 1, "drain_wait_seconds": 30}
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.state.fail_processing = "file_format_check_failed"  # the first upload's only

    assert "1 delivered" in run_ok(relayed)
    first, second = posting.uploads
    assert first.failed == "file_format_check_failed"
    assert first.complete
    assert second.complete
    [post] = posting.published
    assert post.publish_id == second.publish_id
    assert upload_row(relayed) == (second.publish_id, 1, "done")
    assert deliveries(relayed) == [("mirror", f"tiktok:{ACCOUNT}")]
    timeline = relayed.newest_timeline("publish")
    assert "TIKTOK_PUBLISH_FAILED" in timeline
    assert "file_format_check_failed" in timeline

    assert "0 new deliveries" in run_ok(relayed)
    assert len(posting.published) == 1
    assert len(posting.uploads) == 2


def test_an_upload_whose_url_expired_after_a_crash_starts_anew_and_makes_one_post(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="big one", file=big_video(relayed.folder))
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)

    posting.hold_chunk = 1  # the second chunk's request is taken in and never answered
    killed_when_held(relayed, posting)
    [stale] = posting.uploads
    assert (stale.next_chunk, stale.total_chunk_count) == (1, 2)
    assert upload_row(relayed) == (stale.publish_id, 1, "uploading")
    # An hour and more later by TikTok's clock: the upload URL answers 403. tikrelay's own
    # clock says the upload is a minute old, so it tries the URL and learns it from TikTok.
    posting.state.offset += UPLOAD_LIFETIME + 60

    assert "1 delivered" in run_ok(relayed)
    stale_again, fresh = posting.uploads
    assert stale_again.publish_id == stale.publish_id
    assert stale.next_chunk == 1  # never whole: it can never become a post
    assert fresh.complete
    [post] = posting.published
    assert post.publish_id == fresh.publish_id
    assert post.size == fresh.video_size == stale.video_size
    assert upload_row(relayed) == (fresh.publish_id, 2, "done")
    timeline = relayed.newest_timeline("publish")
    assert "TIKTOK_UPLOAD_RESUMED" in timeline
    assert "no longer valid" in timeline

    assert "0 new deliveries" in run_ok(relayed)
    assert len(posting.published) == 1
    assert len(posting.uploads) == 2


def test_an_upload_tiktok_no_longer_knows_starts_anew_and_makes_one_post(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """After a crash, TikTok answers invalid_publish_id for the earlier upload: it never became
    a post, so a new upload starts at once (not a failed job)."""
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="big one", file=big_video(relayed.folder))
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)

    posting.hold_chunk = 1
    killed_when_held(relayed, posting)
    [stale] = posting.uploads
    posting.fail_next("status", "invalid_publish_id")

    assert "1 delivered" in run_ok(relayed)
    _, fresh = posting.uploads
    [post] = posting.published
    assert post.publish_id == fresh.publish_id != stale.publish_id
    assert upload_row(relayed) == (fresh.publish_id, 2, "done")
    assert "a new upload starts" in relayed.newest_timeline("publish")


def test_a_crash_after_tiktok_took_the_last_chunk_records_the_delivery_without_posting_again(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="small one")  # under 5 MB: one chunk
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)

    posting.hold_reply = 0  # TikTok takes the chunk; its answer never reaches tikrelay
    killed_when_held(relayed, posting)
    [upload] = posting.uploads
    [post] = posting.published  # the draft is in the inbox already
    assert post.publish_id == upload.publish_id
    assert upload_row(relayed) == (upload.publish_id, 0, "uploading")
    assert deliveries(relayed) == []

    assert "1 delivered" in run_ok(relayed)
    assert len(posting.published) == 1
    assert len(posting.uploads) == 1
    assert upload.ranges == [upload.ranges[0]]  # the chunk went once
    assert upload_row(relayed) == (upload.publish_id, 0, "done")
    assert deliveries(relayed) == [("mirror", f"tiktok:{ACCOUNT}")]
    timeline = relayed.newest_timeline("publish")
    assert timeline.count("TIKTOK_UPLOAD_STARTED") == 1  # the killed attempt's
    assert "TIKTOK_PUBLISHED" in timeline

    assert "0 new deliveries" in run_ok(relayed)
    assert len(posting.published) == 1


def test_a_crash_after_the_last_chunk_when_tiktok_does_not_say_how_much_it_has(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """TikTok's status leaves uploaded_bytes out while it processes: the upload may be whole,
    so the next run waits for its processing instead of sending again or starting anew."""
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="small one")
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.state.report_uploaded_bytes = False
    posting.state.processing_fetches = 2

    posting.hold_reply = 0
    killed_when_held(relayed, posting)
    [upload] = posting.uploads
    assert "1 delivered" in run_ok(relayed)
    assert len(posting.uploads) == 1
    assert len(posting.published) == 1
    assert upload.ranges == [upload.ranges[0]]  # the chunk went once
    assert "TIKTOK_UPLOAD_RESUMED" in relayed.newest_timeline("publish")


def test_a_post_that_is_only_a_sound_fails_at_once_with_its_reason(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """A ``url:`` source whose entry is a page with a sound and no video (PostKind.AUDIO)."""
    web = relayed.world.web
    feed = web.add_feed("tunes", title="Tunes")
    web.add_feed_item("tunes", web.add_page("hum", title="Hum", kind="audio"), title="Hum")
    publishing(relayed, posting)
    relayed.sources = [{"url": feed, "to": ["mirror"]}]
    relayed.extra["jobs"] = {"retry_base_seconds": 1, "drain_wait_seconds": 30}
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)

    result = relayed.run()
    assert "1 failed" in result.stdout, result.stdout + result.stderr
    assert posting.uploads == []
    assert ("POST", "/v2/post/publish/inbox/video/init/") not in posting.requests
    timeline = relayed.newest_timeline("publish")
    assert "a post that is only a sound is not published" in timeline
    listed = relayed.run("jobs", "list", "--kind", "publish", "--config", str(relayed.config))
    [job] = listed.stdout.splitlines()[1:]
    assert job.split()[2:4] == ["FAILED", "1/5"]  # one attempt: not retried
    assert "unsupported: TikTok takes videos" in job
    assert deliveries(relayed) == []


def test_an_authorization_tiktok_refuses_is_told_once_to_the_admins(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """The owner revoked the app: the publish fails (not retried), the admins' chat hears it
    once, with what to do, however many posts fail; a publish that works again closes it."""
    admins = relayed.telegram.add_chat("group", title="Admins")
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="first")
    publishing(relayed, posting)
    relayed.extra["notify"] = {"telegram_chat_id": admins.id}
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.state.refresh_tokens.clear()  # revoked by the account's owner
    posting.state.expire_access_tokens()

    first = relayed.run()
    assert first.returncode == 3, first.stdout + first.stderr
    relayed.world.add_video("alice", desc="second")
    second = relayed.run()
    assert second.returncode == 3, second.stdout + second.stderr
    told = [m["text"] for m in relayed.telegram.messages(admins.id)]
    assert len(told) == 1
    assert told[0].startswith(f"TikTok account {ACCOUNT} needs authorizing again")
    assert f"tikrelay tiktok-auth {ACCOUNT}" in told[0]
    assert posting.published == []

    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    relayed.world.add_video("alice", desc="third")
    assert "1 delivered" in run_ok(relayed)
    told = [m["text"] for m in relayed.telegram.messages(admins.id)]
    assert len(told) == 2
    assert told[1].startswith(f"TikTok account {ACCOUNT} publishes again")


def test_the_accounts_daily_cap_makes_the_post_wait_not_fail(
    relayed: Relayed, posting: TikTokPostingEmulator
) -> None:
    """TikTok says the account posted its day's worth: the post waits an hour (TikTok's cap is
    the account's, not the post's fault), its attempts not counted, and goes then."""
    relayed.world.add_creator("alice")
    relayed.world.add_video("alice", desc="one more")
    publishing(relayed, posting)
    authorize_with_cli(relayed.config, ACCOUNT, relayed.env)
    posting.fail_next("inbox_init", "spam_risk_too_many_posts", times=10)
    result = relayed.run()
    assert result.returncode == 3, result.stdout + result.stderr  # waits for a retry
    assert "will retry" in result.stdout
    assert "daily post cap" in result.stdout
    timeline = relayed.newest_timeline("publish")
    assert "JOB_DEFERRED" in timeline
    assert "JOB_FAILED" not in timeline
    assert "RETRY_SCHEDULED" not in timeline  # a wait, not a failed attempt
    listed = relayed.run("jobs", "list", "--kind", "publish", "--config", str(relayed.config))
    assert "PENDING" in listed.stdout
    assert posting.published == []
