"""The dashboard under a big history: the overview page, the job list and the post list with
100,000 posts and 1,000,000 job events, on SQLite and on PostgreSQL.

    uv run python bench/web_load.py [--posts 100000] [--events 1000000] [--requests 200]

Each database is fresh (SQLite in a temporary state folder; PostgreSQL as a new database on
127.0.0.1:5432, dropped afterwards) and made by ``Runtime.open`` (the real migrations), with 20
sources and 2 destinations in the catalog. It is then filled by bulk inserts through SQLAlchemy
Core into the real tables: ``--posts`` posts first seen over the last year, each listed by one
source and delivered to one or two destinations; jobs (one deliver job per delivery, a poll
job for the rest; 2 % FAILED with an error kind, a few waiting) with eight timeline rows each
until ``--events`` rows, written by one INSERT ... SELECT; the totals the program keeps up as it
goes (``tallies``, each source's ``listed`` and ``delivered``) are written for that history. Both
databases are then analyzed, as autovacuum or ``PRAGMA optimize`` would.

The real app (``create_app`` over that runtime, with the token) answers in-process through
httpx's ASGI transport, one request at a time: after 10 untimed warm-up requests, ``--requests``
timed ones of each route, ``GET /`` (the overview page, with the token), ``GET
/api/jobs?limit=50`` and ``GET /api/posts?limit=50``; every answer must be 200. The baseline,
timed the same way in the same run, is ``GET /healthz``: what the app and the transport cost
without any query. It prints p50 and p95 per route per database, the ratio of each p95 to the
baseline's, the target line (p95 at most 100 ms) and last
``web_load sqlite_p95_ms=<worst route> postgres_p95_ms=<worst route>``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import structlog
from pydantic import SecretStr
from sqlalchemy import (
    Connection,
    Engine,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.types import JSON
from tests.support.jobs_db import temporary_database

from tikrelay.config import load_settings
from tikrelay.domain.jobs import JobEvent
from tikrelay.reposter.model import DELIVER, POLL
from tikrelay.runtime.app import Runtime
from tikrelay.store.tables import (
    deliveries,
    job_events,
    jobs,
    posts,
    source_posts,
    sources,
    tallies,
)
from tikrelay.web.app import create_app

TOKEN = "web-load-bench-token-0123456789"  # noqa: S105 - a made-up token for this app only
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TARGET_MS = 100.0
SOURCES = 20
DESTINATIONS = ("clips", "archive-chat")
EVENTS_PER_JOB = 8
BATCH = 5000
WARM_UP = 10
ROUTES = ("/", "/api/jobs?limit=50", "/api/posts?limit=50")
BASELINE = "/healthz"
NOW = datetime.now(UTC).replace(microsecond=0)
FAILURE_KINDS = ("NETWORK", "RATE_LIMITED", "NOT_FOUND", "UNKNOWN")
#: A job's timeline, as a deliver job writes it (created, claimed, stages, completed).
TIMELINE = (
    JobEvent.JOB_CREATED,
    JobEvent.STATUS_CHANGED,
    JobEvent.STAGE_STARTED,
    JobEvent.STAGE_FINISHED,
    JobEvent.STAGE_STARTED,
    JobEvent.STAGE_FINISHED,
    JobEvent.STAGE_STARTED,
    JobEvent.STATUS_CHANGED,
)


def settings_for(state: Path, database_url: str | None) -> Any:
    return load_settings(
        None,
        state_dir=str(state),
        database_url=database_url,
        destinations={
            name: {"telegram": {"chat_id": -1001000 - n}} for n, name in enumerate(DESTINATIONS)
        },
        sources=[
            {"tiktok": f"@creator{n}", "to": list(DESTINATIONS[: 1 + n % 2])}
            for n in range(SOURCES)
        ],
    )


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[start : start + BATCH] for start in range(0, len(rows), BATCH)]


def fill(engine: Engine, post_count: int, event_count: int) -> dict[str, int]:
    """Posts, their sources' listings and deliveries, jobs and job events; returns counts."""
    year = timedelta(days=365)
    with engine.begin() as conn:
        source_ids = [
            conn.execute(
                insert(sources).returning(sources.c.id),
                {
                    "key": f"tiktok:@creator{n}",
                    "site": "tiktok",
                    "handle": f"creator{n}",
                    "created_at": NOW - year,
                    "first_polled_at": NOW - year,
                    "last_polled_at": NOW,
                },
            ).scalar_one()
            for n in range(SOURCES)
        ]
        post_rows, listed, sent = [], [], []
        for n in range(post_count):
            seen = NOW - year * (n / post_count)
            key = f"tiktok:{7300000000000000000 + n}"
            creator = n % SOURCES
            post_rows.append(
                {
                    "key": key,
                    "site": "tiktok",
                    "native_id": key[7:],
                    "kind": "video",
                    "url": f"https://www.tiktok.com/@creator{creator}/video/{key[7:]}",
                    "author": f"creator{creator}",
                    "created_at": seen - timedelta(hours=1),
                    "data": {"text": f"post {n} #bench", "hashtags": ["bench"]},
                    "first_seen_at": seen,
                }
            )
            listed.append({"source_id": source_ids[creator], "post_key": key, "seen_at": seen})
            if n % 10:  # nine posts in ten were delivered, to one or two destinations
                for name in DESTINATIONS[: 1 + creator % 2]:
                    sent.append(
                        {
                            "post_key": key,
                            "destination": name,
                            "chat_id": "-1001000",
                            "message_ids": [n],
                            "delivered_at": seen + timedelta(minutes=2),
                        }
                    )
        for table, rows in ((posts, post_rows), (source_posts, listed), (deliveries, sent)):
            for batch in _batches(rows):
                conn.execute(insert(table), batch)
        _keep_totals(conn, source_ids, sent, post_count)
    job_count = event_count // EVENTS_PER_JOB
    with engine.begin() as conn:
        for start in range(0, job_count, BATCH):
            conn.execute(
                insert(jobs),
                [_job(n, job_count) for n in range(start, min(start + BATCH, job_count))],
            )
        # Eight rows per job, made by the database: a UNION ALL of literals (SQLite has no
        # VALUES with column names), joined to every job.
        steps = union_all(
            *[
                select(literal(step).label("step"), literal(str(kind)).label("type"))
                for step, kind in enumerate(TIMELINE)
            ]
        ).subquery("timeline")
        conn.execute(
            insert(job_events).from_select(
                ["job_id", "type", "data", "at"],
                select(
                    jobs.c.id,
                    steps.c.type,
                    literal({"bench": True}, JSON),
                    jobs.c.created_at,
                )
                .select_from(jobs.join(steps, true()))
                .order_by(jobs.c.id, steps.c.step),
            )
        )
        found = {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (
                ("posts", posts),
                ("deliveries", deliveries),
                ("jobs", jobs),
                ("job_events", job_events),
            )
        }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return found


