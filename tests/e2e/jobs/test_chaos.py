"""Several real `tikrelay worker` processes over 2,000 jobs while workers are killed with
SIGKILL again and again: every job ends COMPLETED with exactly one effect row, or FAILED with a
reason; nothing is left waiting or running."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from tests.support.chaos_kinds import effects
from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.store import JobQueue, NewJob
from tikrelay.store.tables import job_events, jobs

ROOT = Path(__file__).resolve().parents[3]
JOBS = 2000
WORKERS = 3
KILLS = 6
CONFIG = """\
state_dir: {state}
database_url: '{url}'
jobs:
  lease_seconds: 3
  poll_interval_seconds: 0.2
  retry_base_seconds: 0.05
  retry_max_seconds: 0.2
  shutdown_grace_seconds: 5
  max_attempts: 8
"""


@pytest.fixture(params=BACKENDS)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with temporary_database(request.param, tmp_path) as url:
        path = tmp_path / "tikrelay.yaml"
        path.write_text(CONFIG.format(state=tmp_path / "state", url=url))
        yield path, url


def start_worker(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "tikrelay",
        "worker",
        "--config",
        str(config),
        "--kinds",
        "tests.support.chaos_kinds:registry",
        "--concurrency",
        "8",
        *extra,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def prepare(url: str, config: Path) -> None:
    migrate = subprocess.run(
        [sys.executable, "-m", "tikrelay", "db", "upgrade", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    engine = create_engine(url)
    effects.create(engine)
    rng = random.Random(3)
    queue = JobQueue(engine)
    batch = [
        NewJob(
            kind="append-effect",
            payload={"sleep": rng.choice([0.005, 0.02, 0.05, 0.1])},
            max_attempts=8,
        )
        for _ in range(JOBS)
    ]
    queue.enqueue_many(batch)
    engine.dispose()


def test_killed_workers_lose_nothing_and_double_nothing(
    config: tuple[Path, str], tmp_path: Path
) -> None:
    path, url = config
    prepare(url, path)
    log = tmp_path / "workers.log"
    rng = random.Random(11)
    workers = [start_worker(path, log) for _ in range(WORKERS)]
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.0, 2.5))  # chaos schedule, not a wait for a condition
        victim = workers.pop(rng.randrange(len(workers)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        workers.append(start_worker(path, log))
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        # A worker still starting up (no signal handler yet) dies of SIGTERM: for the jobs that
        # is the same as a kill, and the checks below cover it.
        assert worker.wait(timeout=60) in (0, -signal.SIGTERM)
    final = start_worker(path, log, "--drain")
    assert final.wait(timeout=120) == 0

    engine = create_engine(url)
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        )
        per_job = conn.execute(
            select(effects.c.job_id, func.count()).group_by(effects.c.job_id)
        ).all()
        completed = set(
            conn.execute(select(jobs.c.id).where(jobs.c.status == JobStatus.COMPLETED)).scalars()
        )
        recovered = conn.execute(
            select(func.count()).where(job_events.c.type == JobEvent.JOB_RECOVERED_STALE)
        ).scalar_one()
        unexplained = conn.execute(
            select(func.count()).where(
                jobs.c.status == JobStatus.FAILED, jobs.c.error_kind.is_(None)
            )
        ).scalar_one()
    engine.dispose()
    assert sum(by_status.values()) == JOBS
    assert set(by_status) <= {JobStatus.COMPLETED.value, JobStatus.FAILED.value}, by_status
    assert unexplained == 0
    assert recovered > 0  # the kills did land on running jobs
    assert all(count == 1 for _, count in per_job)
    assert {job_id for job_id, _ in per_job} == completed
