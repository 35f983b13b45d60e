"""The finished jobs' retention on a backlog: how long a pass takes and how long its longest
transaction holds the write lock, on SQLite and PostgreSQL.

    uv run python bench/prune_jobs.py [--jobs 100000] [--events 7]

The database holds ``--jobs`` completed poll jobs finished ten days ago, each with ``--events``
timeline rows (a poll writes about seven), and a day of recent ones that must stay. The pass is
``JobQueue.prune_finished`` with the default retention. The baseline, measured in the same run
on the same rows, is one transaction deleting everything at once: the time it holds the lock is
what the batches avoid. The last line is machine-readable:
``prune_jobs jobs=<n> sqlite_s=<s> sqlite_worst_ms=<ms> postgres_s=<s> postgres_worst_ms=<ms>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, delete, func, insert, select
from tests.support.jobs_db import BACKENDS, FakeClock, temporary_database

from tikrelay.config import load_settings
from tikrelay.domain.retention import Retention
from tikrelay.store import JobQueue, open_engine, retention_sql
from tikrelay.store.tables import job_events, jobs

RECENT = 1000  # jobs of the last day: they stay
RETENTION = Retention(timedelta(days=7), timedelta(days=30), {"poll": timedelta(days=1)})


def fill(engine: Engine, clock: FakeClock, count: int, events: int) -> None:
    old, recent = clock.now - timedelta(days=10), clock.now - timedelta(hours=1)
    with engine.begin() as conn:
        for start in range(0, count + RECENT, 5000):
            rows = []
            for n in range(start, min(count + RECENT, start + 5000)):
                at = old if n < count else recent
                rows.append(
                    {
                        "kind": "poll",
                        "payload": {"source": f"tiktok:@creator{n}"},
                        "status": "COMPLETED",
                        "max_attempts": 3,
                        "run_at": at,
                        "created_at": at,
                        "updated_at": at,
                        "finished_at": at,
                    }
                )
            conn.execute(insert(jobs), rows)
        ids = list(conn.execute(select(jobs.c.id).order_by(jobs.c.id)).scalars())
        for start in range(0, len(ids), 2000):
            conn.execute(
                insert(job_events),
                [
                    {"job_id": job_id, "type": "STATUS_CHANGED", "data": {"n": n}, "at": old}
                    for job_id in ids[start : start + 2000]
                    for n in range(events)
                ],
            )


def batched(engine: Engine, clock: FakeClock) -> tuple[float, float, retention_sql.Pruned]:
    """The real pass: total seconds and its longest transaction."""
    longest = 0.0
    original = retention_sql.prune_batch

    def timed(*args: Any, **kwargs: Any) -> Any:
        nonlocal longest
        started = time.perf_counter()
        result = original(*args, **kwargs)
        longest = max(longest, time.perf_counter() - started)
        return result

    retention_sql.prune_batch = timed  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        found = JobQueue(engine, clock=clock).prune_finished(RETENTION)
        return time.perf_counter() - started, longest, found
    finally:
        retention_sql.prune_batch = original  # type: ignore[assignment]


def at_once(engine: Engine, clock: FakeClock) -> float:
    """The baseline: one transaction deletes every expired job and its events."""
    cutoff = clock.now - timedelta(days=1)
    expired = select(jobs.c.id).where(jobs.c.status == "COMPLETED", jobs.c.finished_at < cutoff)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(delete(job_events).where(job_events.c.job_id.in_(expired)))
        conn.execute(delete(jobs).where(jobs.c.id.in_(expired)))
    return time.perf_counter() - started


def measure(backend: str, folder: Path, count: int, events: int) -> tuple[float, float]:
    clock = FakeClock()
    results = []
    for way in ("batched", "at once"):
        with temporary_database(backend, folder) as url:
            settings = load_settings(None, state_dir=str(folder / "state"), database_url=url)
            engine = open_engine(settings)
            try:
                fill(engine, clock, count, events)
                if way == "batched":
                    seconds, longest, found = batched(engine, clock)
                    assert found.jobs == count, found
                else:
                    seconds = longest = at_once(engine, clock)
                with engine.connect() as conn:
                    left = conn.execute(select(func.count()).select_from(jobs)).scalar_one()
                assert left == RECENT, left
                results.append((seconds, longest))
            finally:
                engine.dispose()
    (total, worst), (_, baseline) = results
    print(
        f"{backend:<10} {count:,} jobs, {count * events:,} events: pass {total:.1f} s, "
        f"longest transaction {worst * 1000:.0f} ms; one transaction for all {baseline:.1f} s "
        f"(longest lock x {worst / baseline:.3f})"
    )
    return total, worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=7)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in BACKENDS:
            figures[backend] = measure(backend, Path(folder), args.jobs, args.events)
    print(
        f"prune_jobs jobs={args.jobs} "
        + " ".join(
            f"{name}_s={total:.2f} {name}_worst_ms={worst * 1000:.0f}"
            for name, (total, worst) in figures.items()
        )
    )


if __name__ == "__main__":
    main()
