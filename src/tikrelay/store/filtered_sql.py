"""The posts a source's filters kept from a destination (``filtered_posts``): written once, in
the transaction that completes the job that decided it, and read before any job takes the post
there, so that a post filtered out is never delivered there later, whatever the filters become.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from tikrelay.store import upserts
from tikrelay.store.tables import filtered_posts

# The first decision stands: a second one for the same post and destination changes nothing.
_RECORDS = upserts.per_dialect(
    filtered_posts, [filtered_posts.c.post_key, filtered_posts.c.destination]
)
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
