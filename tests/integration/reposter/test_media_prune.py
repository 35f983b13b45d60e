"""The media cache keeps what a waiting or running delivery needs, and what a job holds."""

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
