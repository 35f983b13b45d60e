"""The ceiling for bench/jobs.py on this machine: the engine's claim and completion statements
(the same CTEs ``move`` sends) run by bare psycopg loops, with no worker, asyncio, SQLAlchemy
or job objects around them. bench/jobs.py prints the engine's rate as a share of this one."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

CLAIM = """
WITH picked AS (
    SELECT id FROM jobs
    WHERE status = 'QUEUED' AND concurrency_key IS NULL AND kind = ANY(%(kinds)s)
    ORDER BY priority DESC, run_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
moved AS (
    UPDATE jobs SET status = 'RUNNING', updated_at = %(now)s, worker_id = %(worker)s,
        lease_until = %(lease)s, attempts = jobs.attempts + 1, started_at = %(now)s
    WHERE jobs.status = 'QUEUED' AND jobs.id IN (SELECT id FROM picked) RETURNING jobs.*),
timeline AS (
    INSERT INTO job_events (job_id, type, data, at)
    SELECT id, 'STATUS_CHANGED', %(event)s::json, %(now)s FROM moved)
SELECT * FROM moved
"""
COMPLETE = """
WITH moved AS (
    UPDATE jobs SET status = 'COMPLETED', updated_at = %(now)s, finished_at = %(now)s,
        lease_until = NULL
    WHERE jobs.status = 'RUNNING' AND id = ANY(%(ids)s) AND worker_id = %(worker)s
    RETURNING id),
timeline AS (
    INSERT INTO job_events (job_id, type, data, at)
    SELECT id, 'STATUS_CHANGED', %(event)s::json, %(now)s FROM moved)
SELECT id FROM moved
"""
PLAN = "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)"


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _claim(conn: psycopg.Connection[Any], worker: str, limit: int) -> list[int]:
    now = datetime.now(UTC)
    event = {"from": "QUEUED", "to": "RUNNING", "worker_id": worker}
    params = {
        "kinds": ["noop"],
        "limit": limit,
        "now": now,
        "worker": worker,
        "lease": now + timedelta(seconds=60),
        "event": json.dumps(event),
    }
    with conn.transaction():
        conn.execute(PLAN)
        return [row[0] for row in conn.execute(CLAIM, params)]


def _complete(conn: psycopg.Connection[Any], worker: str, ids: list[int]) -> None:
    event = json.dumps({"from": "RUNNING", "to": "COMPLETED"})
    params = {"ids": ids, "now": datetime.now(UTC), "worker": worker, "event": event}
    with conn.transaction():
        conn.execute(COMPLETE, params).fetchall()


def work(url: str, batch: int, go: Any, out: Any) -> None:
    """One process: claim a batch, complete it, until the queue is empty."""
    worker = f"bare:{os.getpid()}"
    with psycopg.connect(libpq_url(url)) as conn:
        go.wait()
        done = 0
        while ids := _claim(conn, worker, batch):
            _complete(conn, worker, ids)
            done += len(ids)
    out.put((done, time.perf_counter()))
