"""kill -9 of the bot at random moments while people's requests are in flight (Telegram answering
each send late): after a restart every request is answered, and at most one twice (the send
intents' one blind spot, docs/reposting.md#exactly-once); a message is one request however often
its update is handled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy import select

from tests.support.processes import running_bot, wait_until
from tests.support.relayed import TOKEN, Relayed
from tikrelay.config import load_settings
from tikrelay.store import open_engine
from tikrelay.store.tables import jobs

PEOPLE, LINKS_EACH, KILLS = 4, 3, 6


def test_kill_9_while_requests_are_in_flight_loses_none(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    world.add_creator("alice")
    chats = []
    for n in range(PEOPLE):
        person = telegram.add_user(f"Person {n}")
        chats.append(telegram.add_chat("private", person=person))
    expected: dict[int, set[str]] = {}
    for chat in chats:
        for k in range(LINKS_EACH):
            post = world.add_video("alice", desc=f"for {chat.id} #{k}")
            telegram.user_message(chat.id, post.url)
            expected.setdefault(chat.id, set()).add(f"for {chat.id} #{k}")
    for nth in range(1, 200):
        telegram.delay_call("sendVideo", nth=nth, seconds=0.3)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    command = [sys.executable, "-m", "tikrelay", "bot", "--config", str(relayed.config)]

    rng = random.Random(20261204)
    for _ in range(KILLS):
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait(timeout=rng.uniform(0.8, 3.0))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def answered() -> dict[int, Counter[str]]:
        return {
            chat.id: Counter(
                m["caption"].split("\n")[0]
                for m in telegram.messages(chat.id)
                if "video" in m and m.get("caption")
            )
            for chat in chats
        }

    def statuses() -> list[str]:
        engine = open_engine(load_settings(relayed.config))
        try:
            with engine.connect() as conn:
                query = select(jobs.c.status).where(jobs.c.kind == "request")
                return [str(status) for status in conn.execute(query).scalars()]
        finally:
            engine.dispose()

    with running_bot(relayed) as proc:
        wait_until(lambda: all(set(answered()[c]) >= expected[c] for c in expected), 120, proc)
        # A request whose video went out just before a kill -9 is answered, but its job is
        # still RUNNING under the dead process's lease: the bot takes it back once the lease
        # runs out (jobs.lease_seconds, 30 s), finds it sent and completes it.
        wait_until(lambda: set(statuses()) == {"COMPLETED"}, 90, proc)
    got = answered()
    for chat_id, wanted in expected.items():
        assert set(got[chat_id]) == wanted, (chat_id, got[chat_id])
    duplicates = sum(count - 1 for counts in got.values() for count in counts.values())
    assert duplicates <= 1, got
    # Nothing failed for good, nothing still waits.
    listed = relayed.run(
        "jobs", "list", "--kind", "request", "-n", "100", "--config", str(relayed.config)
    )
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == PEOPLE * LINKS_EACH, listed.stdout
    assert all("COMPLETED" in row for row in rows), listed.stdout
