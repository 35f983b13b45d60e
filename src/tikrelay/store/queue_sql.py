"""The job queue's SQL: enqueue, claim, finish, promote, cancel. One place, both dialects.

Functions here take an open connection inside a transaction; ``JobQueue`` owns transactions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    Row,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from tikrelay.domain.errors import InvalidJobError, QueueFullError
from tikrelay.domain.jobs import WAITING_STATUSES, Job, JobEvent, JobStatus
from tikrelay.store.tables import ACTIVE, jobs
from tikrelay.store.transition import add_events, move, row_to_job

# Serialises the claims that must count running jobs (limits, concurrency keys) on PostgreSQL;
# SQLite's single writer serialises every claim already.
_LIMITED_CLAIM_LOCK = 0x7469_6B6C  # "tikl"
_QUEUE_LENGTH_LOCK = 0x7469_6B71  # "tikq"
# The active statuses spelt as in the partial unique index: SQLite uses a partial index only
# for a query that repeats its condition, and bound values in an IN list do not (the look-up
# before every enqueue would read the whole table).
_ACTIVE_BY_KEY = select(jobs).where(jobs.c.dedupe_key == bindparam("dedupe"), text(ACTIVE))
_WAITING = [s.value for s in WAITING_STATUSES]


@dataclass(frozen=True)
class NewJob:
    """What a caller asks for; ``run_at`` None means now."""

    kind: str
    payload: Mapping[str, Any]
    max_attempts: int
    priority: int = 0
    run_at: datetime | None = None
    dedupe_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int = 1
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class Enqueued:
    job: Job
    created: bool


@dataclass(frozen=True)
class ClaimLimits:
    """Database-wide limits a claim respects together with every other worker."""

    max_running: int | None = None
    per_kind: Mapping[str, int] = field(default_factory=dict)
    #: Only these kinds (the ones this worker can run); None: any kind.
    kinds: Sequence[str] | None = None


def ids_in(dialect: str, name: str) -> ColumnElement[bool]:
    """``jobs.id`` in the list bound as ``name``: one array parameter on PostgreSQL (the SQL
    text stays the same whatever the list's length), an expanded IN on SQLite."""
    if dialect == "postgresql":
        return jobs.c.id == any_(bindparam(name, type_=ARRAY(jobs.c.id.type)))
    return jobs.c.id.in_(bindparam(name, expanding=True))


def only_kinds(query: Any, kinds: Sequence[str] | None) -> Any:
    return query if kinds is None else query.where(jobs.c.kind.in_(list(kinds)))


def checked_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round-trip: refuses what cannot be stored and stores exactly what comes back."""
    try:
        return dict(json.loads(json.dumps(dict(payload), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidJobError(f"payload is not JSON-serialisable: {exc}") from None


def _active_by_key(conn: Connection, key: str) -> Row[Any] | None:
    return conn.execute(_ACTIVE_BY_KEY, {"dedupe": key}).first()


# Built once: a built statement is compiled once, not for every job enqueued.
_INSERT_JOB = insert(jobs).returning(*jobs.c)


def check_queue_length(conn: Connection, limit: int | None, incoming: int = 1) -> None:
    """Refuse a batch that would take the waiting jobs past ``limit``. On PostgreSQL enqueuers
    take turns for the count and insert (the lock lasts until their commit), so concurrent
    enqueuers cannot overshoot together; SQLite's single writer serialises them already."""
    if limit is None:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _QUEUE_LENGTH_LOCK})
    waiting = conn.execute(
        select(func.count()).select_from(jobs).where(jobs.c.status.in_(_WAITING))
    ).scalar_one()
    if waiting + incoming > limit:
        raise QueueFullError(limit)


def insert_job(conn: Connection, new: NewJob, now: datetime) -> Enqueued:
    """Insert a job (QUEUED when due, else PENDING) or return the active job with its dedupe key."""
    payload = checked_payload(new.payload)
    if new.dedupe_key is not None:
        existing = _active_by_key(conn, new.dedupe_key)
        if existing is not None:
            return Enqueued(row_to_job(existing), created=False)
    run_at = new.run_at or now
    status = JobStatus.QUEUED if run_at <= now else JobStatus.PENDING
    if new.dedupe_key is not None and conn.dialect.name == "postgresql":
        # Another transaction may have inserted the same key since the look-up above: the
        # partial unique index refuses the second insert, and its job is the one to return.
        try:
            with conn.begin_nested():
                return _insert(conn, new, payload, status, run_at, now)
        except IntegrityError:
            existing = _active_by_key(conn, new.dedupe_key)
            if existing is None:
                raise
            return Enqueued(row_to_job(existing), created=False)
    return _insert(conn, new, payload, status, run_at, now)


