"""Destinations' posting schedules through the real pipeline and both emulators: a backlog drips
out within the rules (oldest first across sources), fixed slots across a simulated week, the
catch-up digest, ``run --once`` reporting what waits (exit 0), and ``serve`` sending each post at
its slot.

The runs that need a controllable clock are the runtime's own ``run_once`` (what ``tikrelay run
--once`` calls) with a clock the test moves; the others are the real command."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support.jobs_db import FakeClock
from tests.support.processes import wait_until
from tests.support.relayed import TOKEN, Relayed
from tikrelay.config import load_settings
from tikrelay.runtime.app import Runtime
from tikrelay.sandbox.tiktok.model import Post
from tikrelay.store import open_engine
from tikrelay.store.reports import RunSummary
from tikrelay.store.tables import deliveries

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """December ``day``, 2026 (the 7th is a Monday), ``hour:minute`` in Berlin, in UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


class Scheduled:
    """The reposter's runs at moments the test chooses."""

    def __init__(self, relayed: Relayed, clock: FakeClock) -> None:
        self.relayed = relayed
        self.clock = clock

    def run_at(self, moment: datetime) -> RunSummary:
        self.clock.now = moment
        settings = load_settings(self.relayed.config)
        with Runtime.open(settings, clock=self.clock) as runtime:
            return runtime.run_once()

    def captions(self, chat_id: int) -> list[str]:
        """The first line of each post's caption (or text) in the chat, in order."""
        found = []
        for message in self.relayed.telegram.messages(chat_id):
            text = message.get("caption") or message.get("text") or ""
            found.append(text.split("\n")[0])
        return found


@pytest.fixture
def scheduled(relayed: Relayed, monkeypatch: pytest.MonkeyPatch) -> Scheduled:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    # A slot within drain_wait_seconds would be waited for in real time; these runs never wait.
    relayed.extra = {"jobs": {"drain_wait_seconds": 0.2}}
    return Scheduled(relayed, FakeClock())


def chat(relayed: Relayed, name: str, schedule: dict[str, Any], **extra: Any) -> int:
    found = relayed.telegram.add_chat("channel", title=name, username=f"s_{name}")
    relayed.destinations[name] = {
        "telegram": {"chat_id": found.id},
        "schedule": {"tz": "Europe/Berlin", **schedule},
        **extra,
    }
    return found.id


def post(relayed: Relayed, creator: str, desc: str, at: datetime) -> Post:
    return relayed.world.add_video(creator, desc=desc, at=int(at.timestamp()))


def test_a_backlog_drips_out_oldest_first_within_the_rules(scheduled: Scheduled) -> None:
    relayed = scheduled.relayed
    main = chat(relayed, "main", {"max_per_hour": 2, "min_gap_minutes": 10, "hours": "08:00-22:00"})
    start = berlin(7, 9)
    for name in ("alice", "bob"):
        relayed.world.add_creator(name)
        relayed.sources.append({"tiktok": f"@{name}", "to": ["main"]})
    # Published across both sources: oldest first is a1, b1, a2, b2, a3.
    for hours, creator, desc in [
        (5, "alice", "a1"),
        (4, "bob", "b1"),
        (3, "alice", "a2"),
        (2, "bob", "b2"),
        (1, "alice", "a3"),
    ]:
        post(relayed, creator, desc, start - timedelta(hours=hours))
    # Before the window opens: everything waits, nothing failed, the next slot is 08:00.
    early = scheduled.run_at(berlin(7, 7))
    assert early.ok
    assert early.delivered == 0
    assert early.scheduled == 5
    assert early.next_slot == berlin(7, 8)
    expected = [
        (berlin(7, 8), ["a1"], berlin(7, 8, 10)),  # then min_gap_minutes
        (berlin(7, 8, 10), ["a1", "b1"], berlin(7, 9)),  # then two in the last 60 minutes
        (berlin(7, 8, 30), ["a1", "b1"], berlin(7, 9)),  # nothing is due between slots
        (berlin(7, 9), ["a1", "b1", "a2"], berlin(7, 9, 10)),
        (berlin(7, 9, 10), ["a1", "b1", "a2", "b2"], berlin(7, 10)),
        (berlin(7, 10), ["a1", "b1", "a2", "b2", "a3"], None),
    ]
    for moment, sent, following in expected:
        summary = scheduled.run_at(moment)
        assert summary.ok
        assert scheduled.captions(main) == sent, moment
        assert summary.next_slot == following, moment
        assert summary.scheduled == 5 - len(sent)


