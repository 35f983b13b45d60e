"""The posts a source's filters kept from a destination (``filtered_posts``): written once, in
the transaction that completes the job that decided it, and read before any job takes the post
there, so that a post filtered out is never delivered there later, whatever the filters become.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from tikrelay.store.tables import filtered_posts

_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def _insert(dialect: str) -> Insert:
    # The first decision stands: a second one for the same post and destination changes nothing.
    statement = _INSERTS[dialect](filtered_posts)
    return statement.on_conflict_do_nothing(  # type: ignore[no-any-return]
        index_elements=[filtered_posts.c.post_key, filtered_posts.c.destination]
    )


# Built once: a built statement is compiled once.
_RECORDS = {dialect: _insert(dialect) for dialect in _INSERTS}
_REASON = select(filtered_posts.c.reason).where(
    filtered_posts.c.post_key == bindparam("post_key"),
    filtered_posts.c.destination == bindparam("destination"),
)


def record_filtered(
    conn: Connection,
    *,
    post_key: str,
    destination: str,
    source: str,
    reason: str,
    job_id: int | None,
    now: datetime,
) -> None:
    conn.execute(
        _RECORDS[conn.dialect.name],
        {
            "post_key": post_key,
            "destination": destination,
            "source": source,
            "reason": reason,
            "job_id": job_id,
            "decided_at": now,
        },
    )


def filtered_reason(conn: Connection, post_key: str, destination: str) -> str | None:
    """Why the post was kept from that destination, or None when it never was."""
    found = conn.execute(_REASON, {"post_key": post_key, "destination": destination}).scalar()
    return None if found is None else str(found)
