"""The retention policy: how long a finished job is kept, by status and kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tikrelay.domain.jobs import JobStatus
from tikrelay.domain.retention import Retention

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = Retention(
    completed=timedelta(days=7), failed=timedelta(days=30), per_kind={"poll": timedelta(days=1)}
)


@pytest.mark.parametrize(
    ("kind", "status", "days_ago", "expired"),
    [
        ("poll", JobStatus.COMPLETED, 0.9, False),
        ("poll", JobStatus.COMPLETED, 1, True),
        ("deliver", JobStatus.COMPLETED, 6.9, False),
        ("deliver", JobStatus.COMPLETED, 7, True),
        ("poll", JobStatus.FAILED, 7, False),  # a kind's own retention is for completed jobs
        ("deliver", JobStatus.FAILED, 29, False),
        ("deliver", JobStatus.FAILED, 30, True),
        ("deliver", JobStatus.CANCELLED, 29, False),
        ("deliver", JobStatus.CANCELLED, 31, True),
        ("deliver", JobStatus.PENDING, 3650, False),
        ("deliver", JobStatus.QUEUED, 3650, False),
        ("deliver", JobStatus.RUNNING, 3650, False),
    ],
)
def test_expired(kind: str, status: JobStatus, days_ago: float, expired: bool) -> None:
    finished = NOW - timedelta(days=days_ago)
    assert POLICY.expired(kind, status, finished, NOW) is expired


def test_shortest_bounds_every_kind_and_status() -> None:
    assert POLICY.shortest() == timedelta(days=1)
    assert Retention(timedelta(days=7), timedelta(days=2)).shortest() == timedelta(days=2)