def _insert(
    conn: Connection,
    new: NewJob,
    payload: dict[str, Any],
    status: JobStatus,
    run_at: datetime,
    now: datetime,
) -> Enqueued:
    values = {
        "kind": new.kind,
        "payload": payload,
        "status": status.value,
        "priority": new.priority,
        "attempts": 0,
        "max_attempts": new.max_attempts,
        "run_at": run_at,
        "dedupe_key": new.dedupe_key,
        "concurrency_key": new.concurrency_key,
        "concurrency_limit": new.concurrency_limit,
        "timeout_seconds": new.timeout_seconds,
        "cancel_requested": False,
        "created_at": now,
        "updated_at": now,
    }
    row = conn.execute(_INSERT_JOB, values).one()
    data = {"kind": new.kind, "status": status.value}
    if new.dedupe_key is not None:
        data["dedupe_key"] = new.dedupe_key
    add_events(conn, [(row.id, JobEvent.JOB_CREATED, data)], now)
    return Enqueued(row_to_job(row), created=True)


def _claim_values(worker_id: Any, started: Any, lease_until: Any) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "lease_until": lease_until,
        "attempts": jobs.c.attempts + 1,
        "started_at": started,
    }


def _order() -> tuple[Any, ...]:
    return (jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id)


def _as_jobs(rows: Sequence[Row[Any]]) -> list[Job]:
    return sorted((row_to_job(r) for r in rows), key=lambda j: (-j.priority, j.run_at, j.id))


def _claim_ids(
    conn: Connection, ids: Sequence[int], worker_id: str, now: datetime, lease: timedelta
) -> list[Job]:
    if not ids:
        return []
    rows = move(
        conn,
        where=jobs.c.id.in_(ids),
        expected=JobStatus.QUEUED,
        target=JobStatus.RUNNING,
        now=now,
        values=_claim_values(worker_id, now, now + lease),
        data={"worker_id": worker_id},
    )
    return _as_jobs(rows)


