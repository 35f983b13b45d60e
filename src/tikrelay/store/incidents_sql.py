"""Incidents: failures that need a person, one row per subject (``source:tiktok:@alice``,
``disk``), each notified at most once while it is open.

A subject's row is reopened by its next failure after it closed: ``opened_at`` is then the first
failure of the new incident, ``notified_at`` empty again. ``notify_once`` is the guard that makes
"at most once" true with many workers: the UPDATE that sets ``notified_at`` matches only a row
that is open and not notified yet, so of two callers exactly one gets True. The deliveries of the
last day, for the daily summary, are read here too."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select, update

from tikrelay.store.tables import deliveries, incidents, source_posts, sources

#: Text columns' room: a failure's detail is cut to it.
DETAIL_LIMIT = 2000


@dataclass(frozen=True)
class Incident:
    key: str
    kind: str
    subject: str
    detail: str
    opened_at: datetime
    notified_at: datetime | None
    closed_at: datetime | None

    @property
    def open(self) -> bool:
        return self.closed_at is None


def get(conn: Connection, key: str) -> Incident | None:
    row = conn.execute(select(incidents).where(incidents.c.key == key)).first()
    return None if row is None else Incident(**row._mapping)


def record_failure(
    conn: Connection, key: str, kind: str, subject: str, detail: str, now: datetime
) -> Incident:
    """The open incident of ``key``, opened now when there is none; its kind and detail are the
    newest failure's (an incident that began as a network failure may turn into an expired
    login)."""
    kind, subject, detail = kind[:50], subject[:300], detail[:DETAIL_LIMIT]
    values = {"kind": kind, "subject": subject, "detail": detail}
    found = get(conn, key)
    if found is not None and found.open:
        conn.execute(update(incidents).where(incidents.c.key == key).values(**values))
        return replace(found, kind=kind, subject=subject, detail=detail)
    if found is None:
        conn.execute(insert(incidents).values(key=key, opened_at=now, **values))
    else:  # closed: the next failure opens a new incident
        reopen = {"opened_at": now, "notified_at": None, "closed_at": None}
        conn.execute(update(incidents).where(incidents.c.key == key).values(**values, **reopen))
    return Incident(key, kind, subject, detail, opened_at=now, notified_at=None, closed_at=None)


def notify_once(conn: Connection, key: str, now: datetime) -> bool:
    """Mark the open incident of ``key`` notified; False when it was already (or is closed)."""
    result = conn.execute(
        update(incidents)
        .where(
            incidents.c.key == key,
            incidents.c.closed_at.is_(None),
            incidents.c.notified_at.is_(None),
        )
        .values(notified_at=now)
    )
    return result.rowcount == 1


def close(conn: Connection, key: str, now: datetime) -> Incident | None:
    """Close the open incident of ``key``; it (as it was, open) or None when none was open."""
    found = get(conn, key)
    if found is None or not found.open:
        return None
    result = conn.execute(
        update(incidents)
        .where(incidents.c.key == key, incidents.c.closed_at.is_(None))
        .values(closed_at=now)
    )
    return found if result.rowcount == 1 else None


def open_incidents(conn: Connection) -> list[Incident]:
    query = select(incidents).where(incidents.c.closed_at.is_(None)).order_by(incidents.c.key)
    return [Incident(**row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class Delivered:
    """Deliveries since a moment: per destination, and per source that listed the post."""

    by_destination: dict[str, int]
    by_source: dict[str, int]


def delivered_since(engine: Engine, since: datetime) -> Delivered:
    recent = deliveries.c.delivered_at >= since
    with engine.connect() as conn:
        by_destination = {
            str(name): int(count)
            for name, count in conn.execute(
                select(deliveries.c.destination, func.count())
                .where(recent)
                .group_by(deliveries.c.destination)
            )
        }
        by_source = {
            str(key): int(count)
            for key, count in conn.execute(
                select(sources.c.key, func.count(func.distinct(deliveries.c.id)))
                .select_from(
                    deliveries.join(
                        source_posts, source_posts.c.post_key == deliveries.c.post_key
                    ).join(sources, sources.c.id == source_posts.c.source_id)
                )
                .where(recent)
                .group_by(sources.c.key)
            )
        }
    return Delivered(by_destination, by_source)
