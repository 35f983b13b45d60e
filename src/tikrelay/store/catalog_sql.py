"""The catalog's SQL: source and destination rows, their origin, settings (JSON shaped like the
YAML entry) and times. What the rows mean and who may change them is ``reposter.catalog``'s.

Every function takes an open connection; writers call ``lock`` first in their transaction, so
that two processes syncing the same file, or a sync and a command, run one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, text, update

from tikrelay.store.tables import catalog_destinations, catalog_sources

#: Any constant works; it only has to be the same for every process writing the catalog.
_LOCK = 0x7469_6B72_6361_74  # "tikrcat"


@dataclass(frozen=True)
class SourceRow:
    key: str
    origin: str
    paused: bool
    settings: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DestinationRow:
    name: str
    origin: str
    settings: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


def _source(row: Row[Any]) -> SourceRow:
    return SourceRow(**{k: row._mapping[k] for k in SourceRow.__dataclass_fields__})


def _destination(row: Row[Any]) -> DestinationRow:
    return DestinationRow(**{k: row._mapping[k] for k in DestinationRow.__dataclass_fields__})


def lock(conn: Connection) -> None:
    """Serialise catalog writers. SQLite's ``BEGIN IMMEDIATE`` already holds the one write
    lock; PostgreSQL takes a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})


def version(conn: Connection) -> tuple[object, ...]:
    """What changes whenever a source or destination is added, changed, paused or removed: the
    rows' counts and their newest change."""
    found: list[object] = []
    for table in (catalog_sources, catalog_destinations):
        count, newest = conn.execute(select(func.count(), func.max(table.c.updated_at))).one()
        found += [count, newest]
    return tuple(found)


def sources(conn: Connection) -> list[SourceRow]:
    query = select(catalog_sources).order_by(catalog_sources.c.key)
    return [_source(row) for row in conn.execute(query)]


def source(conn: Connection, key: str) -> SourceRow | None:
    row = conn.execute(select(catalog_sources).where(catalog_sources.c.key == key)).first()
    return None if row is None else _source(row)


def insert_source(
    conn: Connection, key: str, origin: str, settings: Mapping[str, Any], now: datetime
) -> None:
    conn.execute(
        insert(catalog_sources).values(
            key=key,
            origin=origin,
            paused=False,
            settings=dict(settings),
            created_at=now,
            updated_at=now,
        )
    )


def replace_source(
    conn: Connection, key: str, origin: str, settings: Mapping[str, Any], now: datetime
) -> None:
    """New settings and origin for an existing row; it runs (unpaused) from now on."""
    conn.execute(
        update(catalog_sources)
        .where(catalog_sources.c.key == key)
        .values(origin=origin, paused=False, settings=dict(settings), updated_at=now)
    )


def set_paused(conn: Connection, key: str, paused: bool, now: datetime) -> bool:
    """True if the row changed (it was not in that state already)."""
    result = conn.execute(
        update(catalog_sources)
        .where(catalog_sources.c.key == key, catalog_sources.c.paused.is_(not paused))
        .values(paused=paused, updated_at=now)
    )
    return result.rowcount == 1


def delete_sources(conn: Connection, keys: list[str]) -> int:
    if not keys:
        return 0
    return conn.execute(delete(catalog_sources).where(catalog_sources.c.key.in_(keys))).rowcount


def destinations(conn: Connection) -> list[DestinationRow]:
    query = select(catalog_destinations).order_by(catalog_destinations.c.name)
    return [_destination(row) for row in conn.execute(query)]


def destination(conn: Connection, name: str) -> DestinationRow | None:
    query = select(catalog_destinations).where(catalog_destinations.c.name == name)
    row = conn.execute(query).first()
    return None if row is None else _destination(row)


def insert_destination(
    conn: Connection, name: str, origin: str, settings: Mapping[str, Any], now: datetime
) -> None:
    conn.execute(
        insert(catalog_destinations).values(
            name=name, origin=origin, settings=dict(settings), created_at=now, updated_at=now
        )
    )


def replace_destination(
    conn: Connection, name: str, origin: str, settings: Mapping[str, Any], now: datetime
) -> None:
    conn.execute(
        update(catalog_destinations)
        .where(catalog_destinations.c.name == name)
        .values(origin=origin, settings=dict(settings), updated_at=now)
    )


def delete_destinations(conn: Connection, names: list[str]) -> int:
    if not names:
        return 0
    query = delete(catalog_destinations).where(catalog_destinations.c.name.in_(names))
    return conn.execute(query).rowcount