@functools.lru_cache(maxsize=32)
def _unlimited_pick(kinds: tuple[str, ...] | None, limited: tuple[str, ...]) -> Any:
    """Which rows an unlimited claim takes, built once per worker configuration; the
    CTE is evaluated once (PostgreSQL never inlines one that locks rows), so the rows locked
    are exactly the rows moved."""
    query = select(jobs.c.id).where(
        jobs.c.status == JobStatus.QUEUED.value, jobs.c.concurrency_key.is_(None)
    )
    if limited:
        query = query.where(jobs.c.kind.not_in(list(limited)))
    picked = (
        only_kinds(query, kinds)
        .order_by(*_order())
        .limit(bindparam("claim_limit"))
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    return jobs.c.id.in_(select(picked.c.id))


def claim_unlimited(
    conn: Connection,
    worker_id: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    limits: ClaimLimits,
) -> list[Job]:
    """Claim up to ``limit`` QUEUED jobs that no limit applies to, skipping rows other
    workers hold (SKIP LOCKED; SQLite has one writer, so nothing to skip there). Picking,
    moving and the timeline rows are one statement: one round trip for the whole batch."""
    kinds = None if limits.kinds is None else tuple(limits.kinds)
    limited = tuple(sorted(limits.per_kind))
    rows = move(
        conn,
        where=_unlimited_pick(kinds, limited),
        expected=JobStatus.QUEUED,
        target=JobStatus.RUNNING,
        now=now,
        values=_claim_values(
            bindparam("claim_worker"), bindparam("claim_started"), bindparam("claim_lease")
        ),
        data={"worker_id": worker_id},
        params={
            "claim_limit": limit,
            "claim_worker": worker_id,
            "claim_started": now,
            "claim_lease": now + lease,
        },
        reuse=("claim_unlimited", kinds, limited),
    )
    return _as_jobs(rows)


@functools.lru_cache(maxsize=4)
def _running_by(column_name: str) -> Any:
    column = jobs.c[column_name]
    return (
        select(column, func.count())
        .where(
            jobs.c.status == JobStatus.RUNNING.value,
            column.in_(bindparam("running_values", expanding=True)),
        )
        .group_by(column)
    )


def _running_counts(conn: Connection, column: Any, values: Sequence[str]) -> dict[str, int]:
    if not values:
        return {}
    rows = conn.execute(_running_by(column.name), {"running_values": list(values)})
    return {row[0]: row[1] for row in rows}


@functools.lru_cache(maxsize=32)
def _limited_candidates(
    kinds: tuple[str, ...] | None, limited: tuple[str, ...], with_total: bool
) -> Any:
    """The queued jobs a limited claim looks at, in claim order: built once per set of kinds
    (a built statement is compiled once, not on every claim)."""
    r = jobs.alias("r")
    key_running = (
        select(func.count())
        .select_from(r)
        .where(r.c.status == JobStatus.RUNNING.value, r.c.concurrency_key == jobs.c.concurrency_key)
        .scalar_subquery()
    )
    query = select(jobs.c.id, jobs.c.kind, jobs.c.concurrency_key, jobs.c.concurrency_limit).where(
        jobs.c.status == JobStatus.QUEUED.value,
        or_(jobs.c.concurrency_key.is_(None), key_running < jobs.c.concurrency_limit),
    )
    if not with_total:
        query = query.where(or_(jobs.c.concurrency_key.is_not(None), jobs.c.kind.in_(limited)))
    query = only_kinds(query, kinds).order_by(*_order())
    return query.limit(bindparam("candidates", type_=Integer))


def claim_limited(
    conn: Connection,
    worker_id: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    limits: ClaimLimits,
) -> list[Job]:
    """Claim jobs under a limit (global, per kind, per concurrency key). Counting running jobs
    and claiming must not interleave between workers, hence the lock on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LIMITED_CLAIM_LOCK})
    room = limit
    if limits.max_running is not None:
        running = conn.execute(
            select(func.count()).where(jobs.c.status == JobStatus.RUNNING.value)
        ).scalar_one()
        room = min(room, limits.max_running - running)
    if room <= 0:
        return []
    kinds = None if limits.kinds is None else tuple(limits.kinds)
    query = _limited_candidates(
        kinds, tuple(sorted(limits.per_kind)), limits.max_running is not None
    )
    rows = conn.execute(query, {"candidates": room * 4 + 16}).all()
    by_kind = _running_counts(conn, jobs.c.kind, list(limits.per_kind))
    by_key = _running_counts(
        conn, jobs.c.concurrency_key, [x.concurrency_key for x in rows if x.concurrency_key]
    )
    chosen = _pick(rows, room, limits, by_kind, by_key)
    return _claim_ids(conn, chosen, worker_id, now, lease)


def _pick(
    rows: Sequence[Row[Any]],
    room: int,
    limits: ClaimLimits,
    by_kind: dict[str, int],
    by_key: dict[str, int],
) -> list[int]:
    """Candidates in claim order, skipping any whose kind or key is (or would be) full."""
    chosen: list[int] = []
    for row in rows:
        if len(chosen) >= room:
            break
        kind_cap = limits.per_kind.get(row.kind)
        if kind_cap is not None and by_kind.get(row.kind, 0) >= kind_cap:
            continue
        key = row.concurrency_key
        if key is not None and by_key.get(key, 0) >= row.concurrency_limit:
            continue
        chosen.append(row.id)
        by_kind[row.kind] = by_kind.get(row.kind, 0) + 1
        if key is not None:
            by_key[key] = by_key.get(key, 0) + 1
    return chosen


def promote_due(conn: Connection, now: datetime, limit: int = 500) -> int:
    """PENDING jobs whose ``run_at`` has come become QUEUED (claimable)."""
    due = (
        select(jobs.c.id)
        .where(jobs.c.status == JobStatus.PENDING.value, jobs.c.run_at <= now)
        .order_by(jobs.c.run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return 0
    rows = move(
        conn, where=jobs.c.id.in_(ids), expected=JobStatus.PENDING, target=JobStatus.QUEUED, now=now
    )
    return len(rows)
