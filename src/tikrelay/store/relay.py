"""The reposter's SQL: sources and what they listed, posts, send intents and deliveries.

Every function takes an open connection, so callers choose the transaction: a poll records what
it saw in the transaction that completes its job, a delivery row is written in the transaction
that completes the deliver job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from tikrelay.domain.jobs import JobStatus
from tikrelay.store import tallies_sql
from tikrelay.store.tables import deliveries, jobs, posts, send_intents, source_posts, sources


@dataclass(frozen=True)
class SourceRow:
    id: int
    key: str
    handle: str
    native_id: str | None
    first_polled_at: datetime | None


@dataclass(frozen=True)
class Intent:
    part: int
    expected: int
    after_message_id: int | None
    message_ids: list[int] | None
    arrived: list[int] = field(default_factory=list)


def _intent(r: Any) -> Intent:
    return Intent(
        r["part"], r["expected"], r["after_message_id"], r["message_ids"], list(r["arrived"] or [])
    )


# A poll's statements, built once: a built statement is compiled once, not on every poll.
_SOURCE_BY_KEY = select(sources).where(sources.c.key == bindparam("source_key"))
_SEEN_OF = select(source_posts.c.post_key).where(
    source_posts.c.source_id == bindparam("source_id"),
    source_posts.c.post_key.in_(bindparam("post_keys", expanding=True)),
)
_POLLED = (
    update(sources)
    .where(sources.c.id == bindparam("source_id"))
    .values(
        first_polled_at=func.coalesce(sources.c.first_polled_at, bindparam("polled_at")),
        last_polled_at=bindparam("polled_at"),
        last_poll_seconds=bindparam("poll_seconds"),
        last_error=None,
        listed=sources.c.listed + bindparam("new_posts"),
        delivered=sources.c.delivered + bindparam("delivered_before"),
    )
)
#: Deliveries of posts a poll listed for the first time (another source listed them first).
_DELIVERED_BEFORE = select(func.count()).where(
    deliveries.c.post_key.in_(bindparam("post_keys", expanding=True))
)
#: A delivery counts for every source that listed its post.
_COUNT_DELIVERY = (
    update(sources)
    .where(
        sources.c.id.in_(
            select(source_posts.c.source_id).where(
                source_posts.c.post_key == bindparam("delivered_post")
            )
        )
    )
    .values(delivered=sources.c.delivered + 1)
)


def ensure_source(conn: Connection, key: str, site: str, handle: str, now: datetime) -> SourceRow:
    row = conn.execute(_SOURCE_BY_KEY, {"source_key": key}).mappings().first()
    if row is None:
        conn.execute(insert(sources).values(key=key, site=site, handle=handle, created_at=now))
        row = conn.execute(_SOURCE_BY_KEY, {"source_key": key}).mappings().one()
    return SourceRow(row["id"], row["key"], row["handle"], row["native_id"], row["first_polled_at"])


def set_native_id(conn: Connection, source_id: int, native_id: str) -> None:
    conn.execute(update(sources).where(sources.c.id == source_id).values(native_id=native_id))


def record_listing(
    conn: Connection,
    source_id: int,
    post_keys: Sequence[str],
    now: datetime,
    seconds: float | None = None,
) -> list[str]:
    """Remember what a poll listed (and how long it took, ``seconds``); return the keys this
    source never listed before, in the order given."""
    listed = list(dict.fromkeys(post_keys))
    seen: set[str] = set()
    if listed:
        found = conn.execute(_SEEN_OF, {"source_id": source_id, "post_keys": listed}).scalars()
        seen.update(found)
    new = [key for key in listed if key not in seen]
    delivered_before = 0
    if new:
        conn.execute(
            insert(source_posts),
            [{"source_id": source_id, "post_key": key, "seen_at": now} for key in new],
        )
        delivered_before = conn.execute(_DELIVERED_BEFORE, {"post_keys": new}).scalar_one()
    conn.execute(
        _POLLED,
        {
            "source_id": source_id,
            "polled_at": now,
            "poll_seconds": seconds,
            "new_posts": len(new),
            "delivered_before": delivered_before,
        },
    )
    return new


def record_poll_error(conn: Connection, source_id: int, message: str) -> None:
    conn.execute(update(sources).where(sources.c.id == source_id).values(last_error=message))


def save_post(conn: Connection, row: dict[str, Any]) -> None:
    """Insert or refresh a post's row (``key`` identifies it)."""
    exists = conn.execute(select(posts.c.key).where(posts.c.key == row["key"])).first()
    if exists is None:
        conn.execute(insert(posts).values(**row))
    else:
        changes = {k: v for k, v in row.items() if k not in ("key", "first_seen_at")}
        conn.execute(update(posts).where(posts.c.key == row["key"]).values(**changes))


