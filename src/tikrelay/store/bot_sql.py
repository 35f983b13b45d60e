"""The interactive bot's SQL: the updates it took from Telegram."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from tikrelay.store.tables import bot_state, bot_updates


def last_update_id(conn: Connection) -> int | None:
    """The newest update taken, or None before the first."""
    found = conn.execute(select(func.max(bot_updates.c.update_id))).scalar()
    return None if found is None else int(found)


def is_taken(conn: Connection, update_id: int) -> bool:
    query = select(bot_updates.c.update_id).where(bot_updates.c.update_id == update_id)
    return conn.execute(query).first() is not None


def take_update(conn: Connection, update_id: int, job_id: int | None, now: datetime) -> None:
    conn.execute(insert(bot_updates).values(update_id=update_id, job_id=job_id, received_at=now))


def state(conn: Connection, key: str) -> Any:
    """A shared switch's value, or None when never set."""
    return conn.execute(select(bot_state.c.value).where(bot_state.c.key == key)).scalar()


def set_state(conn: Connection, key: str, value: Any, now: datetime) -> None:
    conn.execute(delete(bot_state).where(bot_state.c.key == key))
    conn.execute(insert(bot_state).values(key=key, value=value, updated_at=now))
