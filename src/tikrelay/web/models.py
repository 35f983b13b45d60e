"""The API's JSON shapes, as the OpenAPI document describes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tikrelay.domain.jobs import Job, JobEventRecord, JobStatus


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


class JobOut(BaseModel):
    """One job, as ``tikrelay jobs list`` shows it."""

    id: int
    kind: str
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    dedupe_key: str | None
    concurrency_key: str | None
    cancel_requested: bool
    error_kind: str | None
    error_message: str | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            priority=job.priority,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            worker_id=job.worker_id,
            dedupe_key=job.dedupe_key,
            concurrency_key=job.concurrency_key,
            cancel_requested=job.cancel_requested,
            error_kind=job.error_kind,
            error_message=job.error_message,
        )


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null on the last page."
    )


class EventOut(BaseModel):
    """One line of a job's timeline (``domain.jobs.JobEvent``, ``domain.events``)."""

    id: int
    type: str
    at: datetime
    data: dict[str, Any]


class JobDetail(JobOut):
    """A job, its payload and its timeline, as ``tikrelay jobs show`` prints it."""

    payload: dict[str, Any]
    events: list[EventOut]

    @classmethod
    def of_job(cls, job: Job, events: Sequence[JobEventRecord]) -> JobDetail:
        timeline = [EventOut(id=e.id, type=e.type, at=e.at, data=dict(e.data)) for e in events]
        return cls(**JobOut.of(job).model_dump(), payload=dict(job.payload), events=timeline)


class RetryOut(BaseModel):
    job: JobOut = Field(description="The job that runs again: a new one for a finished job.")
    new_job: bool = Field(description="True when a failed or cancelled job was copied.")


class CancelOut(BaseModel):
    job: JobOut = Field(
        description="CANCELLED, or RUNNING with cancel_requested: its worker stops it."
    )


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    reason: str | None = Field(description="The first check that failed, with its fix.")
    checks: dict[str, str]
