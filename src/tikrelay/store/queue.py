"""``JobQueue``: the storage interface the job engine uses. It owns transactions and the clock;
the SQL lives in ``queue_sql``, ``finish_sql``, ``leases`` and ``retention_sql``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from tikrelay.domain.jobs import Job, JobEventRecord, JobStatus
from tikrelay.domain.retention import Retention
from tikrelay.store import finish_sql, leases, queue_sql, retention_sql
from tikrelay.store.queue_sql import ClaimLimits, Enqueued, NewJob
from tikrelay.store.retention_sql import Pruned
from tikrelay.store.tables import job_events, jobs
from tikrelay.store.transition import EventData, add_events, row_to_job

Clock = Callable[[], datetime]
#: Writes a handler adds to the transaction that completes its job.
CommitHook = Callable[[Connection], None]
#: A timeline event a job held until its outcome: its type and data.
HeldEvent = tuple[str, EventData]


# The status written into the statement, not bound: only a literal lets SQLite prove that a
# partial index's predicate holds.
_COUNT_STATUS = {
    status: select(func.count()).select_from(jobs).where(text(f"status = '{status.value}'"))
    for status in JobStatus
}


@dataclass(frozen=True)
class Completion:
    """A job to complete: its hooks write in the completing transaction, after its held
    events."""

    job_id: int
    hooks: Sequence[CommitHook] = ()
    held: Sequence[HeldEvent] = ()


NOTIFY_CHANNEL = "tikrelay_jobs"
NO_LIMITS = ClaimLimits()
# A claim walks the queued-jobs index in claim order and stops after a batch. With statistics
# that say few jobs are queued (a fresh table, a burst after a quiet spell) the planner would
# rather fetch every queued job and sort them, on every claim; this transaction forbids that.
_CLAIM_PLAN = text(
    "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)"
)


def utc_now() -> datetime:
    return datetime.now(UTC)


#: A flag on a connection whose transaction created a job.
_CREATED = "tikrelay_job_created"


class JobQueue:
    """Durable jobs on one database (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: Engine, *, clock: Clock = utc_now, max_queue_length: int | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.max_queue_length = max_queue_length
        self.is_postgres = engine.dialect.name == "postgresql"
        # In-process wake-ups (SQLite has no LISTEN/NOTIFY): called after an enqueue commits.
        self.on_enqueue: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; workers of this process are woken once it committed a new job
        (enqueued here or by a caller given this connection, such as the bot's intake)."""
        with self.engine.begin() as conn:
            yield conn
            created = conn.info.pop(_CREATED, False)
        if created:
            self._woken()

    def _notify(self, conn: Connection) -> None:
        if self.is_postgres:
            conn.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})

    def _woken(self) -> None:
        for wake in list(self.on_enqueue):
            wake()

    # -- creating work -------------------------------------------------------------------------

    def enqueue(self, new: NewJob, conn: Connection | None = None) -> Enqueued:
        """Create a job, or return the waiting/running job with the same dedupe key.
        Pass ``conn`` to enqueue inside a caller's transaction (e.g. a completing handler)."""
        if conn is not None:
            return self._enqueue_in(conn, [new])[0]
        return self.enqueue_many([new])[0]

    def enqueue_many(self, batch: Sequence[NewJob]) -> list[Enqueued]:
        for new in batch:
            queue_sql.checked_payload(new.payload)  # refuse before opening a transaction
        with self.transaction() as conn:
            return self._enqueue_in(conn, batch)

    def _enqueue_in(self, conn: Connection, batch: Sequence[NewJob]) -> list[Enqueued]:
        queue_sql.check_queue_length(conn, self.max_queue_length, len(batch))
        now = self.clock()
        result = [queue_sql.insert_job(conn, new, now) for new in batch]
        if any(e.created for e in result):
            self._notify(conn)
            conn.info[_CREATED] = True  # the transaction wakes the workers once it commits
        return result

    # -- workers -------------------------------------------------------------------------------

    def claim(
        self, worker_id: str, limit: int, lease: timedelta, limits: ClaimLimits = NO_LIMITS
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs for ``worker_id``, holding each for ``lease``."""
        now = self.clock()
        with self.transaction() as conn:
            if self.is_postgres:
                conn.execute(_CLAIM_PLAN)
            claimed: list[Job] = []
            # Kinds that all have a limit of their own (polls in their slots) skip the look for
            # jobs without any: there are none of those kinds.
            all_limited = limits.kinds is not None and set(limits.kinds) <= set(limits.per_kind)
            if limits.max_running is None and not all_limited:
                claimed = queue_sql.claim_unlimited(conn, worker_id, limit, now, lease, limits)
            room = limit - len(claimed)
            if room > 0:
                claimed += queue_sql.claim_limited(conn, worker_id, room, now, lease, limits)
            return claimed

    def complete(self, job_id: int, worker_id: str, hooks: Sequence[CommitHook] = ()) -> bool:
        """Complete a held job; ``hooks`` write in the same transaction. False: the lease was
        lost (the job was recovered elsewhere) and nothing was written."""
        with self.transaction() as conn:
            if not finish_sql.complete(conn, job_id, worker_id, self.clock()):
                conn.rollback()
                return False
            for hook in hooks:
                hook(conn)
            return True

    def complete_many(
        self, worker_id: str, batch: Sequence[Completion]
    ) -> dict[int, bool | Exception]:
        """Complete several held jobs in one transaction (one commit, one fsync). Each job's
        held events and hooks run inside its own savepoint, so a failing hook fails only its
        own job."""
        results: dict[int, bool | Exception] = {}
        with self.transaction() as conn:
            now = self.clock()
            plain = [c.job_id for c in batch if not c.hooks and not c.held]
            done = set(finish_sql.complete_all(conn, plain, worker_id, now)) if plain else set()
            results.update({job_id: job_id in done for job_id in plain})
            for completion in batch:
                if completion.hooks or completion.held:
                    results[completion.job_id] = self._complete_in_savepoint(
                        conn, completion, worker_id
                    )
        return results

    def _complete_in_savepoint(
        self, conn: Connection, completion: Completion, worker_id: str
    ) -> bool | Exception:
        savepoint = conn.begin_nested()
        try:
            job_id = completion.job_id
            held = [(job_id, type_, data) for type_, data in completion.held]
            add_events(conn, held, self.clock())  # before the move: the timeline's order
            if not finish_sql.complete(conn, job_id, worker_id, self.clock()):
                savepoint.rollback()
                return False
            for hook in completion.hooks:
                hook(conn)
        except Exception as exc:  # the caller fails this job; the others still commit
            savepoint.rollback()
            return exc
        savepoint.commit()
        return True

    def fail(
        self,
        job_id: int,
        worker_id: str | None,
        *,
        error_kind: str,
        message: str,
        events: Sequence[tuple[str, EventData]] = (),
    ) -> bool:
        with self.transaction() as conn:
            return finish_sql.fail(
                conn,
                job_id,
                worker_id,
                self.clock(),
                error_kind=error_kind,
                message=message,
                events=list(events),
            )

    def retry_later(
        self,
        job_id: int,
        worker_id: str,
        *,
        run_at: datetime,
        error_kind: str,
        message: str,
        events: Sequence[tuple[str, EventData]] = (),
    ) -> bool:
        with self.transaction() as conn:
            return finish_sql.retry_later(
                conn,
                job_id,
                worker_id,
                self.clock(),
                run_at=run_at,
                error_kind=error_kind,
                message=message,
                events=list(events),
            )

    def defer(self, job_id: int, worker_id: str, *, run_at: datetime, reason: str) -> bool:
        with self.transaction() as conn:
            return finish_sql.defer(
                conn, job_id, worker_id, self.clock(), run_at=run_at, reason=reason
            )

    def release(self, job_ids: Sequence[int], worker_id: str) -> int:
        if not job_ids:
            return 0
        with self.transaction() as conn:
            now = self.clock()
            count = finish_sql.release(conn, list(job_ids), worker_id, now)
            queue_sql.promote_due(conn, now)
            self._notify(conn)
        return count

    def promote_due(self) -> int:
        with self.transaction() as conn:
            return queue_sql.promote_due(conn, self.clock())

    def add_event(self, job_id: int, type_: str, data: EventData | None = None) -> None:
        self.add_events(job_id, [(type_, data or {})])

    def add_events(self, job_id: int, events: Sequence[HeldEvent]) -> None:
        with self.transaction() as conn:
            add_events(conn, [(job_id, type_, data) for type_, data in events], self.clock())

    def register_worker(self, worker_id: str, host: str, pid: int) -> None:
        with self.transaction() as conn:
            leases.register_worker(conn, worker_id, host, pid, self.clock())

    def unregister_worker(self, worker_id: str) -> None:
        with self.transaction() as conn:
            leases.unregister_worker(conn, worker_id)

    def renew(self, worker_id: str, host: str, pid: int, lease: timedelta) -> set[int]:
        with self.transaction() as conn:
            return leases.renew(conn, worker_id, host, pid, self.clock(), lease)

    def recover(
        self, *, host: str, is_alive: Callable[[int], bool], lease: timedelta
    ) -> leases.Recovered:
        with self.transaction() as conn:
            now = self.clock()
            found = leases.recover(conn, now, host=host, is_alive=is_alive, lease=lease)
            if found.requeued:
                queue_sql.promote_due(conn, now)
                self._notify(conn)
            return found

    # -- housekeeping --------------------------------------------------------------------------

    def prune_finished(self, retention: Retention, *, batch: int = 500) -> Pruned:
        """Delete finished jobs past their ``retention``, and their events, ``batch`` jobs per
        transaction: a large backlog never holds the write lock for long, and other writers
        take turns between batches.

        The newest job always stays, whatever its age: SQLite hands out the highest id again
        once its row is gone (an INTEGER PRIMARY KEY without AUTOINCREMENT), and a delivery or a
        bot request that names a pruned job must never seem to name a new one."""
        now = self.clock()
        with self.engine.connect() as conn:
            newest = retention_sql.newest_job_id(conn)
        total = Pruned()
        after: int | None = 0
        while newest is not None and after is not None:
            with self.transaction() as conn:
                found, after = retention_sql.prune_batch(
                    conn, retention, now, after=after, below=newest, limit=batch
                )
            total += found
        return total

    # -- users ---------------------------------------------------------------------------------

    def cancel(self, job_id: int) -> Job:
        with self.transaction() as conn:
            return finish_sql.cancel(conn, job_id, self.clock())

    def retry(self, job_id: int) -> Enqueued:
        with self.transaction() as conn:
            result = finish_sql.request_retry(conn, job_id, self.clock())
            self._notify(conn)
        self._woken()
        return result

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else row_to_job(row)

    def list_jobs(
        self, status: JobStatus | None = None, limit: int = 50, kind: str | None = None
    ) -> list[Job]:
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        with self.engine.connect() as conn:
            return [row_to_job(row) for row in conn.execute(query)]

    def events(self, job_id: int) -> list[JobEventRecord]:
        query = select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
        with self.engine.connect() as conn:
            return [
                JobEventRecord(id=r.id, job_id=r.job_id, type=r.type, at=r.at, data=r.data)
                for r in conn.execute(query)
            ]

    def counts(self) -> dict[JobStatus, int]:
        query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
        with self.engine.connect() as conn:
            found: dict[str, Any] = {row[0]: row[1] for row in conn.execute(query)}
        return {status: int(found.get(status.value, 0)) for status in JobStatus}

    def counts_of(self, statuses: Sequence[JobStatus]) -> dict[JobStatus, int]:
        """Jobs in each of ``statuses``, one count per status: every status but COMPLETED
        has its own partial index, so these counts read those indexes, not the table."""
        with self.engine.connect() as conn:
            return {
                status: int(conn.execute(_COUNT_STATUS[status]).scalar_one()) for status in statuses
            }

    def next_run_at(self, kinds: Sequence[str]) -> datetime | None:
        """When the earliest waiting (PENDING) job of ``kinds`` comes due."""
        query = select(func.min(jobs.c.run_at)).where(
            jobs.c.status == JobStatus.PENDING.value, jobs.c.kind.in_(list(kinds))
        )
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(query).scalar()
            return found

    def running_elsewhere(self, kinds: Sequence[str], worker_id: str) -> bool:
        """Whether another worker holds a live lease on a job of ``kinds`` (one that may still
        make more work, such as a poll another process claimed)."""
        query = (
            select(jobs.c.id)
            .where(
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.kind.in_(list(kinds)),
                jobs.c.worker_id != worker_id,
                jobs.c.lease_until > self.clock(),
            )
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def has_due_work(self, kinds: Sequence[str] | None = None) -> bool:
        """Anything of ``kinds`` claimable or due now; drain mode exits when there is none."""
        now = self.clock()
        # Two look-ups, each through its partial index (an OR of the two would read the table).
        queued = select(jobs.c.id).where(text("status = 'QUEUED'")).limit(1)
        due = select(jobs.c.id).where(text("status = 'PENDING'"), jobs.c.run_at <= now).limit(1)
        with self.engine.connect() as conn:
            return any(conn.execute(query).first() is not None for query in (queued, due))
