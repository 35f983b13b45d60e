"""Random interleavings of enqueue, claim, complete, fail, retry, lease expiry and recovery
never produce an illegal status, a double claim, a double completion or a lost job, on SQLite and
on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, delete, select

from tests.support.jobs_db import BACKENDS, FakeClock, temporary_database
from tikrelay.config import load_settings
from tikrelay.domain.jobs import FINAL_STATUSES, JobEvent, JobStatus, is_allowed
from tikrelay.store import JobQueue, NewJob, open_engine
from tikrelay.store.tables import job_events, jobs, workers

LEASE = timedelta(seconds=10)
WORKERS = ("w1", "w2", "w3")


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("properties")
    with temporary_database(request.param, folder) as url:
        engine = open_engine(load_settings(None, state_dir=str(folder), database_url=url))
        yield engine
        engine.dispose()


class QueueMachine(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        with self.engine.begin() as conn:
            for table in (job_events, workers, jobs):
                conn.execute(delete(table))
        self.clock = FakeClock()
        self.queue = JobQueue(self.engine, clock=self.clock)
        self.enqueued = 0
        self.held: dict[int, str] = {}  # what each worker believes it holds
        self.completed: set[int] = set()
        for worker in WORKERS:
            self.queue.register_worker(worker, "host", 1)

    @rule(count=st.integers(1, 3), max_attempts=st.integers(1, 3))
    def enqueue(self, count: int, max_attempts: int) -> None:
        batch = [NewJob(kind="noop", payload={}, max_attempts=max_attempts) for _ in range(count)]
        self.queue.enqueue_many(batch)
        self.enqueued += count

    @rule(worker=st.sampled_from(WORKERS), limit=st.integers(1, 4))
    def claim(self, worker: str, limit: int) -> None:
        running_before = {j.id for j in self.queue.list_jobs(JobStatus.RUNNING, 1000)}
        for job in self.queue.claim(worker, limit, LEASE):
            assert job.id not in running_before  # never claimed while someone runs it
            self.held[job.id] = worker

    @precondition(lambda self: self.held)
    @rule(data=st.data(), outcome=st.sampled_from(["complete", "fail", "retry"]))
    def finish(self, data: st.DataObject, outcome: str) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.held)))
        worker = self.held.pop(job_id)
        if outcome == "complete":
            if self.queue.complete(job_id, worker):
                assert job_id not in self.completed
                self.completed.add(job_id)
        elif outcome == "fail":
            self.queue.fail(job_id, worker, error_kind="network", message="boom")
        else:
            run_at = self.clock.now + timedelta(seconds=5)
            self.queue.retry_later(
                job_id, worker, run_at=run_at, error_kind="network", message="again"
            )

    @rule(seconds=st.sampled_from([1, 4, 11]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.queue.promote_due()

    @rule(worker=st.sampled_from(WORKERS))
    def heartbeat(self, worker: str) -> None:
        self.queue.renew(worker, "host", 1, LEASE)

    @rule(dead=st.sets(st.sampled_from([1, 2])))
    def recover(self, dead: set[int]) -> None:
        self.queue.recover(host="host", is_alive=lambda pid: pid not in dead, lease=LEASE)
        for worker in WORKERS:
            self.queue.renew(worker, "host", 1, LEASE)  # the workers themselves live on

    @invariant()
    def nothing_lost_and_every_status_legal(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.status, jobs.c.worker_id)).all()
            changes = conn.execute(
                select(job_events.c.job_id, job_events.c.type, job_events.c.data).order_by(
                    job_events.c.id
                )
            ).all()
        assert len(rows) == self.enqueued
        status = {row.id: JobStatus(row.status) for row in rows}
        replay: dict[int, JobStatus] = {}
        for job_id, type_, data in changes:
            if type_ == JobEvent.JOB_CREATED:
                replay[job_id] = JobStatus(data["status"])
            elif type_ == JobEvent.STATUS_CHANGED:
                assert replay[job_id] == JobStatus(data["from"])
                assert is_allowed(replay[job_id], JobStatus(data["to"]))
                replay[job_id] = JobStatus(data["to"])
        assert replay == status
        for row in rows:
            assert (row.worker_id is not None) == (status[row.id] is JobStatus.RUNNING) or (
                status[row.id] in FINAL_STATUSES
            )
        assert {i for i, s in status.items() if s is JobStatus.COMPLETED} == self.completed

    def teardown(self) -> None:
        # Everything still open finishes once time runs on and the workers drain the queue.
        self.clock.advance(3600)
        self.queue.recover(host="host", is_alive=lambda pid: False, lease=LEASE)
        self.queue.promote_due()
        while claimed := self.queue.claim("last", 50, LEASE):
            for job in claimed:
                assert self.queue.complete(job.id, "last")
        counts = self.queue.counts()
        assert sum(counts[s] for s in FINAL_STATUSES) == self.enqueued


def test_state_machine(engine: Engine) -> None:
    QueueMachine.engine = engine
    run_state_machine_as_test(
        QueueMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
