"""Totals per UTC day (``tallies``, ``stage_seconds``), kept up in the transaction that writes
what they count.

One row per name, label and day: a delivery adds one to ``delivered`` for its destination, a
download its bytes to ``bytes_downloaded`` for its site, an upload its bytes to
``bytes_uploaded`` for its destination. Readers sum a few rows per day instead of counting the
history. The row is written with the database's own upsert (``INSERT … ON CONFLICT DO
UPDATE``, which SQLite and PostgreSQL both have), so two workers adding to the same row at once
both count. Each STAGE_FINISHED event written (``store.transition.add_events``) adds its
stage's seconds to a bucket of ``stage_seconds``: the stage duration histogram of the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from tikrelay.store import upserts
from tikrelay.store.tables import stage_seconds, tallies

DELIVERED = "delivered"
BYTES_DOWNLOADED = "bytes_downloaded"
BYTES_UPLOADED = "bytes_uploaded"
#: Every name a tally has.
NAMES = (DELIVERED, BYTES_DOWNLOADED, BYTES_UPLOADED)
#: Bucket bounds (seconds) of the job and stage duration histograms: a poll takes about a
#: second, a delivery of a large video minutes.
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
INFINITY = "+Inf"


def _added(statement: Any, dialect: str) -> dict[str, Any]:
    latest = func.max if dialect == "sqlite" else func.greatest
    return {
        "value": tallies.c.value + statement.excluded.value,
        "last_at": latest(tallies.c.last_at, statement.excluded.last_at),
    }


_UPSERTS = upserts.per_dialect(tallies, [tallies.c.name, tallies.c.label, tallies.c.day], _added)


def add(conn: Connection, name: str, label: str, amount: int, at: datetime) -> None:
    """Add ``amount`` to the tally of ``name`` and ``label`` for the UTC day of ``at``."""
    if amount <= 0:
        return
    conn.execute(
        _UPSERTS[conn.dialect.name],
        {
            "name": name,
            "label": label,
            "day": at.astimezone(UTC).date(),
            "value": amount,
            "last_at": at,
        },
    )


@dataclass(frozen=True)
class Total:
    label: str
    value: int
    last_at: datetime


def totals(conn: Connection, name: str) -> list[Total]:
    """All time, per label (in label order)."""
    query = (
        select(tallies.c.label, func.sum(tallies.c.value), func.max(tallies.c.last_at))
        .where(tallies.c.name == name)
        .group_by(tallies.c.label)
        .order_by(tallies.c.label)
    )
    return [
        Total(str(label), int(value), _aware(last)) for label, value, last in conn.execute(query)
    ]


def per_day(conn: Connection, name: str, first: date) -> dict[date, int]:
    """From the UTC day ``first`` on, per day, all labels together."""
    query = (
        select(tallies.c.day, func.sum(tallies.c.value))
        .where(tallies.c.name == name, tallies.c.day >= first)
        .group_by(tallies.c.day)
    )
    return {day: int(value) for day, value in conn.execute(query)}


_STAGE_UPSERTS = upserts.per_dialect(
    stage_seconds,
    [stage_seconds.c.stage, stage_seconds.c.bound, stage_seconds.c.day],
    lambda statement, _: {
        "count": stage_seconds.c.count + statement.excluded.count,
        "seconds": stage_seconds.c.seconds + statement.excluded.seconds,
    },
)


def bound_of(seconds: float) -> str:
    """The smallest bucket bound ``seconds`` is within, as the table writes it."""
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return repr(bound)
    return INFINITY


def add_stages(conn: Connection, stages: Iterable[tuple[str, float]], at: datetime) -> None:
    """Count finished stages (name, seconds) into today's buckets: one row per stage and
    bucket, however many stages of a batch fall into it."""
    found: dict[tuple[str, str], list[float]] = {}
    for stage, seconds in stages:
        row = found.setdefault((stage[:40], bound_of(seconds)), [0, 0.0])
        row[0] += 1
        row[1] += seconds
    if not found:
        return
    day = at.astimezone(UTC).date()
    conn.execute(
        _STAGE_UPSERTS[conn.dialect.name],
        [
            {"stage": stage, "bound": bound, "day": day, "count": int(n), "seconds": total}
            for (stage, bound), (n, total) in sorted(found.items())
        ],
    )


@dataclass(frozen=True)
class Histogram:
    """One stage's durations: how many took at most each bound of ``DURATION_BUCKETS``
    (cumulative), all of them, and their sum."""

    within: list[int]
    count: int
    total: float


def stage_histograms(conn: Connection) -> dict[str, Histogram]:
    """All time, per stage."""
    query = select(
        stage_seconds.c.stage,
        stage_seconds.c.bound,
        func.sum(stage_seconds.c.count),
        func.sum(stage_seconds.c.seconds),
    ).group_by(stage_seconds.c.stage, stage_seconds.c.bound)
    counts: dict[str, dict[str, int]] = {}
    totals: dict[str, float] = {}
    for stage, bound, n, seconds in conn.execute(query):
        counts.setdefault(stage, {})[bound] = int(n)
        totals[stage] = totals.get(stage, 0.0) + float(seconds)
    found = {}
    for stage, per_bound in sorted(counts.items()):
        running, within = 0, []
        for bound in DURATION_BUCKETS:
            running += per_bound.get(repr(bound), 0)
            within.append(running)
        count = running + per_bound.get(INFINITY, 0)
        found[stage] = Histogram(within, count, totals[stage])
    return found


def _aware(value: Any) -> datetime:
    """``max()`` of a time column: SQLite gives its stored text back, not the column's type."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
