"""The one function that changes a job's status, and the timeline rows that go with it.

Every move is a guarded UPDATE naming the expected current status, with its STATUS_CHANGED
event inserted in the same transaction. Nothing else in the code base writes ``jobs.status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Connection, Row, insert, update

from tikrelay.domain.jobs import (
    IllegalTransitionError,
    Job,
    JobEvent,
    JobStatus,
    is_allowed,
)
from tikrelay.store.tables import job_events, jobs

log = structlog.get_logger("tikrelay.jobs")

EventData = Mapping[str, Any]
#: Extra events per moved row: ``(type, data)`` pairs, computed from the row after the move.
ExtraEvents = Callable[[Row[Any]], Iterable[tuple[str, EventData]]]


def row_to_job(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        kind=m["kind"],
        payload=m["payload"],
        status=JobStatus(m["status"]),
        priority=m["priority"],
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        run_at=m["run_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        lease_until=m["lease_until"],
        worker_id=m["worker_id"],
        dedupe_key=m["dedupe_key"],
        concurrency_key=m["concurrency_key"],
        concurrency_limit=m["concurrency_limit"],
        timeout_seconds=m["timeout_seconds"],
        cancel_requested=bool(m["cancel_requested"]),
        error_kind=m["error_kind"],
        error_message=m["error_message"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )


def add_events(
    conn: Connection, events: Sequence[tuple[int, str, EventData]], now: datetime
) -> None:
    """Insert timeline rows and write each as one structured log line carrying ``job_id``."""
    if not events:
        return
    conn.execute(
        insert(job_events),
        [
            {"job_id": job_id, "type": type_, "data": dict(data), "at": now}
            for job_id, type_, data in events
        ],
    )
    for job_id, type_, data in events:
        log.info(type_, job_id=job_id, **data)


def move(
    conn: Connection,
    *,
    where: ColumnElement[bool],
    expected: JobStatus,
    target: JobStatus,
    now: datetime,
    values: Mapping[str, Any] | None = None,
    data: EventData | None = None,
    extra_events: ExtraEvents | None = None,
) -> list[Row[Any]]:
    """Move every job matching ``where`` that is in ``expected`` to ``target``; return the rows
    moved (after the update). Rows in another status are left alone: the guard is the point."""
    if not is_allowed(expected, target):
        log.error("illegal_transition", expected=str(expected), target=str(target))
        raise IllegalTransitionError(expected, target)
    stmt = (
        update(jobs)
        .where(jobs.c.status == expected.value, where)
        .values(status=target.value, updated_at=now, **(values or {}))
        .returning(*jobs.c)
    )
    rows = list(conn.execute(stmt).all())
    base = {"from": expected.value, "to": target.value, **(data or {})}
    events: list[tuple[int, str, EventData]] = []
    for row in rows:
        events.append((row.id, JobEvent.STATUS_CHANGED, base))
        if extra_events is not None:
            events.extend((row.id, type_, ev) for type_, ev in extra_events(row))
    add_events(conn, events, now)
    return rows


class TransitionRefusedError(Exception):
    """A single-job move whose guard did not match: the job is not where the caller thought."""

    def __init__(self, job_id: int, expected: JobStatus, current: JobStatus | None) -> None:
        where = "does not exist" if current is None else f"is {current}"
        super().__init__(f"job {job_id} {where}, not {expected}")
        self.job_id = job_id
        self.expected = expected
        self.current = current