def post_data(conn: Connection, post_key: str) -> dict[str, Any] | None:
    """What the post page said when the post was last read, or None."""
    found = conn.execute(select(posts.c.data).where(posts.c.key == post_key)).scalar()
    return dict(found) if isinstance(found, dict) else None


def delivered_ids(conn: Connection, post_key: str, destination: str) -> list[int] | None:
    found = conn.execute(
        select(deliveries.c.message_ids).where(
            deliveries.c.post_key == post_key, deliveries.c.destination == destination
        )
    ).scalar()
    return list(found) if found is not None else None


def deliveries_of(conn: Connection, post_key: str) -> list[dict[str, Any]]:
    """Where a post was delivered: destination, chat, topic and message ids, oldest first."""
    rows = conn.execute(
        select(
            deliveries.c.destination,
            deliveries.c.chat_id,
            deliveries.c.topic_id,
            deliveries.c.message_ids,
        )
        .where(deliveries.c.post_key == post_key)
        .order_by(deliveries.c.id)
    ).all()
    return [
        {
            "destination": r.destination,
            "chat_id": r.chat_id,
            "topic_id": r.topic_id,
            "message_ids": list(r.message_ids),
        }
        for r in rows
    ]


def record_delivery(
    conn: Connection,
    *,
    post_key: str,
    destination: str,
    chat_id: str,
    topic_id: int | None,
    message_ids: list[int],
    job_id: int,
    reconciled: bool,
    now: datetime,
) -> None:
    conn.execute(
        insert(deliveries).values(
            post_key=post_key,
            destination=destination,
            chat_id=chat_id,
            topic_id=topic_id,
            message_ids=message_ids,
            job_id=job_id,
            reconciled=reconciled,
            delivered_at=now,
        )
    )
    conn.execute(_COUNT_DELIVERY, {"delivered_post": post_key})
    tallies_sql.add(conn, tallies_sql.DELIVERED, destination, 1, now)


def intents(conn: Connection, post_key: str, destination: str) -> dict[int, Intent]:
    rows = conn.execute(
        select(send_intents).where(
            send_intents.c.post_key == post_key, send_intents.c.destination == destination
        )
    ).mappings()
    return {r["part"]: _intent(r) for r in rows}


@dataclass(frozen=True)
class OpenIntent:
    post_key: str
    destination: str
    intent: Intent


def open_intents(conn: Connection, chat_id: str, other_than: str) -> list[OpenIntent]:
    """Sends to this chat that started but were never confirmed, of posts other than one."""
    rows = conn.execute(
        select(send_intents)
        .where(
            send_intents.c.chat_id == chat_id,
            send_intents.c.message_ids.is_(None),
            send_intents.c.post_key != other_than,
        )
        .order_by(send_intents.c.id)
    ).mappings()
    return [
        OpenIntent(
            r["post_key"],
            r["destination"],
            _intent(r),
        )
        for r in rows
    ]


