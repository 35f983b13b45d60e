"""The reads the web API pages through: posts, deliveries, what each source's polls did, and the
statistics (per day, per source, per destination, failures by kind).

Paging is by cursor, never by offset: a row written while someone pages through a list shifts
nothing. A page of deliveries continues below the last id seen; a page of posts below the last
(first seen, key) pair, as posts are keyed by text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, or_, select

from tikrelay.domain.errors import ErrorKind
from tikrelay.domain.jobs import JobEventRecord, JobStatus
from tikrelay.store import tallies_sql
from tikrelay.store.tables import (
    deliveries,
    job_events,
    jobs,
    posts,
    schedules,
    source_posts,
    sources,
)

DELIVERED = "delivered"
UNDELIVERED = "undelivered"
#: What a post's ``status`` filter may ask for.
POST_STATUSES = (DELIVERED, UNDELIVERED)


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    post: str
    destination: str
    chat_id: str
    topic_id: int | None
    message_ids: list[int]
    job_id: int | None
    reconciled: bool
    delivered_at: datetime


@dataclass(frozen=True)
class PostRecord:
    key: str
    site: str
    native_id: str
    kind: str | None
    url: str
    author: str | None
    posted_at: datetime | None
    first_seen_at: datetime
    text: str | None
    deliveries: list[DeliveryRecord] = field(default_factory=list)


@dataclass(frozen=True)
class PostCursor:
    """Where a page of posts ends: the last post's first sight and key."""

    seen: datetime
    key: str


@dataclass(frozen=True)
class PostPage:
    posts: list[PostRecord]
    after: PostCursor | None  # None: this was the last page


@dataclass(frozen=True)
class PostFilter:
    source: str | None = None  # a source's key: the posts its polls listed
    creator: str | None = None  # the author's username, with or without @
    kind: str | None = None
    status: str | None = None  # one of POST_STATUSES
    since: datetime | None = None  # posted at or after (first seen, when the post has no time)
    until: datetime | None = None  # posted before


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        post=row.post_key,
        destination=row.destination,
        chat_id=row.chat_id,
        topic_id=row.topic_id,
        message_ids=list(row.message_ids),
        job_id=row.job_id,
        reconciled=bool(row.reconciled),
        delivered_at=row.delivered_at,
    )


def _posted() -> ColumnElement[Any]:
    return func.coalesce(posts.c.created_at, posts.c.first_seen_at)


