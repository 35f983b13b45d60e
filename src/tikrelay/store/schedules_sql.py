"""Recurring work stored in the database: a schedule fires when its guarded ``next_run_at``
update succeeds, so several service instances never fire the same occurrence twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from tikrelay.store.tables import schedules


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    kind: str
    payload: Mapping[str, Any]
    interval_seconds: float | None
    cron: str | None
    timezone: str
    active_from: str | None
    active_until: str | None
    jitter_seconds: float
    next_run_at: datetime
    last_run_at: datetime | None
    enabled: bool


def _row(row: Row[Any]) -> ScheduleRow:
    return ScheduleRow(**{k: row._mapping[k] for k in ScheduleRow.__dataclass_fields__})


def upsert(conn: Connection, values: Mapping[str, Any]) -> None:
    """Create or redefine a schedule; a redefinition keeps ``last_run_at``."""
    exists = conn.execute(
        select(schedules.c.name).where(schedules.c.name == values["name"])
    ).first()
    if exists:
        conn.execute(update(schedules).where(schedules.c.name == values["name"]).values(**values))
    else:
        conn.execute(schedules.insert().values(**values))


def remove_others(conn: Connection, prefix: str, keep: list[str]) -> int:
    """Delete the schedules named ``prefix…`` that are not in ``keep``."""
    query = delete(schedules).where(schedules.c.name.startswith(prefix, autoescape=True))
    if keep:
        query = query.where(schedules.c.name.not_in(keep))
    return conn.execute(query).rowcount


def get(conn: Connection, name: str) -> ScheduleRow | None:
    row = conn.execute(select(schedules).where(schedules.c.name == name)).first()
    return None if row is None else _row(row)


def due(conn: Connection, now: datetime, limit: int = 100) -> list[ScheduleRow]:
    query = (
        select(schedules)
        .where(schedules.c.enabled.is_(True), schedules.c.next_run_at <= now)
        .order_by(schedules.c.next_run_at)
        .limit(limit)
    )
    return [_row(row) for row in conn.execute(query)]


def advance(
    conn: Connection, name: str, seen: datetime, following: datetime, now: datetime
) -> bool:
    """Move ``next_run_at`` from ``seen`` to ``following``; False if another instance did first."""
    result = conn.execute(
        update(schedules)
        .where(schedules.c.name == name, schedules.c.next_run_at == seen)
        .values(next_run_at=following, last_run_at=now)
    )
    return result.rowcount == 1
