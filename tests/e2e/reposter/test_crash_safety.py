"""kill -9 at random moments, run after run, with a slow Telegram: no post is lost, and at most
one is sent twice (docs/reposting.md explains which one can be, and why)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from tests.support.relayed import TOKEN, Relayed

VIDEOS, SLIDESHOWS, SLIDES = 16, 4, 3
KILLED_RUNS = 20


def test_kill_9_at_random_moments_loses_nothing(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    start = int(time.time()) - 3600  # an hour ago, a minute apart
    for n in range(1, VIDEOS + SLIDESHOWS + 1):
        if n % 5 == 0:
            world.add_slideshow(
                "alice", images=("jpeg",) * SLIDES, desc=f"post {n}", at=start + n * 60
            )
        else:
            world.add_video("alice", desc=f"post {n}", at=start + n * 60)
    # Telegram carries out each send at once but answers only later: the widest window between
    # "Telegram accepted it" and "tikrelay recorded it", where a kill hurts most.
    for method in ("sendVideo", "sendMediaGroup", "sendAudio"):
        for nth in range(1, 400):
            telegram.delay_call(method, nth=nth, seconds=0.5)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"], "depth": 20}]
    config = str(relayed.config)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", config]

    rng = random.Random(20261122)
    killed = finished = 0
    while killed < KILLED_RUNS:
        assert killed + finished < 10 * KILLED_RUNS, "runs keep finishing before the kill"
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait(timeout=rng.uniform(0.4, 3.0))
            finished += 1
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1

    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "0 failed or waiting" in final.stdout
    # A run's summary tells what failed in that run: no earlier, killed run failed a post either.
    failed = relayed.run("jobs", "list", "--status", "FAILED", "--config", config)
    assert failed.stdout.splitlines()[1:] == [], failed.stdout

    messages = telegram.messages(channel.id)
    captions = Counter(m["caption"].split("\n")[0] for m in messages if m.get("caption"))
    expected = {f"post {n}" for n in range(1, VIDEOS + SLIDESHOWS + 1)}
    assert expected - set(captions) == set(), "lost posts"
    kinds = Counter(next(k for k in ("video", "photo", "audio") if k in m) for m in messages)
    duplicates = (
        (kinds["video"] - VIDEOS)
        + (kinds["photo"] - SLIDESHOWS * SLIDES)
        + (kinds["audio"] - SLIDESHOWS)
    )
    assert min(kinds["video"] - VIDEOS, kinds["photo"] - SLIDESHOWS * SLIDES) >= 0
    assert duplicates <= 1, (killed, finished, kinds, captions)
    # Posts of one creator arrive in order, whatever was killed where.
    firsts = [m["caption"].split("\n")[0] for m in messages if m.get("caption")]
    order = [int(c.split()[1]) for c in dict.fromkeys(firsts)]
    assert order == sorted(order)
    print(f"killed {killed} runs, {finished} finished; duplicates {duplicates}")