def _keep_totals(
    conn: Connection, source_ids: list[int], sent: list[dict[str, Any]], post_count: int
) -> None:
    """The totals the program keeps up as it lists and delivers (``tallies``, and each
    source's ``listed`` and ``delivered``), as they stand after this history."""
    per_day: Counter[tuple[str, Any]] = Counter()
    last: dict[tuple[str, Any], datetime] = {}
    delivered: Counter[int] = Counter()
    for row in sent:
        at = row["delivered_at"]
        day = (row["destination"], at.date())
        per_day[day] += 1
        last[day] = max(last.get(day, at), at)
        delivered[int(row["post_key"].removeprefix("tiktok:")) % SOURCES] += 1  # its creator
    for creator, source_id in enumerate(source_ids):
        conn.execute(
            update(sources)
            .where(sources.c.id == source_id)
            .values(listed=len(range(creator, post_count, SOURCES)), delivered=delivered[creator])
        )
    rows = [
        {"name": "delivered", "label": name, "day": day, "value": n, "last_at": last[name, day]}
        for (name, day), n in per_day.items()
    ]
    for batch in _batches(rows):
        conn.execute(insert(tallies), batch)


def _job(n: int, count: int) -> dict[str, Any]:
    at = NOW - timedelta(days=7) * ((count - n) / count)
    status, kind, error = "COMPLETED", DELIVER if n % 4 else POLL, None
    if n % 50 == 7:
        status, error = "FAILED", FAILURE_KINDS[n % len(FAILURE_KINDS)]
    elif n >= count - 20:
        status = "QUEUED"
    finished = at + timedelta(seconds=30) if status != "QUEUED" else None
    return {
        "kind": kind,
        "payload": {"post": f"tiktok:{n}"},
        "status": status,
        "max_attempts": 5,
        "run_at": at,
        "created_at": at,
        "updated_at": finished or at,
        "started_at": finished and at,
        "finished_at": finished,
        "error_kind": error,
        "error_message": "bench failure" if error else None,
        "dedupe_key": f"{kind}:tiktok:{n}:clips",
    }


async def time_routes(runtime: Runtime, count: int) -> dict[str, list[float]]:
    app = create_app(runtime, SecretStr(TOKEN))
    transport = httpx.ASGITransport(app=app)
    found: dict[str, list[float]] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://web", headers=AUTH) as web:
        for route in (BASELINE, *ROUTES):
            for _ in range(WARM_UP):
                (await web.get(route)).raise_for_status()
            times = []
            for _ in range(count):
                started = time.perf_counter()
                answer = await web.get(route)
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{route} answered {answer.status_code}: {answer.text[:200]}")
            found[route] = times
    return found


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[94]


def run(backend: str, folder: Path, args: argparse.Namespace) -> float:
    """Fill one database, time the routes, print them; the worst route's p95 in ms."""
    with temporary_database(backend, folder) as url:
        database_url = None if backend == "sqlite" else url
        state = folder / backend
        with Runtime.open(settings_for(state, database_url), reposter=False) as runtime:
            started = time.perf_counter()
            counts = fill(runtime.queue.engine, args.posts, args.events)
            filled = time.perf_counter() - started
            shown = ", ".join(f"{n:,} {name}" for name, n in counts.items())
            print(f"{backend}: filled {shown} in {filled:.1f} s")
            timed = asyncio.run(time_routes(runtime, args.requests))
    base = p95(timed[BASELINE])
    print(f"  {'route':<24} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15}")
    for route, times in timed.items():
        name = f"{route} (baseline)" if route == BASELINE else route
        high = p95(times)
        print(f"  {name:<24} {statistics.median(times):8.1f} {high:8.1f} {high / base:14.1f}x")
    return max(p95(timed[route]) for route in ROUTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    worst = {}
    with tempfile.TemporaryDirectory(prefix="tikrelay-web-load-") as folder:
        for backend in ("sqlite", "postgres"):
            worst[backend] = run(backend, Path(folder), args)
    for backend, ms in worst.items():
        verdict = "met" if ms <= TARGET_MS else "MISSED"
        print(f"target: {backend} worst p95 {ms:.1f} ms <= {TARGET_MS:.0f} ms: {verdict}")
    print(f"web_load sqlite_p95_ms={worst['sqlite']:.1f} postgres_p95_ms={worst['postgres']:.1f}")


if __name__ == "__main__":
    main()
