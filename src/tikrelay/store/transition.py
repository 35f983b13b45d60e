"""The one function that changes a job's status, and the timeline rows that go with it.

Every move is a guarded UPDATE naming the expected current status, with its STATUS_CHANGED
event inserted in the same transaction. Nothing else in the code base writes ``jobs.status``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Executable,
    Row,
    bindparam,
    insert,
    literal,
    select,
    update,
)

from tikrelay.domain.jobs import (
    IllegalTransitionError,
    Job,
    JobEvent,
    JobStatus,
    is_allowed,
)
from tikrelay.store import tallies_sql
from tikrelay.store.tables import UtcDateTime, job_events, jobs

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


_INSERT_EVENTS = insert(job_events)


def add_events(
    conn: Connection, events: Sequence[tuple[int, str, EventData]], now: datetime
) -> None:
    """Insert timeline rows and write each as one structured log line carrying ``job_id``."""
    if not events:
        return
    conn.execute(
        _INSERT_EVENTS,
        [
            {"job_id": job_id, "type": type_, "data": dict(data), "at": now}
            for job_id, type_, data in events
        ],
    )
    tallies_sql.add_stages(conn, _stages(events), now)
    _log_events(events)


def _stages(events: Iterable[tuple[int, str, EventData]]) -> Iterator[tuple[str, float]]:
    """(stage, seconds) of each STAGE_FINISHED event."""
    for _, type_, data in events:
        if type_ != JobEvent.STAGE_FINISHED:
            continue
        stage, seconds = data.get("stage"), data.get("seconds")
        if isinstance(stage, str) and isinstance(seconds, int | float):
            yield stage, max(0.0, float(seconds))


def _log_events(events: Iterable[tuple[int, str, EventData]]) -> None:
    # One bound logger for the batch: the lazy module logger binds anew on every call.
    logger = log.bind()
    for job_id, type_, data in events:
        logger.info(type_, job_id=job_id, **data)


# Every move binds its time and its STATUS_CHANGED data under these names, so that a built
# statement can run again with other values.
_NOW = bindparam("moved_at", type_=UtcDateTime)
_EVENT_DATA = bindparam("moved_event", type_=JSON)
#: Built statements by the ``reuse`` key their callers give (see ``move``).
_built: dict[Hashable, Executable] = {}


def _statement(
    dialect: str,
    where: ColumnElement[bool],
    expected: JobStatus,
    target: JobStatus,
    values: Mapping[str, Any],
    returning: Sequence[Column[Any]] | None,
) -> Executable:
    """The guarded UPDATE; on PostgreSQL it also inserts a STATUS_CHANGED row per moved job in
    the same statement (data-modifying CTEs: one round trip for a whole batch)."""
    columns = list(jobs.c) if returning is None else [jobs.c.id, *returning]
    stmt = (
        update(jobs)
        .where(jobs.c.status == expected.value, where)
        .values(status=target.value, updated_at=_NOW, **values)
        .returning(*dict.fromkeys(columns))
    )
    if dialect != "postgresql":
        return stmt
    moved = stmt.cte("moved")
    timeline = (
        insert(job_events)
        .from_select(
            ["job_id", "type", "data", "at"],
            select(moved.c.id, literal(JobEvent.STATUS_CHANGED.value), _EVENT_DATA, _NOW),
        )
        .cte("timeline")
    )
    return select(moved).add_cte(timeline)


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
    returning: Sequence[Column[Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    reuse: Hashable | None = None,
) -> list[Row[Any]]:
    """Move every job matching ``where`` that is in ``expected`` to ``target``; return the rows
    moved (after the update; ``returning`` columns, or all). Rows in another status are left
    alone: the guard is the point.

    Hot paths write ``where`` and ``values`` with ``bindparam``s, pass their values in
    ``params`` and name the statement with ``reuse``: it is then built once per process."""
    if not is_allowed(expected, target):
        log.error("illegal_transition", expected=str(expected), target=str(target))
        raise IllegalTransitionError(expected, target)
    dialect = conn.dialect.name
    key = None if reuse is None else (reuse, dialect, expected, target)
    stmt = _built.get(key) if key is not None else None
    if stmt is None:
        stmt = _statement(dialect, where, expected, target, values or {}, returning)
        if key is not None:
            _built[key] = stmt
    base = {"from": expected.value, "to": target.value, **(data or {})}
    rows = list(conn.execute(stmt, {**(params or {}), "moved_at": now, "moved_event": base}).all())
    status_changed = [(row.id, JobEvent.STATUS_CHANGED, base) for row in rows]
    if dialect == "postgresql":
        _log_events(status_changed)  # the statement inserted them
    else:
        add_events(conn, status_changed, now)
    if extra_events is not None:
        extra = [(row.id, type_, ev) for row in rows for type_, ev in extra_events(row)]
        add_events(conn, extra, now)
    return rows


class TransitionRefusedError(Exception):
    """A single-job move whose guard did not match: the job is not where the caller thought."""

    def __init__(self, job_id: int, expected: JobStatus, current: JobStatus | None) -> None:
        where = "does not exist" if current is None else f"is {current}"
        super().__init__(f"job {job_id} {where}, not {expected}")
        self.job_id = job_id
        self.expected = expected
        self.current = current
