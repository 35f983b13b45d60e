"""Claim + complete throughput of no-op jobs on SQLite and PostgreSQL, with claim latency.

    uv run python bench/jobs.py [--jobs N] [--batch B]

Each worker is a separate process running the real ``Worker`` (as ``tikrelay worker --drain``
does) with ``--concurrency`` jobs at a time over the built-in ``noop`` kind; claim latency is
timed around every claim that returned jobs. The baseline is the same database with one
worker. The ceiling is the same claim and completion SQL run by bare psycopg loops in eight
processes (bench/bare_sql.py); the engine's eight-worker rate is printed as a share of it. The
last line is machine-readable:
``jobs/s sqlite=<best> postgres=<best> double_claims=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.support.jobs_db import temporary_database

import bare_sql
from tikrelay.config.logging import configure_logging
from tikrelay.config.settings import JobSettings
from tikrelay.domain.jobs import JobEvent
from tikrelay.engine.kinds import worker_registry
from tikrelay.engine.service import JobService
from tikrelay.engine.worker import Worker
from tikrelay.store import JobQueue, NewJob
from tikrelay.store.engine import create_db_engine
from tikrelay.store.migrate import upgrade
from tikrelay.store.tables import job_events


def work(url: str, concurrency: int, go: Any, out: Any) -> None:
    """One worker process: the real Worker in drain mode over built-in no-op jobs."""
    configure_logging(json=True, level=logging.WARNING)  # event lines are not what we measure
    queue = JobQueue(create_db_engine(make_url(url), pool_size=concurrency + 2))
    latencies: list[float] = []
    claim = queue.claim

    def timed_claim(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        jobs = claim(*args, **kwargs)
        if jobs:
            latencies.append(time.perf_counter() - started)
        return jobs

    queue.claim = timed_claim  # type: ignore[method-assign]
    service = JobService(queue, worker_registry(), JobSettings(lease_seconds=60))
    go.wait()
    asyncio.run(Worker(service, concurrency=concurrency, drain=True).run())
    out.put(latencies)
    queue.engine.dispose()


def _race(url: str, workers: int, jobs: int, target: Any, arg: int) -> tuple[float, list[Any]]:
    """Enqueue ``jobs`` no-op jobs, start ``workers`` processes running ``target`` and time
    them from the moment all are connected until the last one reports."""
    engine = create_db_engine(make_url(url))
    upgrade(engine)
    queue = JobQueue(engine)
    configure_logging(json=True, level=logging.WARNING)
    for start in range(0, jobs, 1000):
        queue.enqueue_many([NewJob("noop", {}, max_attempts=1)] * min(1000, jobs - start))
    engine.dispose()
    ctx = mp.get_context("fork")
    go, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, arg, go, out)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    go.wait()  # every process has connected: the clock starts now
    started = time.perf_counter()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return elapsed, results


def run(url: str, workers: int, jobs: int, concurrency: int) -> tuple[float, list[float], int]:
    elapsed, results = _race(url, workers, jobs, work, concurrency)
    latencies = [lat for lats in results for lat in lats]
    engine = create_db_engine(make_url(url))
    with engine.connect() as conn:
        claims = conn.execute(
            select(job_events.c.job_id, func.count())
            .where(
                job_events.c.type == JobEvent.STATUS_CHANGED,
                job_events.c.data["to"].as_string() == "RUNNING",
            )
            .group_by(job_events.c.job_id)
        ).all()
    engine.dispose()
    double = sum(1 for _, n in claims if n > 1)
    if len(claims) != jobs:
        raise SystemExit(f"lost jobs: claimed {len(claims)} of {jobs}")
    return jobs / elapsed, latencies, double


def ceiling(folder: Path, workers: int, jobs: int, batch: int) -> float:
    """Jobs/s of the same claim and completion SQL in bare psycopg loops (bench/bare_sql.py)."""
    with temporary_database("postgres", folder) as url:
        elapsed, results = _race(url, workers, jobs, bare_sql.work, batch)
    if sum(done for done, _ in results) != jobs:
        raise SystemExit("bare loops lost jobs")
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="jobs per worker process")
    args = parser.parse_args()
    best = {"sqlite": 0.0, "postgres": 0.0}
    baseline: dict[str, float] = {}
    rates: dict[tuple[str, int], float] = {}
    doubles = 0
    plan = [("sqlite", 1), ("sqlite", 4), ("postgres", 1), ("postgres", 4), ("postgres", 8)]
    print(f"{'database':<9} {'workers':>7} {'jobs/s':>9} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for backend, workers in plan:
            with temporary_database(backend, Path(folder)) as url:
                rate, latencies, double = run(url, workers, args.jobs, args.concurrency)
            baseline.setdefault(backend, rate)
            rates[(backend, workers)] = rate
            best[backend] = max(best[backend], rate)
            doubles += double
            q = statistics.quantiles(latencies, n=100)
            print(
                f"{backend:<9} {workers:>7} {rate:>9.0f} {rate / baseline[backend]:>7.2f} "
                f"{q[49] * 1000:>8.2f} {q[98] * 1000:>8.2f}",
                flush=True,
            )
        bare = ceiling(Path(folder), 8, args.jobs, args.concurrency)
    engine8 = rates[("postgres", 8)]
    print(
        f"postgres 8 processes, same SQL in bare psycopg loops: {bare:.0f} jobs/s; "
        f"the engine reaches {engine8 / bare:.2f} of it"
    )
    sqlite, postgres = best["sqlite"], best["postgres"]
    print(f"jobs/s sqlite={sqlite:.0f} postgres={postgres:.0f} double_claims={doubles}")


if __name__ == "__main__":
    main()
