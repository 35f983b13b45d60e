"""Posts a destination's schedule gathers for one catch-up message (``schedule.catch_up:
digest``): added by the deliver jobs that find their post too old to go on its own, taken by the
``digest`` job that sends them, deleted with the deliveries it records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from tikrelay.domain.jobs import ACTIVE_STATUSES
from tikrelay.store import locks, upserts
from tikrelay.store.tables import digest_entries, jobs

# RETURNING tells whether the row went in (a post gathered already: nothing returned).
_GATHER = {
    dialect: statement.returning(digest_entries.c.post_key)
    for dialect, statement in upserts.per_dialect(
        digest_entries, [digest_entries.c.destination, digest_entries.c.post_key]
    ).items()
}


def _lock_name(destination: str) -> str:
    return f"digest:{destination}"


@dataclass(frozen=True)
class DigestEntry:
    post_key: str
    url: str
    author: str | None
    published_at: datetime | None


def add(
    conn: Connection,
    destination: str,
    entry: DigestEntry,
    now: datetime,
) -> bool:
    """Gather a post for ``destination``'s next digest; False when it is gathered already.
    Serialized with ``finish`` (the caller queues the digest in the same transaction): a post
    gathered while a digest job completes is either seen by its ``finish``, or finds that job
    completed and queues a new one."""
    locks.for_transaction(conn, _lock_name(destination))
    values = {
        "destination": destination,
        "post_key": entry.post_key,
        "url": entry.url,
        "author": entry.author[:300] if entry.author else None,
        "published_at": entry.published_at,
        "added_at": now,
        "job_id": None,
    }
    return conn.execute(_GATHER[conn.dialect.name], values).first() is not None


def _free(destination: str) -> ColumnElement[bool]:
    """Gathered posts of ``destination`` that no digest job holds: never taken, or taken by one
    that failed, was cancelled or is gone (its retry is a new job, which takes them again)."""
    active = [status.value for status in ACTIVE_STATUSES]
    holding = select(jobs.c.id).where(jobs.c.status.in_(active))
    return (digest_entries.c.destination == destination) & (
        digest_entries.c.job_id.is_(None) | digest_entries.c.job_id.not_in(holding)
    )


def take(conn: Connection, destination: str, job_id: int) -> list[DigestEntry]:
    """The posts digest job ``job_id`` sends: the ones it took on an earlier attempt, else every
    gathered post no live digest holds; oldest first."""
    conn.execute(
        update(digest_entries)
        .where(_free(destination))
        .where(
            ~select(digest_entries.c.post_key)
            .where(
                digest_entries.c.destination == destination,
                digest_entries.c.job_id == job_id,
            )
            .exists()
        )
        .values(job_id=job_id)
    )
    rows = conn.execute(
        select(
            digest_entries.c.post_key,
            digest_entries.c.url,
            digest_entries.c.author,
            digest_entries.c.published_at,
        )
        .where(digest_entries.c.destination == destination, digest_entries.c.job_id == job_id)
        .order_by(digest_entries.c.published_at, digest_entries.c.added_at)
    ).all()
    return [DigestEntry(r.post_key, r.url, r.author, r.published_at) for r in rows]


def finish(conn: Connection, destination: str, job_id: int) -> int:
    """Forget the posts digest job ``job_id`` sent; how many are gathered and not yet taken."""
    locks.for_transaction(conn, _lock_name(destination))
    conn.execute(
        delete(digest_entries).where(
            digest_entries.c.destination == destination, digest_entries.c.job_id == job_id
        )
    )
    left: int = conn.execute(
        select(func.count()).select_from(digest_entries).where(_free(destination))
    ).scalar_one()
    return left
