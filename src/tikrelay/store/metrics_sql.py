"""What the Prometheus metrics report, read from the database at scrape time: whichever process
did the work (a worker on another machine, a run that ended hours ago), a freshly started
reader sees it. Jobs and their timelines are kept for ``jobs.keep_days`` (failed ones for
``jobs.keep_failed_days``), so the figures read from them cover that window; deliveries and
bytes moved come from the totals kept up as they happen (``tallies``), never pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, case, func, select

from tikrelay.domain.errors import ErrorKind
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.store import tallies_sql
from tikrelay.store.tables import catalog_sources, job_events, jobs, sources
from tikrelay.store.tallies_sql import Histogram

#: A retry the engine scheduled from the server's own retry-after hint (``domain.retry``); only
#: Telegram's 429s carry one.
RETRY_AFTER = "retry-after"


@dataclass(frozen=True)
class PollFigures:
    """A source's last successful poll: when, and how long reading its feed took."""

    source: str
    last_polled_at: datetime | None
    last_poll_seconds: float | None


@dataclass(frozen=True)
class MetricFigures:
    jobs: dict[tuple[str, str], int]  # (status, kind) -> jobs
    deliveries: dict[str, int]  # destination -> posts delivered there
    failures: dict[str, int]  # error kind -> jobs that failed for good
    retry_after_seconds: float  # waits scheduled from Telegram's retry_after
    durations: dict[str, Histogram]  # kind -> durations of its last attempts
    stages: dict[str, Histogram]  # stage -> its durations, all time
    bytes_downloaded: dict[str, int]  # site -> bytes
    bytes_uploaded: dict[str, int]  # destination -> bytes (to Telegram or an archive)
    polls: list[PollFigures]  # per source, in key order


def metric_figures(engine: Engine, bounds: Sequence[float]) -> MetricFigures:
    """Every figure in one read; ``bounds`` are the duration histogram's buckets (seconds)."""
    with engine.connect() as conn:
        return MetricFigures(
            jobs=_jobs(conn),
            deliveries=_deliveries(conn),
            failures=_failures(conn),
            retry_after_seconds=_retry_after_seconds(conn),
            durations=_durations(conn, bounds),
            stages=tallies_sql.stage_histograms(conn),
            bytes_downloaded=_totals(conn, tallies_sql.BYTES_DOWNLOADED),
            bytes_uploaded=_totals(conn, tallies_sql.BYTES_UPLOADED),
            polls=_polls(conn),
        )


def _jobs(conn: Connection) -> dict[tuple[str, str], int]:
    query = select(jobs.c.status, jobs.c.kind, func.count()).group_by(jobs.c.status, jobs.c.kind)
    return {(str(status), str(kind)): int(n) for status, kind, n in conn.execute(query)}


def _deliveries(conn: Connection) -> dict[str, int]:
    return _totals(conn, tallies_sql.DELIVERED)


def _totals(conn: Connection, name: str) -> dict[str, int]:
    return {total.label: total.value for total in tallies_sql.totals(conn, name)}


def _polls(conn: Connection) -> list[PollFigures]:
    """The sources being watched (in the catalog, not paused): a paused or removed source is
    polled no more, and its age would only grow."""
    query = (
        select(sources.c.key, sources.c.last_polled_at, sources.c.last_poll_seconds)
        .join(catalog_sources, catalog_sources.c.key == sources.c.key)
        .where(catalog_sources.c.paused.is_(False))
        .order_by(sources.c.key)
    )
    return [PollFigures(key, last, seconds) for key, last, seconds in conn.execute(query)]


def _failures(conn: Connection) -> dict[str, int]:
    kind = func.coalesce(jobs.c.error_kind, ErrorKind.UNKNOWN.value)
    query = select(kind, func.count()).where(jobs.c.status == JobStatus.FAILED.value).group_by(kind)
    return {str(name): int(n) for name, n in conn.execute(query)}


def _retry_after_seconds(conn: Connection) -> float:
    """The waits of RETRY_SCHEDULED events whose run_at came from a retry-after hint."""
    query = select(job_events.c.at, job_events.c.data).where(
        job_events.c.type == JobEvent.RETRY_SCHEDULED.value,
        job_events.c.data["reason"].as_string() == RETRY_AFTER,
    )
    total = 0.0
    for at, data in conn.execute(query):
        wait = data.get("wait_seconds")
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            total += max(0.0, float(wait))
        else:  # an event from before the wait was written with it
            total += max(0.0, (_moment(data.get("run_at"), at) - at).total_seconds())
    return total


def _moment(value: Any, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:  # an event written by hand, say: no wait rather than a failed scrape
        return fallback


def _seconds(dialect: str) -> ColumnElement[Any]:
    """A finished job's last attempt, claim to finish, in seconds, in SQL."""
    if dialect == "postgresql":
        return func.extract("epoch", jobs.c.finished_at - jobs.c.started_at)
    # SQLite keeps the times as fixed-width UTC text, which julianday() reads.
    return (func.julianday(jobs.c.finished_at) - func.julianday(jobs.c.started_at)) * 86400.0


def _durations(conn: Connection, bounds: Sequence[float]) -> dict[str, Histogram]:
    seconds = _seconds(conn.dialect.name)
    within = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
    query = (
        select(jobs.c.kind, func.count(), func.coalesce(func.sum(seconds), 0), *within)
        .where(
            jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]),
            jobs.c.started_at.is_not(None),
            jobs.c.finished_at.is_not(None),
        )
        .group_by(jobs.c.kind)
    )
    return {
        str(kind): Histogram([int(n or 0) for n in counts], int(count), float(total))
        for kind, count, total, *counts in conn.execute(query)
    }
