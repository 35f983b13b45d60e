"""The interactive bot's SQL: the updates it took from Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from tikrelay.domain.jobs import ACTIVE_STATUSES
from tikrelay.store.tables import bot_requests, bot_state, bot_updates, bot_users, jobs


def last_update_id(conn: Connection) -> int | None:
    """The newest update taken, or None before the first."""
    found = conn.execute(select(func.max(bot_updates.c.update_id))).scalar()
    return None if found is None else int(found)


def is_taken(conn: Connection, update_id: int) -> bool:
    query = select(bot_updates.c.update_id).where(bot_updates.c.update_id == update_id)
    return conn.execute(query).first() is not None


def take_update(
    conn: Connection,
    update_id: int,
    job_id: int | None,
    now: datetime,
    *,
    user_id: int | None = None,
    chat_id: int | None = None,
) -> None:
    conn.execute(
        insert(bot_updates).values(
            update_id=update_id, job_id=job_id, user_id=user_id, chat_id=chat_id, received_at=now
        )
    )


def burst(conn: Connection, user_id: int, update_id: int, seconds: float) -> int:
    """How many updates the person sent in the ``seconds`` up to and with ``update_id`` (the
    spam guard's count; later ones, taken already, do not count)."""
    at = conn.execute(
        select(bot_updates.c.received_at).where(bot_updates.c.update_id == update_id)
    ).scalar()
    if at is None:
        return 0
    query = select(func.count()).where(
        bot_updates.c.user_id == user_id,
        bot_updates.c.update_id <= update_id,
        bot_updates.c.received_at >= at - timedelta(seconds=seconds),
    )
    return int(conn.execute(query).scalar_one())


def asked_already(conn: Connection, chat_id: int, message_id: int) -> bool:
    """Whether this message became a request before (its update handled again after a crash)."""
    query = select(bot_requests.c.job_id).where(
        bot_requests.c.chat_id == chat_id, bot_requests.c.message_id == message_id
    )
    return conn.execute(query).first() is not None


def add_request(
    conn: Connection,
    job_id: int,
    user_id: int | None,
    chat_id: int,
    message_id: int,
    now: datetime,
) -> None:
    conn.execute(
        insert(bot_requests).values(
            job_id=job_id, user_id=user_id, chat_id=chat_id, message_id=message_id, created_at=now
        )
    )


@dataclass(frozen=True)
class RequestCounts:
    active_of_user: int
    user_last_hour: int
    chat_last_hour: int
    active: int
    user_oldest: datetime | None  # the oldest of the person's requests since then
    chat_oldest: datetime | None


def request_counts(
    conn: Connection, user_id: int | None, chat_id: int, since: datetime
) -> RequestCounts:
    """What the limits are checked against: requests still waiting or running (of this person,
    and in all), and those made since ``since`` by this person and in this chat."""
    active = [s.value for s in ACTIVE_STATUSES]
    working = (
        select(func.count())
        .select_from(bot_requests.join(jobs, jobs.c.id == bot_requests.c.job_id))
        .where(jobs.c.status.in_(active))
    )
    recent = select(func.count()).where(bot_requests.c.created_at >= since)
    oldest = select(func.min(bot_requests.c.created_at)).where(bot_requests.c.created_at >= since)
    return RequestCounts(
        active_of_user=int(
            conn.execute(working.where(bot_requests.c.user_id == user_id)).scalar_one()
        ),
        user_last_hour=int(
            conn.execute(recent.where(bot_requests.c.user_id == user_id)).scalar_one()
        ),
        chat_last_hour=int(
            conn.execute(recent.where(bot_requests.c.chat_id == chat_id)).scalar_one()
        ),
        active=int(conn.execute(working).scalar_one()),
        user_oldest=_aware(
            conn.execute(oldest.where(bot_requests.c.user_id == user_id)).scalar_one()
        ),
        chat_oldest=_aware(
            conn.execute(oldest.where(bot_requests.c.chat_id == chat_id)).scalar_one()
        ),
    )


def _aware(value: Any) -> datetime | None:
    """``min()`` bypasses the column type on SQLite: read the text back as UTC."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def state(conn: Connection, key: str) -> Any:
    """A shared switch's value, or None when never set."""
    return conn.execute(select(bot_state.c.value).where(bot_state.c.key == key)).scalar()


def set_state(conn: Connection, key: str, value: Any, now: datetime) -> None:
    conn.execute(delete(bot_state).where(bot_state.c.key == key))
    conn.execute(insert(bot_state).values(key=key, value=value, updated_at=now))


def add_user(conn: Connection, user_id: int, chat_id: int, now: datetime) -> None:
    """A person who started the bot (once; a later /start keeps the first date)."""
    found = conn.execute(select(bot_users.c.user_id).where(bot_users.c.user_id == user_id))
    if found.first() is None:
        conn.execute(insert(bot_users).values(user_id=user_id, chat_id=chat_id, started_at=now))


def users_after(conn: Connection, user_id: int, limit: int) -> list[tuple[int, int]]:
    """(user id, chat id) of the people who started the bot, in user id order after ``user_id``."""
    rows = conn.execute(
        select(bot_users.c.user_id, bot_users.c.chat_id)
        .where(bot_users.c.user_id > user_id)
        .order_by(bot_users.c.user_id)
        .limit(limit)
    ).all()
    return [(int(r.user_id), int(r.chat_id)) for r in rows]


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(bot_users)).scalar_one())