def sent_already(conn: Connection, post_key: str, destination: str) -> list[int] | None:
    """Every part of the post confirmed at this destination (a crash came before the delivery
    row): their message ids in part order; None when something is still to send."""
    rows = conn.execute(
        select(send_intents.c.part, send_intents.c.parts, send_intents.c.message_ids)
        .where(send_intents.c.post_key == post_key, send_intents.c.destination == destination)
        .order_by(send_intents.c.part)
    ).all()
    if not rows or len(rows) != rows[0].parts or any(r.message_ids is None for r in rows):
        return None
    return [i for r in rows for i in r.message_ids]


def recent_sends(conn: Connection, chat_id: str, since: datetime) -> list[tuple[datetime, int]]:
    """When this chat got messages from us since ``since``, and how many each time."""
    rows = conn.execute(
        select(send_intents.c.confirmed_at, send_intents.c.message_ids).where(
            send_intents.c.chat_id == chat_id, send_intents.c.confirmed_at >= since
        )
    ).all()
    return [(r.confirmed_at, len(r.message_ids or ())) for r in rows if r.message_ids]


def newest_message_id(conn: Connection, chat_id: str) -> int | None:
    """The highest message id Telegram confirmed to us in this chat."""
    rows = conn.execute(
        select(send_intents.c.message_ids).where(
            send_intents.c.chat_id == chat_id, send_intents.c.message_ids.is_not(None)
        )
    ).scalars()
    newest = [max(ids) for ids in rows if ids]
    return max(newest) if newest else None


def known_message_ids(
    conn: Connection, chat_id: str, above: int, other_than: tuple[str, str, int]
) -> set[int]:
    """Message ids above ``above`` in this chat that other sends own: confirmed, or found by
    probing for a send not confirmed yet (all but the part ``other_than``)."""
    rows = conn.execute(
        select(send_intents.c.message_ids, send_intents.c.arrived).where(
            send_intents.c.chat_id == chat_id, ~_part(*other_than)
        )
    ).all()
    return {i for r in rows for i in (r.message_ids or r.arrived or ()) if i > above}


def start_intent(
    conn: Connection,
    *,
    post_key: str,
    destination: str,
    part: int,
    chat_id: str,
    expected: int,
    parts: int,
    after_message_id: int | None,
    now: datetime,
) -> None:
    conn.execute(
        insert(send_intents).values(
            post_key=post_key,
            destination=destination,
            part=part,
            chat_id=chat_id,
            expected=expected,
            parts=parts,
            after_message_id=after_message_id,
            started_at=now,
        )
    )


def _part(post_key: str, destination: str, part: int) -> Any:
    return (
        (send_intents.c.post_key == post_key)
        & (send_intents.c.destination == destination)
        & (send_intents.c.part == part)
    )


def remark_intent(
    conn: Connection,
    post_key: str,
    destination: str,
    part: int,
    *,
    after: int | None,
    arrived: list[int],
) -> None:
    """What of a part was found by probing (``arrived``), and where its next send starts
    (``after``: the mark its missing messages will follow; None: not resumed yet, so nothing
    after the arrived ones is its own)."""
    conn.execute(
        update(send_intents)
        .where(_part(post_key, destination, part))
        .values(arrived=arrived, after_message_id=after)
    )


def drop_intent(conn: Connection, post_key: str, destination: str, part: int) -> None:
    """A part whose send never arrived: its job starts it afresh, with a new mark."""
    conn.execute(delete(send_intents).where(_part(post_key, destination, part)))


def confirm_intent(
    conn: Connection,
    post_key: str,
    destination: str,
    part: int,
    message_ids: list[int],
    now: datetime,
) -> None:
    conn.execute(
        update(send_intents)
        .where(_part(post_key, destination, part))
        .values(message_ids=message_ids, confirmed_at=now)
    )


