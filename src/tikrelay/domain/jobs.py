"""Job statuses, the moves allowed between them, the job value object and the event vocabulary."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """Where a job stands. PENDING waits for its ``run_at``; QUEUED is due and claimable."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


#: Every legal move. RUNNING -> PENDING is a retry (or a release) with ``run_at`` set again.
TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED}),
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PENDING}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

#: Statuses in which a job still holds its dedupe key.
ACTIVE_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING}
)
WAITING_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.QUEUED})
FINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)


class IllegalTransitionError(Exception):
    """A move the state machine does not allow; a bug in the caller, never a user mistake."""

    def __init__(self, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"illegal job move {current} -> {target}")
        self.current = current
        self.target = target


class JobDeferredError(Exception):
    """Raised by a handler that must not run yet (another job has to go first): not a failure.
    The job waits until ``run_at``; the attempt is not counted."""

    def __init__(self, run_at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.run_at = run_at
        self.reason = reason


def is_allowed(current: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: JobStatus, target: JobStatus) -> None:
    """Raise IllegalTransitionError unless ``current -> target`` is in the table."""
    if not is_allowed(current, target):
        raise IllegalTransitionError(current, target)


class JobEvent(StrEnum):
    """Event names the engine writes; job kinds add their own (``domain.events``).

    There is no "worker assigned" or "job completed" event: the STATUS_CHANGED row of the move
    to RUNNING carries the ``worker_id`` and the move to COMPLETED is the completion, so such rows
    would say nothing new and cost a row on every claim and every completion, the queue's two
    hottest statements. JOB_FAILED stays beside its STATUS_CHANGED because it carries the
    error's message, which the move does not."""

    JOB_CREATED = "JOB_CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    JOB_FAILED = "JOB_FAILED"
    JOB_TIMED_OUT = "JOB_TIMED_OUT"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    RETRY_SKIPPED = "RETRY_SKIPPED"
    RETRY_REQUESTED = "RETRY_REQUESTED"
    MAX_RETRIES_REACHED = "MAX_RETRIES_REACHED"
    JOB_RECOVERED_STALE = "JOB_RECOVERED_STALE"
    STALE_JOB_MARKED_FAILED = "STALE_JOB_MARKED_FAILED"
    JOB_RELEASED = "JOB_RELEASED"
    JOB_DEFERRED = "JOB_DEFERRED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    JOB_CANCELLED = "JOB_CANCELLED"
    STAGE_STARTED = "STAGE_STARTED"
    STAGE_FINISHED = "STAGE_FINISHED"
    STAGE_FAILED = "STAGE_FAILED"
    JOBS_PRUNED = "JOBS_PRUNED"  # prune_jobs: finished jobs and events past their retention


@dataclass(frozen=True)
class Job:
    """A snapshot of one job row; change it only through the queue."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    lease_until: datetime | None = None
    worker_id: str | None = None
    dedupe_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    timeout_seconds: float | None = None
    cancel_requested: bool = False
    error_kind: str | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class JobEventRecord:
    """One line of a job's timeline."""

    id: int
    job_id: int
    type: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


def job_report(job: Job, events: Sequence[JobEventRecord]) -> list[str]:
    """A job and its whole timeline, line by line, every event with its data: what
    ``tikrelay jobs show`` prints and the bot's /debug sends."""
    lines = [
        f"job {job.id}  kind={job.kind}  status={job.status.value}  "
        f"attempts={job.attempts}/{job.max_attempts}",
        f"payload: {json.dumps(job.payload, ensure_ascii=False, sort_keys=True)}",
    ]
    for label, value in (
        ("dedupe key", job.dedupe_key),
        ("concurrency key", job.concurrency_key),
        ("worker", job.worker_id),
        ("error", job.error_kind and f"{job.error_kind}: {job.error_message}"),
    ):
        if value:
            lines.append(f"{label}: {value}")
    lines.append("timeline:")
    for event in events:
        data = " ".join(f"{k}={v}" for k, v in event.data.items())
        lines.append(f"  {event.at.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}  {event.type:<24} {data}")
    return lines
