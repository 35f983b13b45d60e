"""``JobService``: enqueue with validation and per-kind defaults; settings turned into limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from tikrelay.config.settings import JobKindSettings, JobSettings
from tikrelay.domain.retention import Retention
from tikrelay.domain.retry import BackoffPolicy
from tikrelay.engine.registry import Registry
from tikrelay.store import ClaimLimits, Enqueued, JobQueue, NewJob


class JobService:
    """The engine's front door for job kinds, the bot and the web."""

    def __init__(self, queue: JobQueue, registry: Registry, settings: JobSettings) -> None:
        self.queue = queue
        self.registry = registry
        self.settings = settings

    def enqueue_many(
        self, kind: str, jobs: Sequence[tuple[Mapping[str, Any] | BaseModel, str | None]]
    ) -> list[Enqueued]:
        """Create many jobs of one kind, given as (payload, dedupe key), in one transaction (a
        cron run's polls of thousands of sources): all are written or none."""
        job_kind = self.registry.get(kind)
        attempts = self.max_attempts(kind)
        batch = [
            NewJob(kind=kind, payload=job_kind.dump(payload), max_attempts=attempts, dedupe_key=key)
            for payload, key in jobs
        ]
        return self.queue.enqueue_many(batch)

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | BaseModel,
        *,
        dedupe_key: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int = 1,
        priority: int = 0,
        run_at: datetime | None = None,
        delay: float | None = None,
        conn: Connection | None = None,
    ) -> Enqueued:
        """Create a job of a registered kind (unknown kinds and invalid payloads raise
        InvalidJobError, a full queue QueueFullError; nothing is written then).
        ``dedupe_key``: while a job with this key waits or runs, return it instead.
        ``concurrency_key``: at most ``concurrency_limit`` jobs with this key run at once.
        ``conn``: enqueue inside that transaction (e.g. from a completing handler's hook)."""
        job_kind = self.registry.get(kind)
        if delay is not None:
            run_at = self.queue.clock() + timedelta(seconds=delay)
        new = NewJob(
            kind=kind,
            payload=job_kind.dump(payload),
            max_attempts=self.max_attempts(kind),
            priority=priority,
            run_at=run_at,
            dedupe_key=dedupe_key,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
        )
        return self.queue.enqueue(new, conn)

    def _kind_settings(self, kind: str) -> JobKindSettings | None:
        return self.settings.kinds.get(kind)

    def max_attempts(self, kind: str) -> int:
        configured = self._kind_settings(kind)
        if configured is not None and configured.max_attempts is not None:
            return configured.max_attempts
        declared = self.registry.get(kind).max_attempts
        return declared if declared is not None else self.settings.max_attempts

    def timeout(self, kind: str, job_timeout: float | None) -> float:
        if job_timeout is not None:
            return job_timeout
        configured = self._kind_settings(kind)
        if configured is not None and configured.timeout_seconds is not None:
            return configured.timeout_seconds
        declared = self.registry.get(kind).timeout_seconds
        return declared if declared is not None else self.settings.timeout_seconds

    def stage_timeouts(self, kind: str) -> dict[str, float]:
        merged = dict(self.registry.get(kind).stage_timeouts)
        configured = self._kind_settings(kind)
        if configured is not None:
            merged.update(configured.stage_timeouts)
        return merged

    def limits(self) -> ClaimLimits:
        """Running-job limits: a kind's own default, unless ``jobs.kinds.<kind>.max_running``
        says otherwise."""
        per_kind = {kind.name: kind.max_running for kind in self.registry if kind.max_running}
        per_kind.update(
            {
                name: kind.max_running
                for name, kind in self.settings.kinds.items()
                if kind.max_running is not None
            }
        )
        return ClaimLimits(max_running=self.settings.max_running, per_kind=per_kind)

    def retention(self) -> Retention:
        """How long finished jobs are kept: jobs.keep_days and jobs.keep_failed_days, and per
        kind its own default unless ``jobs.kinds.<kind>.keep_days`` says otherwise."""
        per_kind = {kind.name: kind.keep_days for kind in self.registry if kind.keep_days}
        per_kind.update(
            {
                name: kind.keep_days
                for name, kind in self.settings.kinds.items()
                if kind.keep_days is not None
            }
        )
        return Retention(
            completed=timedelta(days=self.settings.keep_days),
            failed=timedelta(days=self.settings.keep_failed_days),
            per_kind={name: timedelta(days=days) for name, days in per_kind.items()},
        )

    def backoff(self) -> BackoffPolicy:
        return BackoffPolicy(
            base_seconds=self.settings.retry_base_seconds,
            max_seconds=self.settings.retry_max_seconds,
        )
