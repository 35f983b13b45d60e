"""How long finished jobs (and their timelines) are kept: a pure policy the store applies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tikrelay.domain.jobs import JobStatus


@dataclass(frozen=True)
class Retention:
    """A completed job is kept ``completed`` after it finished (``per_kind`` overrides that
    for some kinds); a failed or cancelled one ``failed``: those are what people look into
    and may still ``jobs retry``, and there are few of them. Waiting and running jobs are
    always kept."""

    completed: timedelta
    failed: timedelta
    per_kind: Mapping[str, timedelta] = field(default_factory=dict)

    def kept_for(self, kind: str, status: JobStatus) -> timedelta | None:
        """How long a job of ``kind`` in ``status`` is kept after it finished; None: for as
        long as it waits or runs."""
        if status is JobStatus.COMPLETED:
            return self.per_kind.get(kind, self.completed)
        if status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return self.failed
        return None

    def expired(self, kind: str, status: JobStatus, finished_at: datetime, now: datetime) -> bool:
        kept = self.kept_for(kind, status)
        return kept is not None and finished_at <= now - kept

    def shortest(self) -> timedelta:
        """No job created after ``now - shortest()`` can have expired yet."""
        return min(self.completed, self.failed, *self.per_kind.values())
