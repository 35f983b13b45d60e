"""The interactive bot's SQL: the updates it took from Telegram."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from tikrelay.store.tables import bot_updates


def last_update_id(conn: Connection) -> int | None:
    """The newest update taken, or None before the first."""
    found = conn.execute(select(func.max(bot_updates.c.update_id))).scalar()
    return None if found is None else int(found)


def is_taken(conn: Connection, update_id: int) -> bool:
    query = select(bot_updates.c.update_id).where(bot_updates.c.update_id == update_id)
    return conn.execute(query).first() is not None


def take_update(conn: Connection, update_id: int, job_id: int | None, now: datetime) -> None:
    conn.execute(insert(bot_updates).values(update_id=update_id, job_id=job_id, received_at=now))
