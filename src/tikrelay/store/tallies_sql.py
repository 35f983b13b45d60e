"""Totals per UTC day (``tallies``), kept up in the transaction that writes what they count.

One row per name, label and day: a delivery adds one to ``delivered`` for its destination, a
download its bytes to ``bytes_downloaded`` for its site, an upload its bytes to
``bytes_uploaded`` for its destination. Readers sum a few rows per day instead of counting the
history. The row is written with the database's own upsert (``INSERT … ON CONFLICT DO
UPDATE``, which SQLite and PostgreSQL both have), so two workers adding to the same row at once
both count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tikrelay.store.tables import tallies

DELIVERED = "delivered"
BYTES_DOWNLOADED = "bytes_downloaded"
BYTES_UPLOADED = "bytes_uploaded"
#: Every name a tally has.
NAMES = (DELIVERED, BYTES_DOWNLOADED, BYTES_UPLOADED)

_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def _upsert(dialect: str) -> Insert:
    statement = _INSERTS[dialect](tallies)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[tallies.c.name, tallies.c.label, tallies.c.day],
        set_={
            "value": tallies.c.value + statement.excluded.value,
            "last_at": func.max(tallies.c.last_at, statement.excluded.last_at)
            if dialect == "sqlite"
            else func.greatest(tallies.c.last_at, statement.excluded.last_at),
        },
    )


# Built once per dialect: a built statement is compiled once.
_UPSERTS = {dialect: _upsert(dialect) for dialect in _INSERTS}


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


def _aware(value: Any) -> datetime:
    """``max()`` of a time column: SQLite gives its stored text back, not the column's type."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
