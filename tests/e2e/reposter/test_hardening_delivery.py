"""Delivery under bad moments: a day-long flood wait, a 5xx on an older post, a full disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.relayed import Relayed
from tikrelay.media.probe import probe


def test_a_day_long_flood_wait_is_scheduled_and_the_cron_run_exits_3_at_once(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    telegram.fail_call("sendVideo", nth=1, status=429, parameters={"retry_after": 86400})
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    # Before: the run sat out the wait until the job's 30-minute time limit.
    result = relayed.run(timeout=90)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "2 new deliveries, 0 delivered, 2 failed or waiting" in result.stdout
    waiting = [line for line in result.stdout.splitlines() if line.startswith("post ")]
    assert len(waiting) == 2
    assert all(" will retry: " in line for line in waiting)
    assert "retry after 86400 s (the chat may be used again at " in waiting[0]
    # Telegram was asked once: the chat's second post waited without another 429.
    assert [r.status for r in telegram.calls("sendVideo")] == [429]
    assert telegram.messages(channel.id) == []


def test_after_a_5xx_on_an_older_post_the_newer_one_waits_for_it(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=3)
    telegram.fail_call("sendVideo", nth=1, status=500)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    # The retry comes due within the run's drain wait: the run waits for it.
    relayed.extra = {"jobs": {"retry_base_seconds": 1, "drain_wait_seconds": 15}}

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 new deliveries, 3 delivered, 0 failed or waiting" in result.stdout
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    # Before: the newer posts went out while the oldest waited for its retry.
    assert captions == ["seeded video 1", "seeded video 2", "seeded video 3"]
    assert [r.status for r in telegram.calls("sendVideo")] == [500, 200, 200, 200]


@contextmanager
def small_disk(folder: Path, leave: int) -> Iterator[Path]:
    """A 4 MB tmpfs mounted on ``folder``, filled but ``leave`` bytes; yields the filler."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a tmpfs needs root and mount(8) (CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([mount, "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=True)
    try:
        filler = folder / "filler"
        with filler.open("wb") as out:
            out.write(b"\0" * max(shutil.disk_usage(folder).free - leave, 0))
        yield filler
    finally:
        subprocess.run([umount, "-l", str(folder)], check=True)


def full_disk_case(relayed: Relayed) -> Path:
    """A channel that got alice's first post; four more posted since. The state folder."""
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    first = relayed.run()  # the database, the creator's secUid, the CA bundle
    assert first.returncode == 0, first.stdout + first.stderr
    for index in range(2, 6):
        world.add_video("alice", desc=f"seeded video {index}")
    return relayed.folder / "state"


def assert_one_clear_line(result: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: no space left on the disk of {folder} ("), (
        result.stderr
    )
    assert "tikrelay needs at least 120.9 MB free there" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # no traceback, no task warning


def assert_everything_arrives_once(relayed: Relayed) -> None:
    freed = relayed.run()
    assert freed.returncode == 0, freed.stdout + freed.stderr
    channel = relayed.destinations["clips"]["telegram"]["chat_id"]
    captions = [m["caption"].split("\n")[0] for m in relayed.telegram.messages(channel)]
    assert captions == [f"seeded video {i}" for i in range(1, 6)]  # each once, in order


def test_a_full_media_disk_gives_the_jobs_back_and_removes_partial_downloads(
    relayed: Relayed,
) -> None:
    state = full_disk_case(relayed)
    media = state / "media"
    # Room for about one post: the disk fills while the others download.
    with small_disk(media, leave=120_000) as filler:
        full = relayed.run()
        assert_one_clear_line(full, media)
        assert not list(media.rglob("*.part*")), "partial downloads are removed"
        jobs = relayed.run("jobs", "list", "--kind", "deliver", "--config", str(relayed.config))
        assert "RUNNING" not in jobs.stdout, jobs.stdout  # given back, not left running
        assert "PENDING" in jobs.stdout or "QUEUED" in jobs.stdout, jobs.stdout
        again = relayed.run()  # still full: the same one line, not a crash
        assert_one_clear_line(again, media)
        filler.unlink()
        assert_everything_arrives_once(relayed)


def test_a_full_disk_under_the_database_ends_the_run_cleanly_and_loses_nothing(
    relayed: Relayed,
) -> None:
    state = relayed.folder / "small"
    relayed.extra = {"state_dir": str(state / "state")}
    with small_disk(state, leave=3_500_000) as filler:
        full_disk_case(relayed)
        filler.write_bytes(filler.read_bytes() + b"\0" * (shutil.disk_usage(state).free - 150_000))
        full = relayed.run()
        assert_one_clear_line(full, state / "state")
        filler.unlink()
        assert_everything_arrives_once(relayed)


def test_the_users_cookie_file_is_only_read_by_a_run(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    world.add_slideshow("alice", images=("jpeg", "webp"), desc="two")
    cookies = relayed.folder / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n.tiktok.com\tTRUE\t/\tTRUE\t2147483647\tsid_tt\tsession-one\n"
    )
    cookies.chmod(0o600)
    os.utime(cookies, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = (cookies.read_bytes(), cookies.stat().st_mtime_ns)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    ca = str(relayed.folder / "tiktok-ca.pem")  # written by relayed.config
    network = {"proxies": [relayed.tiktok.proxy_url], "ca_bundle": ca, "cookies_file": str(cookies)}
    relayed.extra = {"network": network}

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 new deliveries, 3 delivered" in result.stdout
    assert (cookies.read_bytes(), cookies.stat().st_mtime_ns) == before
    jar = relayed.folder / "state" / "cookies.txt"
    assert jar.stat().st_mode & 0o777 == 0o600
    kept = jar.read_text()
    assert "sid_tt\tsession-one" in kept
    assert "tt_chain_token" in kept  # the cookie TikTok set is kept
    assert all("sid_tt" in r.cookies for r in world.requests(host="www.tiktok.com"))


def test_a_video_without_sound_is_sent_and_its_timeline_says_so(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    world.add_video("alice", desc="quiet", silent=True)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]

    result = relayed.run()
    assert result.returncode == 0, result.stdout + result.stderr
    [message] = telegram.messages(channel.id)
    assert message["caption"].startswith("quiet")
    assert probe(telegram.file_path(message["video"]["file_id"])).audio_codec is None
    shown = relayed.newest_timeline("deliver")
    assert "VIDEO_WITHOUT_SOUND" in shown, shown
    assert "VIDEO_PREPARED" in shown, shown  # remuxed: no reasons
