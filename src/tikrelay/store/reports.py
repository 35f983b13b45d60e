"""The reads that every face shares: what a run did, for the command line's summary (and the
bot's /status and the web's dashboard), and the posts with where each went or why not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, Select, func, select

from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.jobs import ACTIVE_STATUSES, Job, JobStatus
from tikrelay.domain.schedule import SLOT_WAIT
from tikrelay.store.tables import (
    bot_requests,
    bot_updates,
    deliveries,
    filtered_posts,
    job_events,
    jobs,
    posts,
    source_posts,
    sources,
    workers,
)
from tikrelay.store.transition import row_to_job


@dataclass(frozen=True)
class FailedPost:
    post: str
    url: str
    destination: str
    reason: str
    waiting: bool  # a retry is scheduled


@dataclass(frozen=True)
class FailedSource:
    source: str
    reason: str
    waiting: bool  # a retry is scheduled


@dataclass
class RunSummary:
    polled: int = 0
    new_posts: int = 0
    left_out: int = 0  # older posts not delivered on purpose (``backfill`` on a first poll)
    delivered: int = 0
    filtered: int = 0  # posts the sources' filters kept from a destination
    failed: list[FailedPost] = field(default_factory=list)
    failed_sources: list[FailedSource] = field(default_factory=list)
    scheduled: int = 0  # posts waiting for their slot of a destination's schedule: no failure
    next_slot: datetime | None = None  # the earliest of those slots

    @property
    def ok(self) -> bool:
        return not self.failed and not self.failed_sources


def run_summary(
    engine: Engine,
    started: datetime,
    *,
    poll: str,
    deliver: Sequence[str],
    others: Sequence[str] = (),
) -> RunSummary:
    """What the ``poll`` jobs and the jobs taking posts to destinations (kinds ``deliver``) of a
    run did (changed since ``started``), and every such job still waiting, whichever run it
    comes from; jobs of ``others`` (digests) only when they fail or wait."""
    summary = RunSummary()
    waiting = [status.value for status in ACTIVE_STATUSES]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                jobs.c.kind,
                jobs.c.status,
                jobs.c.payload,
                jobs.c.error_kind,
                jobs.c.error_message,
                jobs.c.run_at,
            )
            .where(
                jobs.c.kind.in_([poll, *deliver, *others]),
                (jobs.c.updated_at >= started) | jobs.c.status.in_(waiting),
            )
            .order_by(jobs.c.id)
        ).all()
        summary.delivered = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.delivered_at >= started)
        ).scalar_one()
        summary.filtered = conn.execute(
            select(func.count())
            .select_from(filtered_posts)
            .where(filtered_posts.c.decided_at >= started)
        ).scalar_one()
        chosen = conn.execute(
            select(job_events.c.data)
            .join(jobs, jobs.c.id == job_events.c.job_id)
            .where(
                jobs.c.kind == poll,
                job_events.c.type == ReposterEvent.POSTS_CHOSEN,
                job_events.c.at >= started,
            )
        ).scalars()
        summary.left_out = sum(int(data.get("left_out") or 0) for data in chosen)
        summary.new_posts = conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.kind.in_(list(deliver)), jobs.c.created_at >= started)
        ).scalar_one()
    for kind, status, payload, error_kind, error, run_at in rows:
        later = status != JobStatus.FAILED
        if status == JobStatus.PENDING and error_kind is None and _waits_for_slot(error):
            summary.scheduled += 1
            summary.next_slot = min(run_at, summary.next_slot or run_at)
            continue
        if status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            if kind == poll and status == JobStatus.COMPLETED:
                summary.polled += 1
            continue
        reason = error or ("not finished yet" if later else "failed")
        if kind == poll:
            summary.failed_sources.append(FailedSource(payload["source"], reason, later))
        else:
            post = payload.get("post") or kind  # a digest names no post
            url = payload.get("url") or ""
            summary.failed.append(FailedPost(post, url, payload["destination"], reason, later))
    return summary


def _waits_for_slot(reason: str | None) -> bool:
    return reason is not None and reason.startswith(SLOT_WAIT)


@dataclass(frozen=True)
class HealthFigures:
    """What an admin asks first: jobs by status, running ones by kind, recent errors by kind."""

    by_status: dict[str, int]
    running: dict[str, int]
    errors: dict[str, int]  # failed or retried since ``since``, by error kind


def health_figures(engine: Engine, since: datetime) -> HealthFigures:
    with engine.connect() as conn:
        by_status = {
            str(status): int(count)
            for status, count in conn.execute(
                select(jobs.c.status, func.count()).group_by(jobs.c.status)
            )
        }
        running = {
            str(kind): int(count)
            for kind, count in conn.execute(
                select(jobs.c.kind, func.count())
                .where(jobs.c.status == JobStatus.RUNNING.value)
                .group_by(jobs.c.kind)
            )
        }
        errors = {
            str(kind): int(count)
            for kind, count in conn.execute(
                select(jobs.c.error_kind, func.count())
                .where(jobs.c.error_kind.is_not(None), jobs.c.updated_at >= since)
                .group_by(jobs.c.error_kind)
            )
        }
    return HealthFigures(by_status, running, errors)


@dataclass(frozen=True)
class DailyFigures:
    """Per UTC day, oldest first: requests to the bot, deliveries, people who wrote."""

    days: list[date]
    requests: list[int]
    deliveries: list[int]
    active_users: list[int]


def daily_figures(engine: Engine, today: date, days: int = 30) -> DailyFigures:
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    calendar = [first + timedelta(days=n) for n in range(days)]
    with engine.connect() as conn:
        asked = conn.execute(
            select(bot_requests.c.created_at).where(bot_requests.c.created_at >= since)
        ).scalars()
        requests = Counter(moment.date() for moment in asked)
        sent = conn.execute(
            select(deliveries.c.delivered_at).where(deliveries.c.delivered_at >= since)
        ).scalars()
        delivered = Counter(moment.date() for moment in sent)
        people: dict[date, set[int]] = {}
        for moment, user in conn.execute(
            select(bot_updates.c.received_at, bot_updates.c.user_id).where(
                bot_updates.c.received_at >= since, bot_updates.c.user_id.is_not(None)
            )
        ):
            people.setdefault(moment.date(), set()).add(user)
    return DailyFigures(
        days=calendar,
        requests=[requests[day] for day in calendar],
        deliveries=[delivered[day] for day in calendar],
        active_users=[len(people.get(day, ())) for day in calendar],
    )


@dataclass(frozen=True)
class JobPage:
    """Jobs newest first; ``after`` is the id to continue below (None: this was the last page)."""

    jobs: list[Job]
    after: int | None


def job_page(
    engine: Engine,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> JobPage:
    """Up to ``limit`` jobs, newest first, with ids below ``before``: paging by the last id
    seen stays right while new jobs arrive (an offset would shift under them)."""
    query = select(jobs).order_by(jobs.c.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(jobs.c.status == status.value)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    if before is not None:
        query = query.where(jobs.c.id < before)
    with engine.connect() as conn:
        found = [row_to_job(row) for row in conn.execute(query)]
    page = found[:limit]
    return JobPage(page, page[-1].id if len(found) > limit else None)


def live_workers(engine: Engine, since: datetime) -> int:
    """Workers (of any process, on any machine) whose last heartbeat is ``since`` or later."""
    query = select(func.count()).select_from(workers).where(workers.c.heartbeat_at >= since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@dataclass(frozen=True)
class PostLine:
    """A post as ``tikrelay posts`` lists it: where it went, and where the filters kept it out."""

    key: str
    author: str | None
    kind: str | None
    at: datetime  # created; else first read; else (its page never stored) when it was filtered
    delivered: list[str]  # destinations, in the order it reached them
    filtered: dict[str, str]  # destination → why the source's filters kept it out


def post_lines(
    engine: Engine, *, filtered: bool = False, source: str | None = None, limit: int = 50
) -> list[PostLine]:
    """Up to ``limit`` posts, newest first: the posts whose page was read (``filtered``: the
    posts the filters kept from a destination, most recently decided first), only those of
    ``source`` (its key) when given."""
    with engine.connect() as conn:
        keys = list(conn.execute(_post_keys(filtered, source).limit(limit)).scalars())
        read = {row.key: row for row in conn.execute(select(posts).where(posts.c.key.in_(keys)))}
        went: dict[str, list[str]] = {}
        for key, destination in conn.execute(
            select(deliveries.c.post_key, deliveries.c.destination)
            .where(deliveries.c.post_key.in_(keys))
            .order_by(deliveries.c.id)
        ):
            went.setdefault(key, []).append(destination)
        kept: dict[str, dict[str, str]] = {}
        decided: dict[str, datetime] = {}
        for row in conn.execute(
            select(filtered_posts)
            .where(filtered_posts.c.post_key.in_(keys))
            .order_by(filtered_posts.c.decided_at)
        ):
            kept.setdefault(row.post_key, {})[row.destination] = row.reason
            decided.setdefault(row.post_key, row.decided_at)
    lines = []
    for key in keys:
        post = read.get(key)
        lines.append(
            PostLine(
                key=key,
                author=post.author if post is not None else None,
                kind=post.kind if post is not None else None,
                at=(post.created_at or post.first_seen_at) if post is not None else decided[key],
                delivered=went.get(key, []),
                filtered=kept.get(key, {}),
            )
        )
    return lines


def _post_keys(filtered: bool, source: str | None) -> Select[str]:
    """The keys ``post_lines`` shows, in its order."""
    if filtered:
        newest = func.max(filtered_posts.c.decided_at)
        query = select(filtered_posts.c.post_key).group_by(filtered_posts.c.post_key)
        if source is not None:
            query = query.where(filtered_posts.c.source == source)
        return query.order_by(newest.desc(), filtered_posts.c.post_key.desc())
    query = select(posts.c.key).order_by(posts.c.first_seen_at.desc(), posts.c.key.desc())
    if source is None:
        return query
    listed = (
        select(source_posts.c.post_key)
        .join(sources, sources.c.id == source_posts.c.source_id)
        .where(sources.c.key == source)
    )
    return query.where(posts.c.key.in_(listed))
