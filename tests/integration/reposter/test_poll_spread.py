"""``serve``'s first polls: spread at most ten a second and over one interval at most, so that
thousands of sources are not one burst, while three sources poll at once."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tikrelay.config import load_settings
from tikrelay.reposter.jobs import START_RATE
from tikrelay.runtime.app import Runtime
from tikrelay.store.tables import schedules

TOKEN = "123456:SPREAD"


def first_polls(tmp_path: Path, creators: int, every_minutes: float) -> list[float]:
    """Seconds from now to each source's first poll, after ``serve`` scheduled them."""
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        telegram={"bot_token": TOKEN},
        destinations={"main": {"telegram": {"chat_id": -1001}}},
        sources=[
            {"tiktok": f"@spread_{n}", "to": ["main"], "every_minutes": every_minutes}
            for n in range(creators)
        ],
    )
    with Runtime.open(settings) as runtime:
        assert runtime.reposter is not None
        now: datetime = runtime.queue.clock()
        runtime.reposter.schedule_polls(random.Random(7))
        with runtime.queue.engine.connect() as conn:
            rows = conn.execute(
                select(schedules.c.next_run_at).where(schedules.c.kind == "poll")
            ).scalars()
            return sorted((at - now).total_seconds() for at in rows)


@pytest.mark.parametrize(
    ("creators", "every_minutes", "window"),
    [
        (3, 15, 3 / START_RATE),  # a few sources: at once
        (1_000, 15, 1_000 / START_RATE),  # ten a second
        (1_000, 1, 60),  # never longer than one interval
    ],
)
def test_first_polls_are_spread(
    tmp_path: Path, creators: int, every_minutes: float, window: float
) -> None:
    found = first_polls(tmp_path, creators, every_minutes)
    assert len(found) == creators
    assert found[0] >= 0
    assert found[-1] <= window
    if creators >= 1_000:  # evenly enough: no second holds twice its share
        per_second = Counter(int(offset) for offset in found)
        share = creators / window
        assert max(per_second.values()) <= 2 * share + 5
        assert found[-1] >= 0.9 * window  # and the whole window is used