def test_max_per_day_counts_the_calendar_day_in_the_zone(scheduled: Scheduled) -> None:
    """Two a day in Berlin: the third post waits for Berlin's midnight (23:00 UTC), and a day
    with days: [mon-fri] skips the weekend."""
    relayed = scheduled.relayed
    main = chat(relayed, "main", {"max_per_day": 2, "days": ["mon-fri"]})
    relayed.world.add_creator("alice")
    relayed.sources.append({"tiktok": "@alice", "to": ["main"]})
    for n in range(5):
        post(relayed, "alice", f"d{n}", berlin(10, 9) + timedelta(minutes=n))
    summary = scheduled.run_at(berlin(10, 12))  # Thursday
    assert scheduled.captions(main) == ["d0", "d1"]
    assert summary.scheduled == 3
    assert summary.next_slot == berlin(11, 0)
    assert summary.next_slot == datetime(2026, 12, 10, 23, 0, tzinfo=UTC)
    scheduled.run_at(berlin(10, 23, 59))  # still Thursday in Berlin: nothing more
    assert len(scheduled.captions(main)) == 2
    summary = scheduled.run_at(berlin(11, 0))  # Friday
    assert scheduled.captions(main) == ["d0", "d1", "d2", "d3"]
    assert summary.next_slot == berlin(14, 0)  # Saturday and Sunday are not posting days
    scheduled.run_at(berlin(14, 0))
    assert scheduled.captions(main) == [f"d{n}" for n in range(5)]


def test_fixed_slots_across_a_simulated_week(scheduled: Scheduled) -> None:
    """Slots at 09:00 and 19:00 on Monday, Wednesday and Friday: a backlog of seven, checked
    slot by slot through a week; a run between slots sends nothing, and slots missed while
    nothing ran are not made up for."""
    relayed = scheduled.relayed
    main = chat(relayed, "main", {"at": ["09:00", "19:00"], "days": ["mon", "wed", "fri"]})
    relayed.world.add_creator("alice")
    relayed.sources.append({"tiktok": "@alice", "to": ["main"]})
    for n in range(7):
        post(relayed, "alice", f"p{n}", berlin(6, 10) + timedelta(minutes=n))
    summary = scheduled.run_at(berlin(7, 0, 5))  # Monday just after midnight
    assert summary.scheduled == 7
    assert summary.next_slot == berlin(7, 9)
    slots = [berlin(7, 9), berlin(7, 19), berlin(9, 9), berlin(9, 19), berlin(11, 9)]
    for index, slot in enumerate(slots):
        between = scheduled.run_at(slot - timedelta(hours=2))  # before each slot: nothing
        assert len(scheduled.captions(main)) == index
        assert between.next_slot == slot
        summary = scheduled.run_at(slot)
        assert scheduled.captions(main) == [f"p{n}" for n in range(index + 1)]
        assert summary.ok
    # Nothing runs from Friday 09:00 until Monday 10:00: Friday 19:00 is gone, Monday's 09:00
    # is taken late (the day's latest slot), and the last post waits for Monday 19:00.
    summary = scheduled.run_at(berlin(14, 10))
    assert scheduled.captions(main)[-1] == "p5"
    assert summary.scheduled == 1
    assert summary.next_slot == berlin(14, 19)
    scheduled.run_at(berlin(14, 19))
    assert scheduled.captions(main) == [f"p{n}" for n in range(7)]


