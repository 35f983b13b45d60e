"""Wiring, once per entry point: the reposter's parts from the settings, the registry a worker
runs, and what a run did (for its summary)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from tikrelay.config.paths import StateDirError, StatePaths
from tikrelay.config.settings import Settings
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.jobs import JobStatus
from tikrelay.engine.kinds import worker_registry
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import Schedule, prune, save
from tikrelay.engine.service import JobService
from tikrelay.reposter.model import (
    DELIVER,
    POLL,
    PRUNE_MEDIA,
    PollPayload,
    SetupError,
    check_relay_settings,
)
from tikrelay.reposter.relay import Relay
from tikrelay.store import JobQueue
from tikrelay.store.tables import deliveries, job_events, jobs


def build_relay(settings: Settings) -> Relay:
    """The reposter for these settings; its Telegram and TikTok clients start on first use."""
    check_relay_settings(settings)
    try:  # here, not at a job's first download: with PostgreSQL nothing else makes it first
        StatePaths(settings.state_dir).ensure()
    except StateDirError as exc:
        raise SetupError(str(exc)) from None
    token = settings.telegram.bot_token
    if token is None or not token.get_secret_value().strip():
        raise SetupError(
            "no bot token: set TELEGRAM_BOT_TOKEN in the environment (from @BotFather), "
            "or telegram.bot_token in a file only you can read"
        )
    return Relay(settings)


def relay_service(
    queue: JobQueue, settings: Settings, relay: Relay | None, extra: list[str] | None = None
) -> JobService:
    """The job service with the built-in kinds, plugins (and ``extra`` ``module:attr`` specs),
    and the reposter's kinds."""
    registry = Registry()
    registry.include(worker_registry(extra))
    if relay is not None:
        registry.include(relay.registry())
    service = JobService(queue, registry, settings.jobs)
    if relay is not None:
        relay.bind(service)
    return service


def poll_schedule_name(source_key: str) -> str:
    return f"{POLL}:{source_key}"


def enqueue_polls(service: JobService, relay: Relay) -> int:
    """One poll job per configured source (a source whose poll waits for a retry keeps it).
    The dedupe key is the one the source's schedule uses, so a cron run and ``serve`` never
    poll one source twice at the same time."""
    for key in relay.sources:
        name = poll_schedule_name(key)
        service.enqueue(POLL, PollPayload(source=key), dedupe_key=f"schedule:{name}")
    return len(relay.sources)


def schedule_polls(service: JobService, relay: Relay, rng: random.Random) -> None:
    """A poll schedule per source (``every_minutes``, up to a tenth of it late, so that many
    sources do not all poll in the same second); schedules of removed sources go."""
    names = []
    for key, watched in relay.sources.items():
        interval = watched.settings.every_minutes * 60
        name = poll_schedule_name(key)
        names.append(name)
        schedule = Schedule(
            name=name,
            kind=POLL,
            payload=PollPayload(source=key).model_dump(),
            interval_seconds=interval,
            jitter_seconds=interval / 10,
        )
        save(service, schedule, rng)
    prune(service, f"{POLL}:", names)
    # Downloaded media go once no delivery needs them (delivery.keep_media_hours).
    save(service, Schedule(name=PRUNE_MEDIA, kind=PRUNE_MEDIA, interval_seconds=3600), rng)


@dataclass(frozen=True)
class FailedPost:
    post: str
    url: str
    destination: str
    reason: str
    waiting: bool  # a retry is scheduled


@dataclass
class RunSummary:
    polled: int = 0
    new_posts: int = 0
    left_out: int = 0  # older posts not delivered on purpose (``backfill`` on a first poll)
    delivered: int = 0
    failed: list[FailedPost] = field(default_factory=list)
    failed_sources: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.failed_sources


def summarize(queue: JobQueue, started: datetime) -> RunSummary:
    """What the jobs of this run did (changed since ``started``), and every job still waiting,
    whichever run it comes from."""
    summary = RunSummary()
    waiting = [JobStatus.PENDING.value, JobStatus.QUEUED.value, JobStatus.RUNNING.value]
    with queue.engine.connect() as conn:
        rows = conn.execute(
            select(jobs.c.kind, jobs.c.status, jobs.c.payload, jobs.c.error_message)
            .where(
                jobs.c.kind.in_([POLL, DELIVER]),
                (jobs.c.updated_at >= started) | jobs.c.status.in_(waiting),
            )
            .order_by(jobs.c.id)
        ).all()
        summary.delivered = len(
            conn.execute(select(deliveries.c.id).where(deliveries.c.delivered_at >= started)).all()
        )
        chosen = conn.execute(
            select(job_events.c.data)
            .join(jobs, jobs.c.id == job_events.c.job_id)
            .where(
                jobs.c.kind == POLL,
                job_events.c.type == ReposterEvent.POSTS_CHOSEN,
                job_events.c.at >= started,
            )
        ).scalars()
        summary.left_out = sum(int(data.get("left_out") or 0) for data in chosen)
        summary.new_posts = len(
            conn.execute(
                select(jobs.c.id).where(jobs.c.kind == DELIVER, jobs.c.created_at >= started)
            ).all()
        )
    for kind, status, payload, error in rows:
        later = status != JobStatus.FAILED
        if status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            if kind == POLL and status == JobStatus.COMPLETED:
                summary.polled += 1
            continue
        reason = error or ("not finished yet" if later else "failed")
        if kind == POLL:
            summary.failed_sources.append((payload["source"], reason, later))
        else:
            summary.failed.append(
                FailedPost(payload["post"], payload["url"], payload["destination"], reason, later)
            )
    return summary