def posts_in_work(conn: Connection, kinds: Sequence[str]) -> set[str]:
    """Post keys of jobs of ``kinds`` that wait or run: their media must stay."""
    active = [JobStatus.PENDING.value, JobStatus.QUEUED.value, JobStatus.RUNNING.value]
    payloads = conn.execute(
        select(jobs.c.payload).where(jobs.c.kind.in_(list(kinds)), jobs.c.status.in_(active))
    ).scalars()
    return {str(p.get("post")) for p in payloads if isinstance(p, dict)}


@dataclass(frozen=True)
class WaitingJob:
    id: int
    post_key: str
    destination: str
    run_at: datetime


def waiting_before(conn: Connection, kind: str, job_id: int) -> list[WaitingJob]:
    """Jobs of ``kind`` older than ``job_id`` (enqueued before it) that wait to run, e.g. for a
    retry: the caller keeps those of its chat ahead of it."""
    waiting = [JobStatus.PENDING.value, JobStatus.QUEUED.value]
    rows = conn.execute(
        select(jobs.c.id, jobs.c.payload, jobs.c.run_at).where(
            jobs.c.kind == kind, jobs.c.status.in_(waiting), jobs.c.id < job_id
        )
    ).all()
    return [
        WaitingJob(r.id, str(r.payload.get("post")), str(r.payload.get("destination")), r.run_at)
        for r in rows
        if isinstance(r.payload, dict)
    ]


def sends_since(
    conn: Connection, destination: str, since: datetime, other_than: str | None = None
) -> list[datetime]:
    """When ``destination``'s sends since ``since`` were made, oldest first: what its posting
    schedule counts. A recorded delivery counts when it was recorded (a digest's posts went in
    one message: one send); a send started and not recorded yet (another job's, in flight or cut
    short by a crash) when it started, but not one of ``other_than``'s (the asking post's own).
    A digest's own sends count by their deliveries."""
    first = func.min(deliveries.c.delivered_at)
    recorded = conn.execute(
        select(first)
        .where(deliveries.c.destination == destination, deliveries.c.delivered_at >= since)
        .group_by(deliveries.c.job_id)
    ).scalars()
    delivered = (
        select(deliveries.c.post_key)
        .where(
            deliveries.c.destination == destination,
            deliveries.c.post_key == send_intents.c.post_key,
        )
        .exists()
    )
    started = select(func.min(send_intents.c.started_at)).where(
        send_intents.c.destination == destination,
        send_intents.c.started_at >= since,
        ~send_intents.c.post_key.startswith("digest:"),
        ~delivered,
    )
    if other_than is not None:
        started = started.where(send_intents.c.post_key != other_than)
    unrecorded = conn.execute(started.group_by(send_intents.c.post_key)).scalars()
    return sorted([*recorded, *unrecorded])


@dataclass(frozen=True)
class QueuedPost:
    """A job taking a post to a destination that has not finished: where it stands in the
    destination's queue."""

    id: int
    published_at: datetime | None
    created_at: datetime

    @property
    def order(self) -> tuple[datetime, int]:
        """Oldest post first (the time it was published, else when its job was made)."""
        return (self.published_at or self.created_at, self.id)


def unfinished_for(conn: Connection, kinds: Sequence[str], destination: str) -> list[QueuedPost]:
    """The jobs of ``kinds`` for ``destination`` that wait or run, but those waiting to be
    tried again after a failure: they take their place when they run, and hold no slot while
    they wait (hours, perhaps)."""
    active = [JobStatus.PENDING.value, JobStatus.QUEUED.value, JobStatus.RUNNING.value]
    rows = conn.execute(
        select(jobs.c.id, jobs.c.payload, jobs.c.created_at).where(
            jobs.c.kind.in_(list(kinds)),
            jobs.c.status.in_(active),
            (jobs.c.status != JobStatus.PENDING.value) | jobs.c.error_kind.is_(None),
        )
    ).all()
    found = []
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        if payload.get("destination") != destination:
            continue
        published = payload.get("published_at")
        when = datetime.fromisoformat(published) if isinstance(published, str) else None
        found.append(QueuedPost(row.id, when, row.created_at))
    return found