def test_catch_up_digest_lists_the_old_posts_in_one_message(scheduled: Scheduled) -> None:
    """Posts too old for their turn are listed in one message, the source's filters applied
    (a filtered post is in no digest); each is recorded delivered, none is sent again."""
    relayed = scheduled.relayed
    main = chat(
        relayed, "main", {"max_per_hour": 10, "catch_up": "digest", "catch_up_after_hours": 12}
    )
    relayed.world.add_creator("alice")
    relayed.sources.append({"tiktok": "@alice", "to": ["main"], "filters": {"exclude": ["#ad"]}})
    now = berlin(7, 12)
    old = [post(relayed, "alice", f"old{n}", now - timedelta(days=4 - n)) for n in (1, 2, 3)]
    post(relayed, "alice", "old sponsored #ad", now - timedelta(days=2, hours=12))
    fresh = post(relayed, "alice", "fresh", now - timedelta(hours=1))
    summary = scheduled.run_at(now)
    assert summary.ok
    assert summary.scheduled == 0
    messages = relayed.telegram.messages(main)
    captions = [m.get("caption", "").split("\n")[0] for m in messages if "caption" in m]
    assert captions == ["fresh"]
    digests = [m["text"] for m in messages if "text" in m]
    assert len(digests) == 1
    lines = digests[0].split("\n")
    assert lines[0] == "Missed while away: 3 posts"
    for index, found in enumerate(old):  # oldest first, each with its author, date and link
        day = 4 + index
        assert lines[index + 1].startswith(f"• @alice, 2026-12-0{day} 12:00: https://")
        assert lines[index + 1].endswith(f"/video/{found.id}")
    # Each post is delivered, the old ones by the digest: the next runs send none again.
    scheduled.run_at(now + timedelta(hours=1))
    assert len(relayed.telegram.messages(main)) == 2
    engine = open_engine(load_settings(relayed.config))
    with engine.connect() as conn:
        rows = dict(conn.execute(select(deliveries.c.post_key, deliveries.c.message_ids)).all())
    engine.dispose()
    digest_id = next(m["message_id"] for m in messages if "text" in m)
    video_id = next(m["message_id"] for m in messages if "caption" in m)
    assert rows == {
        **{f"tiktok:{found.id}": [digest_id] for found in old},
        f"tiktok:{fresh.id}": [video_id],
    }  # the #ad post: kept out by the source's filters, in no digest either


def test_run_once_says_what_waits_for_its_slot_and_exits_0(relayed: Relayed) -> None:
    """The real command: a window that opens in two hours holds every post back; the run is a
    success that says how many wait and when the next slot is."""
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=2), now + timedelta(hours=3)
    channel = relayed.telegram.add_chat("channel", title="Later", username="later")
    relayed.destinations = {
        "later": {
            "telegram": {"chat_id": channel.id},
            "schedule": {"hours": f"{start:%H:%M}-{end:%H:%M}", "tz": "UTC"},
        }
    }
    relayed.world.add_creator("alice", videos=2)
    relayed.sources = [{"tiktok": "@alice", "to": ["later"]}]
    done = relayed.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 delivered, 0 failed or waiting" in done.stdout
    slot = start.replace(second=0, microsecond=0).astimezone()
    assert (
        f"2 posts wait for their slot in a destination's schedule; the next slot is at "
        f"{slot:%Y-%m-%d %H:%M %Z}" in done.stdout
    )
    assert relayed.telegram.messages(channel.id) == []
    timeline = relayed.newest_timeline("deliver")
    assert "JOB_DEFERRED" in timeline
    assert "waits for its slot at" in timeline


def test_serve_sends_each_post_at_its_slot(relayed: Relayed) -> None:
    channel = relayed.telegram.add_chat("channel", title="Drip", username="drip")
    relayed.destinations = {
        "drip": {"telegram": {"chat_id": channel.id}, "schedule": {"min_gap_minutes": 0.05}}
    }
    relayed.world.add_creator("alice", videos=3)
    relayed.sources = [{"tiktok": "@alice", "to": ["drip"]}]
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tikrelay", "serve", "--config", str(relayed.config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(relayed.telegram.messages(channel.id)) == 3, 60, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    engine = open_engine(load_settings(relayed.config))
    with engine.connect() as conn:
        sent = sorted(conn.execute(select(deliveries.c.delivered_at)).scalars())
    engine.dispose()
    assert len(sent) == 3
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
    assert all(gap >= 3.0 for gap in gaps), gaps