def _post_conditions(wanted: PostFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.source is not None:
        listed = (
            select(source_posts.c.post_key)
            .join(sources, sources.c.id == source_posts.c.source_id)
            .where(sources.c.key == wanted.source)
        )
        found.append(posts.c.key.in_(listed))
    if wanted.creator is not None:
        name = wanted.creator.strip().removeprefix("@").lower()
        found.append(func.lower(posts.c.author).in_([name, f"@{name}"]))
    if wanted.kind is not None:
        found.append(posts.c.kind == wanted.kind)
    if wanted.status is not None:
        sent = exists().where(deliveries.c.post_key == posts.c.key)
        found.append(sent if wanted.status == DELIVERED else ~sent)
    if wanted.since is not None:
        found.append(_posted() >= wanted.since)
    if wanted.until is not None:
        found.append(_posted() < wanted.until)
    return found


def post_page(
    engine: Engine, wanted: PostFilter, *, limit: int = 50, after: PostCursor | None = None
) -> PostPage:
    """Up to ``limit`` posts, the most recently seen first, each with where it was delivered."""
    query = (
        select(posts)
        .where(*_post_conditions(wanted))
        .order_by(posts.c.first_seen_at.desc(), posts.c.key.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(
            or_(
                posts.c.first_seen_at < after.seen,
                and_(posts.c.first_seen_at == after.seen, posts.c.key < after.key),
            )
        )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        page = rows[:limit]
        sent = _deliveries_of(conn, [row.key for row in page])
    found = [
        PostRecord(
            key=row.key,
            site=row.site,
            native_id=row.native_id,
            kind=row.kind,
            url=row.url,
            author=row.author,
            posted_at=row.created_at,
            first_seen_at=row.first_seen_at,
            text=_text(row.data),
            deliveries=sent.get(row.key, []),
        )
        for row in page
    ]
    last = found[-1] if found and len(rows) > limit else None
    return PostPage(found, None if last is None else PostCursor(last.first_seen_at, last.key))


def _text(data: Any) -> str | None:
    value = data.get("text") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _deliveries_of(conn: Connection, keys: Sequence[str]) -> dict[str, list[DeliveryRecord]]:
    if not keys:
        return {}
    query = select(deliveries).where(deliveries.c.post_key.in_(keys)).order_by(deliveries.c.id)
    found: dict[str, list[DeliveryRecord]] = {}
    for row in conn.execute(query):
        found.setdefault(row.post_key, []).append(_delivery(row))
    return found


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[DeliveryRecord]
    after: int | None  # the id to continue below; None: this was the last page


def delivery_page(
    engine: Engine,
    *,
    destination: str | None = None,
    post: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    before: int | None = None,
) -> DeliveryPage:
    """Up to ``limit`` deliveries, newest first, with ids below ``before``."""
    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit + 1)
    if destination is not None:
        query = query.where(deliveries.c.destination == destination)
    if post is not None:
        query = query.where(deliveries.c.post_key == post)
    if since is not None:
        query = query.where(deliveries.c.delivered_at >= since)
    if until is not None:
        query = query.where(deliveries.c.delivered_at < until)
    if before is not None:
        query = query.where(deliveries.c.id < before)
    with engine.connect() as conn:
        found = [_delivery(row) for row in conn.execute(query)]
    page = found[:limit]
    return DeliveryPage(page, page[-1].id if len(found) > limit else None)


@dataclass(frozen=True)
class PollState:
    """What the polls of one source did, and when the next one is due."""

    first_polled_at: datetime | None
    last_polled_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None


def poll_states(engine: Engine, keys: Sequence[str], schedule_prefix: str) -> dict[str, PollState]:
    """By source key: its polls (a source never polled has none) and its schedule, named
    ``schedule_prefix`` + key."""
    with engine.connect() as conn:
        polled = {
            row.key: row
            for row in conn.execute(
                select(
                    sources.c.key,
                    sources.c.first_polled_at,
                    sources.c.last_polled_at,
                    sources.c.last_error,
                )
            )
        }
        due = dict(
            conn.execute(
                select(schedules.c.name, schedules.c.next_run_at).where(
                    schedules.c.name.startswith(schedule_prefix, autoescape=True)
                )
            ).all()
        )
    found = {}
    for key in keys:
        row = polled.get(key)
        found[key] = PollState(
            first_polled_at=row.first_polled_at if row else None,
            last_polled_at=row.last_polled_at if row else None,
            last_error=row.last_error if row else None,
            next_poll_at=due.get(schedule_prefix + key),
        )
    return found


@dataclass(frozen=True)
class SourceFigures:
    key: str
    listed: int  # posts its polls listed
    delivered: int  # deliveries of those posts, to any destination
    last_polled_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class DestinationFigures:
    name: str
    delivered: int
    last_delivered_at: datetime | None


@dataclass(frozen=True)
class Stats:
    """The statistics of the dashboard: per UTC day (oldest first), per source, per destination,
    and jobs that failed for good by error kind."""

    days: list[date]
    delivered: list[int]  # per day
    failed: list[int]  # per day: jobs that failed for good, by the day they finished
    sources: list[SourceFigures]
    destinations: list[DestinationFigures]
    failures: dict[str, int]


def stats(engine: Engine, today: date, days: int = 30) -> Stats:
    """Figures of the ``days`` UTC days up to ``today``; sources, destinations and failures of
    all time (failures: as long as jobs are kept, ``jobs.keep_failed_days``). Deliveries and
    listings are read from the totals kept up as they are written, so the cost does not grow
    with the history."""
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    calendar = [first + timedelta(days=n) for n in range(days)]
    failed_now = jobs.c.status == JobStatus.FAILED.value
    with engine.connect() as conn:
        sent = tallies_sql.per_day(conn, tallies_sql.DELIVERED, first)
        lost = Counter(
            moment.date()
            for moment in conn.execute(
                select(jobs.c.finished_at).where(failed_now, jobs.c.finished_at >= since)
            ).scalars()
        )
        kind = func.coalesce(jobs.c.error_kind, ErrorKind.UNKNOWN.value)
        failures = {
            str(name): int(n)
            for name, n in conn.execute(
                select(kind, func.count()).where(failed_now).group_by(kind).order_by(kind)
            )
        }
        per_source = [
            SourceFigures(
                key=row.key,
                listed=int(row.listed),
                delivered=int(row.delivered),
                last_polled_at=row.last_polled_at,
                last_error=row.last_error,
            )
            for row in conn.execute(
                select(
                    sources.c.key,
                    sources.c.listed,
                    sources.c.delivered,
                    sources.c.last_polled_at,
                    sources.c.last_error,
                ).order_by(sources.c.key)
            )
        ]
        per_destination = [
            DestinationFigures(total.label, total.value, total.last_at)
            for total in tallies_sql.totals(conn, tallies_sql.DELIVERED)
        ]
    return Stats(
        days=calendar,
        delivered=[sent.get(day, 0) for day in calendar],
        failed=[lost[day] for day in calendar],
        sources=per_source,
        destinations=per_destination,
        failures=failures,
    )


def events_after(engine: Engine, job_id: int, after: int, limit: int = 500) -> list[JobEventRecord]:
    """The job's events with ids above ``after``, oldest first: what a live timeline has not
    shown yet (ids only grow, so ``after`` is where the last read stopped)."""
    query = (
        select(job_events)
        .where(job_events.c.job_id == job_id, job_events.c.id > after)
        .order_by(job_events.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            JobEventRecord(id=row.id, job_id=row.job_id, type=row.type, at=row.at, data=row.data)
            for row in conn.execute(query)
        ]


@dataclass(frozen=True)
class DeliveryJob:
    """The newest job taking a post to one destination."""

    job_id: int
    kind: str
    status: str
    error_message: str | None


def delivery_jobs(
    engine: Engine, post_keys: Sequence[str], kinds: Sequence[str]
) -> dict[str, dict[str, DeliveryJob]]:
    """By post and destination, the newest job of ``kinds`` for it, found by the dedupe key
    such jobs have (``KIND:POST:DESTINATION``)."""
    if not post_keys or not kinds:
        return {}
    prefixes = {f"{kind}:{key}:": (kind, key) for kind in kinds for key in post_keys}
    query = (
        select(jobs.c.id, jobs.c.kind, jobs.c.status, jobs.c.error_message, jobs.c.dedupe_key)
        .where(
            jobs.c.kind.in_(list(kinds)),
            or_(*[jobs.c.dedupe_key.startswith(p, autoescape=True) for p in prefixes]),
        )
        .order_by(jobs.c.id)
    )
    found: dict[str, dict[str, DeliveryJob]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            for prefix, (kind, key) in prefixes.items():
                if row.kind == kind and str(row.dedupe_key).startswith(prefix):
                    destination = str(row.dedupe_key)[len(prefix) :]
                    found.setdefault(key, {})[destination] = DeliveryJob(
                        row.id, row.kind, str(row.status), row.error_message
                    )
                    break
    return found


def post_record(engine: Engine, key: str) -> PostRecord | None:
    """One post by its key (``site:id``), with where it was delivered; None if no delivery has
    read its page."""
    with engine.connect() as conn:
        row = conn.execute(select(posts).where(posts.c.key == key)).first()
        if row is None:
            return None
        sent = _deliveries_of(conn, [key])
    return PostRecord(
        key=row.key,
        site=row.site,
        native_id=row.native_id,
        kind=row.kind,
        url=row.url,
        author=row.author,
        posted_at=row.created_at,
        first_seen_at=row.first_seen_at,
        text=_text(row.data),
        deliveries=sent.get(row.key, []),
    )


@dataclass(frozen=True)
class ListedJob:
    """A job as the jobs list shows it."""

    id: int
    kind: str
    status: str
    attempts: int
    max_attempts: int
    updated_at: datetime
    error_kind: str | None
    error_message: str | None


@dataclass(frozen=True)
class JobChanges:
    """What happened to jobs since a live list last looked."""

    last: int  # the newest timeline row read (or the one asked after): the next look's start
    events: list[JobEventRecord]  # the rows read, oldest first
    jobs: dict[int, ListedJob]  # by id, the jobs of those rows still there (of the kind asked)


def job_changes(
    engine: Engine,
    after: int | None,
    *,
    again: Sequence[int] = (),
    kind: str | None = None,
    limit: int = 500,
) -> JobChanges:
    """The timeline rows with ids above ``after`` and those in ``again``, oldest first, and the
    jobs they belong to: two indexed reads. Every move of a job (created, status, attempts,
    error, cancel asked) writes such a row in its own transaction, so the rows name every job
    that changed. ``again`` holds ids an earlier look found missing below the newest it read:
    on PostgreSQL ids are taken in one order and committed in another. ``after`` None: no rows,
    only where the timeline ends now (what a page shows is as of that row)."""
    with engine.connect() as conn:
        if after is None:
            newest = conn.execute(select(func.max(job_events.c.id))).scalar()
            return JobChanges(int(newest or 0), [], {})
        wanted = job_events.c.id > after
        if again:
            wanted = or_(wanted, job_events.c.id.in_(list(again)))
        query = select(job_events).where(wanted).order_by(job_events.c.id).limit(limit)
        events = [
            JobEventRecord(id=row.id, job_id=row.job_id, type=row.type, at=row.at, data=row.data)
            for row in conn.execute(query)
        ]
        found: dict[int, ListedJob] = {}
        ids = sorted({event.job_id for event in events})
        if ids:
            listed = select(
                jobs.c.id,
                jobs.c.kind,
                jobs.c.status,
                jobs.c.attempts,
                jobs.c.max_attempts,
                jobs.c.updated_at,
                jobs.c.error_kind,
                jobs.c.error_message,
            ).where(jobs.c.id.in_(ids))
            if kind is not None:
                listed = listed.where(jobs.c.kind == kind)
            for row in conn.execute(listed):
                found[row.id] = ListedJob(
                    id=row.id,
                    kind=row.kind,
                    status=str(row.status),
                    attempts=row.attempts,
                    max_attempts=row.max_attempts,
                    updated_at=row.updated_at,
                    error_kind=row.error_kind,
                    error_message=row.error_message,
                )
    return JobChanges(max([after, *(event.id for event in events)]), events, found)
