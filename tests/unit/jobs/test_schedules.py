"""Next occurrences: interval, cron, active hours in a time zone, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tikrelay.engine.schedules import Schedule, next_fire

RNG = random.Random(0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (Schedule("a", "k", interval_seconds=900), "2026-03-01T10:00", "2026-03-01T10:15"),
        (Schedule("b", "k", cron="0 */6 * * *"), "2026-03-01T10:00", "2026-03-01T12:00"),
        # 08:00 in Berlin (UTC+1 in March) is 07:00 UTC
        (
            Schedule("c", "k", cron="0 8 * * *", timezone="Europe/Berlin"),
            "2026-03-01T10:00",
            "2026-03-02T07:00",
        ),
        # outside 09:00-17:00 local: moved to the next window start
        (
            Schedule("d", "k", interval_seconds=3600, active_from="09:00", active_until="17:00"),
            "2026-03-01T16:30",
            "2026-03-02T09:00",
        ),
        # a window across midnight
        (
            Schedule("e", "k", interval_seconds=3600, active_from="22:00", active_until="02:00"),
            "2026-03-01T23:30",
            "2026-03-02T00:30",
        ),
        # cron inside a window: the first cron time in it
        (
            Schedule("f", "k", cron="*/20 * * * *", active_from="09:10", active_until="10:00"),
            "2026-03-01T08:00",
            "2026-03-01T09:20",
        ),
    ],
)
def test_next_fire(schedule: Schedule, after: str, expected: str) -> None:
    assert next_fire(schedule, at(after), RNG) == at(expected)


def test_jitter_delays_up_to_its_bound() -> None:
    schedule = Schedule("j", "k", interval_seconds=60, jitter_seconds=30)
    base = at("2026-03-01T10:01")
    fires = [next_fire(schedule, at("2026-03-01T10:00"), random.Random(i)) for i in range(50)]
    assert all(base <= f <= base + timedelta(seconds=30) for f in fires)
    assert len(set(fires)) > 40


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of"),
        ({"interval_seconds": 5, "cron": "* * * * *"}, "exactly one of"),
        ({"cron": "every tuesday"}, "not a cron expression"),
        ({"interval_seconds": 5, "active_from": "09:00"}, "both active_from and active_until"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule("x", "k", **kwargs)  # type: ignore[arg-type]
