"""Clean-up never takes what an unfinished job needs: the media cache is pruned over and over, with
no age and a budget of one byte, while a run delivers to a slow chat and archives; every post
still arrives once, and its archive is whole."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from tests.support.relayed import TOKEN, Relayed
from tikrelay.config import load_settings
from tikrelay.reposter import media_cache
from tikrelay.reposter.model import MEDIA_KINDS
from tikrelay.store import open_queue

POSTS = 6


def test_pruning_while_jobs_run_removes_only_what_no_job_needs(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    start = int(time.time()) - 3600
    for n in range(POSTS):
        world.add_video("alice", desc=f"post {n}", at=start + n * 60)
    for nth in range(1, 50):  # a slow chat: later posts wait while earlier ones are done
        telegram.delay_call("sendVideo", nth=nth, seconds=0.4)
    vault = relayed.folder / "vault"
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}, "archive_to": "vault"},
        "vault": {"archive": {"path": str(vault)}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"delivery": {"keep_media_hours": 0, "cache_max_gb": 1e-9}}
    config = relayed.config
    settings = load_settings(config)
    queue = open_queue(settings)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(config)]

    removed_during_run = 0
    done = threading.Event()

    def prune_all_the_time() -> None:
        nonlocal removed_during_run
        while not done.is_set():
            removed_during_run += media_cache.prune(settings, queue, MEDIA_KINDS)
            time.sleep(0.01)

    pruner = threading.Thread(target=prune_all_the_time)
    try:
        pruner.start()
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    finally:
        done.set()
        pruner.join()
        queue.engine.dispose()

    assert run.returncode == 0, run.stdout + run.stderr
    assert removed_during_run > 0, "the clean-up never ran beside a job"
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == [f"post {n}" for n in range(POSTS)]
    archived = sorted(p.parent.name for p in vault.rglob("metadata.json"))
    assert len(archived) == POSTS
    assert len(list(vault.rglob("video.mp4"))) == POSTS
