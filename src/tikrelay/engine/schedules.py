"""Recurring jobs: an interval or a cron expression, active hours in a time zone, and jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from tikrelay.engine.service import JobService
from tikrelay.store import schedules_sql


@dataclass(frozen=True)
class Schedule:
    """Run job ``kind`` with ``payload`` every ``interval_seconds`` or on ``cron`` (in
    ``timezone``), only between ``active_from`` and ``active_until`` (``"HH:MM"``, local; a
    window may cross midnight), each time up to ``jitter_seconds`` late."""

    name: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    interval_seconds: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    active_from: str | None = None
    active_until: str | None = None
    jitter_seconds: float = 0.0

    def __post_init__(self) -> None:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name}: give exactly one of interval_seconds, cron")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"schedule {self.name}: {self.cron!r} is not a cron expression")
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if (self.active_from is None) != (self.active_until is None):
            raise ValueError(f"schedule {self.name}: give both active_from and active_until")


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _in_window(local: datetime, start: time, end: time) -> bool:
    now = local.time()
    return start <= now < end if start < end else now >= start or now < end


def _window_start(local: datetime, start: time) -> datetime:
    candidate = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + timedelta(days=1)


def next_fire(schedule: Schedule, after: datetime, rng: random.Random) -> datetime:
    """The first occurrence strictly after ``after`` (aware), moved into the active window,
    plus jitter."""
    zone = ZoneInfo(schedule.timezone)
    local = after.astimezone(zone)
    if schedule.cron is not None:
        nxt: datetime = croniter(schedule.cron, local).get_next(datetime)
    else:
        nxt = local + timedelta(seconds=schedule.interval_seconds or 0)
    if schedule.active_from is not None and schedule.active_until is not None:
        start, end = _hhmm(schedule.active_from), _hhmm(schedule.active_until)
        if not _in_window(nxt, start, end):
            nxt = _window_start(nxt, start)
            if schedule.cron is not None:  # the first cron time inside the window
                nxt = croniter(schedule.cron, nxt - timedelta(seconds=1)).get_next(datetime)
    jitter = rng.uniform(0, schedule.jitter_seconds) if schedule.jitter_seconds else 0.0
    return nxt.astimezone(after.tzinfo) + timedelta(seconds=jitter)


def save(
    service: JobService,
    schedule: Schedule,
    rng: random.Random,
    *,
    first_at: datetime | None = None,
) -> None:
    """Store (or redefine) a schedule; it first fires at ``first_at``, else at its next
    occurrence from now."""
    save_many(service, [(schedule, first_at)], rng)


def save_many(
    service: JobService,
    found: Sequence[tuple[Schedule, datetime | None]],
    rng: random.Random,
) -> None:
    """``save`` for many schedules in one transaction (a service's thousands of sources)."""
    now = service.queue.clock()
    with service.queue.transaction() as conn:
        for schedule, first_at in found:
            service.registry.get(schedule.kind)
            values = {
                "name": schedule.name,
                "kind": schedule.kind,
                "payload": schedule.payload,
                "interval_seconds": schedule.interval_seconds,
                "cron": schedule.cron,
                "timezone": schedule.timezone,
                "active_from": schedule.active_from,
                "active_until": schedule.active_until,
                "jitter_seconds": schedule.jitter_seconds,
                "next_run_at": first_at or next_fire(schedule, now, rng),
                "enabled": True,
            }
            schedules_sql.upsert(conn, values)


def prune(service: JobService, prefix: str, keep: list[str]) -> int:
    """Forget the schedules named ``prefix…`` other than ``keep`` (e.g. removed sources)."""
    with service.queue.transaction() as conn:
        return schedules_sql.remove_others(conn, prefix, keep)


def fire_due(service: JobService, rng: random.Random) -> int:
    """Enqueue a job for every due schedule, in the transaction that advances it. The job's
    dedupe key is the schedule's name: a slow run is never doubled by the next occurrence."""
    now = service.queue.clock()
    fired = 0
    with service.queue.transaction() as conn:
        for row in schedules_sql.due(conn, now):
            if row.kind not in service.registry:
                continue  # a worker that knows this kind will fire it
            spec = Schedule(
                name=row.name,
                kind=row.kind,
                payload=dict(row.payload),
                interval_seconds=row.interval_seconds,
                cron=row.cron,
                timezone=row.timezone,
                active_from=row.active_from,
                active_until=row.active_until,
                jitter_seconds=row.jitter_seconds,
            )
            following = next_fire(spec, max(now, row.next_run_at), rng)
            if not schedules_sql.advance(conn, row.name, row.next_run_at, following, now):
                continue
            service.enqueue(row.kind, row.payload, dedupe_key=f"schedule:{row.name}", conn=conn)
            fired += 1
    return fired
