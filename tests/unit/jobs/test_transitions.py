"""The transition table is exactly the one in DESIGN.md."""

from __future__ import annotations

import itertools

import pytest

from tikrelay.domain.jobs import (
    FINAL_STATUSES,
    IllegalTransitionError,
    JobStatus,
    check_transition,
    is_allowed,
)

P, Q, R, C, F, X = (
    JobStatus.PENDING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)
ALLOWED = {(P, Q), (Q, R), (R, C), (R, F), (R, P), (P, X), (Q, X)}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobStatus, repeat=2)))
def test_table(current: JobStatus, target: JobStatus) -> None:
    assert is_allowed(current, target) is ((current, target) in ALLOWED)
    if (current, target) not in ALLOWED:
        with pytest.raises(IllegalTransitionError, match=f"{current} -> {target}"):
            check_transition(current, target)


def test_final_statuses_are_final() -> None:
    assert all(not is_allowed(final, other) for final in FINAL_STATUSES for other in JobStatus)
