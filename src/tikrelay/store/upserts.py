"""``INSERT … ON CONFLICT``, which SQLite and PostgreSQL both have, built once per dialect (a
statement built once is compiled once); callers pick theirs by ``conn.dialect.name``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
#: What the row on conflict becomes: given the statement (its ``excluded`` row) and the dialect.
Update = Callable[[Any, str], Mapping[str, Any]]


def per_dialect(
    table: Table, keys: Sequence[Column[Any]], update: Update | None = None
) -> dict[str, Insert]:
    """An insert into ``table`` per dialect that, when a row with the same ``keys`` exists, does
    nothing (no ``update``: the first row stands) or sets what ``update`` says."""
    built: dict[str, Insert] = {}
    for dialect, insert in _INSERTS.items():
        statement = insert(table)
        if update is None:
            built[dialect] = statement.on_conflict_do_nothing(index_elements=list(keys))
        else:
            built[dialect] = statement.on_conflict_do_update(
                index_elements=list(keys), set_=dict(update(statement, dialect))
            )
    return built
