"""The media cache keeps what a waiting or running job needs, and what a job holds; it stays
within its size budget, least recently used first."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import DeliverySettings, Settings
from tikrelay.reposter import media_cache
from tikrelay.store import NewJob, open_queue


def post_folder(paths: StatePaths, post_id: str, age_hours: float) -> Path:
    folder = paths.post_media("tiktok", post_id)
    (folder / "source").mkdir(parents=True)
    video = folder / "source" / "video.mp4"
    video.write_bytes(b"x")
    old = time.time() - age_hours * 3600
    os.utime(video, (old, old))
    return folder


def test_prune_keeps_busy_recent_and_locked_posts(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, delivery=DeliverySettings(keep_media_hours=24))
    paths = StatePaths(tmp_path)
    queue = open_queue(settings)
    try:
        queue.enqueue(NewJob(kind="deliver", payload={"post": "tiktok:1"}, max_attempts=3))
        busy = post_folder(paths, "1", age_hours=48)  # a delivery still waits for it
        recent = post_folder(paths, "2", age_hours=1)
        held = post_folder(paths, "3", age_hours=48)
        old = post_folder(paths, "4", age_hours=48)
        with media_cache.locked(held):  # a job is preparing it right now
            assert media_cache.prune(settings, queue, ["deliver"]) == 1
        assert [busy.exists(), recent.exists(), held.exists(), old.exists()] == [
            True,
            True,
            True,
            False,
        ]
    finally:
        queue.engine.dispose()


def sized_folder(paths: StatePaths, post_id: str, age_hours: float, size: int) -> Path:
    folder = post_folder(paths, post_id, age_hours)
    video = folder / "source" / "video.mp4"
    video.write_bytes(b"x" * size)
    old = time.time() - age_hours * 3600
    os.utime(video, (old, old))
    return folder


def test_over_the_size_budget_the_least_recently_used_go_first_but_never_a_busy_one(
    tmp_path: Path,
) -> None:
    # A budget of 2.5 kB, four posts of 1 kB each, none old enough to go by age.
    delivery = DeliverySettings(keep_media_hours=24, cache_max_gb=2500 / 1000**3)
    settings = Settings(state_dir=tmp_path, delivery=delivery)
    paths = StatePaths(tmp_path)
    queue = open_queue(settings)
    try:
        queue.enqueue(NewJob(kind="archive", payload={"post": "tiktok:1"}, max_attempts=3))
        oldest_busy = sized_folder(paths, "1", age_hours=4, size=1000)
        older = sized_folder(paths, "2", age_hours=3, size=1000)
        newer = sized_folder(paths, "3", age_hours=2, size=1000)
        newest = sized_folder(paths, "4", age_hours=1, size=1000)

        assert media_cache.prune(settings, queue, ["deliver", "archive"]) == 2

        assert [oldest_busy.exists(), older.exists(), newer.exists(), newest.exists()] == [
            True,  # an archive job still waits for it
            False,
            False,
            True,  # 2 kB left: within the budget
        ]
    finally:
        queue.engine.dispose()
