"""``tikrelay serve``: polls each source on its schedule and delivers until stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import select

from tests.support.processes import wait_until
from tests.support.relayed import TOKEN, Relayed
from tikrelay.config import load_settings
from tikrelay.store import open_engine
from tikrelay.store.tables import schedules


def test_serve_delivers_new_posts_on_the_poll_schedule_until_stopped(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    # Every 1.2 s, so the test sees a second poll; the default is 15 minutes.
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"], "every_minutes": 0.02}]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tikrelay", "serve", "--config", str(relayed.config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(telegram.messages(channel.id)) == 1, 30, proc)
        world.add_video("alice", desc="fresh")
        wait_until(lambda: len(telegram.messages(channel.id)) == 2, 30, proc)
        assert telegram.messages(channel.id)[-1]["caption"].startswith("fresh")
        feed_reads = len(world.requests(path="/api/creator/item_list/"))
        wait_until(
            lambda: len(world.requests(path="/api/creator/item_list/")) > feed_reads, 30, proc
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "delivered tiktok:" in out  # plain progress lines when not in a terminal
    assert "2 delivered, 0 failed or waiting" in out  # and the summary at the end
    assert len(telegram.messages(channel.id)) == 2  # polled again and again: nothing twice
    # The hourly housekeeping is on the schedule: the media cache and the jobs' retention.
    engine = open_engine(load_settings(relayed.config))
    with engine.connect() as conn:
        hourly = dict(conn.execute(select(schedules.c.name, schedules.c.interval_seconds)).all())
    engine.dispose()
    assert hourly["prune_media"] == hourly["prune_jobs"] == 3600
