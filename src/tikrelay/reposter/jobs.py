"""The reposter's job kinds, registered with the engine: ``poll``, ``deliver``, ``archive``,
``prune_media`` and ``prune_archives``, each handler given exactly what it uses."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from tikrelay.config.logging import redact_text
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import classify
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.retry import RETRYABLE
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import Schedule, prune, save, save_many
from tikrelay.engine.service import JobService
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.media_cache import MediaCache
from tikrelay.reposter.model import (
    ARCHIVE,
    DELIVER,
    DIGEST,
    MEDIA_KINDS,
    POLL,
    PRUNE_ARCHIVES,
    PRUNE_MEDIA,
    PUBLISH,
    DeliverPayload,
    DigestPayload,
    PollPayload,
    Routes,
)
from tikrelay.reposter.notifying import Notifier
from tikrelay.reposter.poll import Poller
from tikrelay.reposter.progress import Listeners
from tikrelay.reposter.turns import Chats

if TYPE_CHECKING:
    from tikrelay.reposter.archiving import Archiver
    from tikrelay.reposter.deliver import Deliverer
    from tikrelay.reposter.pacing import Digests
    from tikrelay.reposter.publishing import Publisher


#: Polls a second at most when ``serve`` starts (or its sources change).
START_RATE = 10
#: Polls running at once by default, in slots of their own (jobs.kinds.poll.max_running).
POLL_SLOTS = 8


def poll_schedule_name(source_key: str) -> str:
    return f"{POLL}:{source_key}"


class Reposter:
    """The reposter in one process: its routes, clients, media cache, chats and listeners."""

    def __init__(
        self,
        settings: Settings,
        service: JobService,
        routes: Routes,
        clients: Clients | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.routes = routes
        self.clients = clients or Clients(settings)
        self.media = MediaCache(settings)
        self.chats = Chats(service.queue.engine, StatePaths(settings.state_dir).locks)
        self.listeners = Listeners()
        self.poller = Poller(
            service=service, routes=self.routes, clients=self.clients, progress=self.listeners
        )
        self._deliverer: Deliverer | None = None
        self._archiver: Archiver | None = None
        self._publisher: Publisher | None = None
        self._digests: Digests | None = None
        self.notifier = Notifier(settings, service, self.routes, self.clients)

    @property
    def deliverer(self) -> Deliverer:
        """Made on the first delivery: PyAV, Pillow and Jinja2 load only with work to do."""
        if self._deliverer is None:
            from tikrelay.reposter.deliver import Deliverer

            self._deliverer = Deliverer(
                settings=self.settings,
                service=self.service,
                routes=self.routes,
                clients=self.clients,
                media=self.media,
                chats=self.chats,
                progress=self.listeners,
            )
        return self._deliverer

    @property
    def digests(self) -> Digests:
        """Made on the first digest (``schedule.catch_up: digest``)."""
        if self._digests is None:
            from tikrelay.reposter.pacing import Digests

            self._digests = Digests(
                service=self.service, routes=self.routes, clients=self.clients, chats=self.chats
            )
        return self._digests

    @property
    def archiver(self) -> Archiver:
        """Made on the first archive job: obstore loads only with work to do."""
        if self._archiver is None:
            from tikrelay.reposter.archiving import Archiver

            self._archiver = Archiver(
                settings=self.settings,
                queue=self.service.queue,
                routes=self.routes,
                clients=self.clients,
                media=self.media,
                progress=self.listeners,
            )
        return self._archiver

    @property
    def publisher(self) -> Publisher:
        """Made on the first publish job: httpx and cryptography load only with work to do."""
        if self._publisher is None:
            from tikrelay.reposter.publishing import Publisher

            self._publisher = Publisher(
                settings=self.settings,
                queue=self.service.queue,
                routes=self.routes,
                clients=self.clients,
                media=self.media,
                progress=self.listeners,
            )
        return self._publisher

    def enqueue_polls(self) -> int:
        """One poll job per source (a source whose poll waits for a retry keeps it). The dedupe
        key is the one the source's schedule uses, so a cron run and ``serve`` never poll one
        source twice at the same time."""
        polls = [
            (PollPayload(source=key), f"schedule:{poll_schedule_name(key)}")
            for key in self.routes.sources
        ]
        self.service.enqueue_many(POLL, polls)
        return len(polls)

    def schedule_polls(self, rng: random.Random) -> None:
        """A poll schedule per source, every ``every_minutes`` (up to a tenth of it late); the
        first polls spread at random over ``START_RATE`` a second at most and one interval at
        most (three sources poll at once, 10,000 polled every 15 minutes about 11 a second, and
        stay spread); schedules of removed sources go; and the media cache's hourly clean-up."""
        names = []
        now = self.service.queue.clock()
        found = []
        for key, watched in self.routes.sources.items():
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
            spread = min(interval, len(self.routes.sources) / START_RATE)
            found.append((schedule, now + timedelta(seconds=rng.uniform(0, spread))))
        save_many(self.service, found, rng)
        prune(self.service, f"{POLL}:", names)
        # Downloaded media go once no delivery needs them (delivery.keep_media_hours).
        save(self.service, Schedule(name=PRUNE_MEDIA, kind=PRUNE_MEDIA, interval_seconds=3600), rng)
        # Archived posts go after their archive's keep_days.
        if self.archives_kept_for():
            schedule = Schedule(name=PRUNE_ARCHIVES, kind=PRUNE_ARCHIVES, interval_seconds=3600)
            save(self.service, schedule, rng)
        else:
            prune(self.service, PRUNE_ARCHIVES, [])
        # The daily summary and the disk check (notify.*).
        self.notifier.schedule(rng)

    def prune_media(self) -> int:
        """Delete posts' media no job needs any more (delivery.keep_media_hours and
        delivery.cache_max_gb)."""
        return self.media.prune(self.service.queue, MEDIA_KINDS)

    def archives_kept_for(self) -> dict[str, float]:
        """The archive destinations with ``keep_days``, and their days."""
        return {
            name: found.archive.keep_days
            for name, found in self.routes.destinations.items()
            if found.archive is not None and found.archive.keep_days is not None
        }

    def prune_archives(self) -> dict[str, int]:
        """Delete archived posts older than their archive's ``keep_days``; how many per
        archive."""
        from tikrelay.reposter.archiving import prune_archive

        return {
            name: prune_archive(self.archiver.store(name), days)
            for name, days in self.archives_kept_for().items()
        }

    def registry(self) -> Registry:
        registry = Registry()

        # Polls run in slots of their own, eight at a time by default (jobs.kinds.poll.
        # max_running): a feed read mostly waits on TikTok, so reads overlap, and neither waits
        # for deliveries nor holds their slots; deliveries found by a poll are ahead of the
        # other polls in the queue. A poll's timeline is written with its outcome, in one
        # transaction. A failed feed waits for its backoff, not in this run: a run
        # never hammers a source. A completed poll is kept a day, not jobs.keep_days: polls are
        # by far the most jobs (10,000 creators every 15 minutes are 960,000 a day), what one
        # found lives on in its deliver jobs and the source's poll time, and a day answers "why
        # was this not sent".
        @registry.handler(
            POLL,
            payload=PollPayload,
            max_attempts=3,
            max_running=POLL_SLOTS,
            own_slots=True,
            hold_events=True,
            drain_wait=False,
            keep_days=1,
        )
        async def poll(ctx: JobContext, payload: PollPayload) -> None:
            await self._current(ctx)
            try:
                await self.poller(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"source {payload.source}", exc)
                await self.notifier.source_failed(ctx, payload.source, exc)
                raise
            self.notifier.source_polled(ctx, payload.source)

        @registry.handler(DELIVER, payload=DeliverPayload)
        async def deliver(ctx: JobContext, payload: DeliverPayload) -> None:
            await self._current(ctx)
            try:
                await self.deliverer(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"{payload.post} → {payload.destination}", exc)
                raise

        @registry.handler(DIGEST, payload=DigestPayload)
        async def digest(ctx: JobContext, payload: DigestPayload) -> None:
            await self._current(ctx)
            try:
                await self.digests(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"digest → {payload.destination}", exc)
                raise

        @registry.handler(ARCHIVE, payload=DeliverPayload)
        async def archive(ctx: JobContext, payload: DeliverPayload) -> None:
            await self._current(ctx)
            try:
                await self.archiver(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"{payload.post} → {payload.destination}", exc)
                raise

        # TikTok allows 6 initializations a minute per account: two publish jobs at a time.
        @registry.handler(PUBLISH, payload=DeliverPayload, max_running=2)
        async def publish(ctx: JobContext, payload: DeliverPayload) -> None:
            await self._current(ctx)
            account = self.routes.tiktok_account(payload.destination)
            try:
                await self.publisher(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"{payload.post} → {payload.destination}", exc)
                if account is not None:
                    await self.notifier.account_failed(ctx, account, exc)
                raise
            if account is not None:
                self.notifier.account_worked(ctx, account)

        @registry.handler(PRUNE_ARCHIVES, max_attempts=1, max_running=1)
        async def prune_archives(ctx: JobContext, payload: dict[str, object]) -> None:
            removed = await asyncio.to_thread(self.prune_archives)
            await ctx.event(ReposterEvent.ARCHIVES_PRUNED, posts=removed)

        @registry.handler(PRUNE_MEDIA, max_attempts=1, max_running=1)
        async def prune_media(ctx: JobContext, payload: dict[str, object]) -> None:
            removed = await asyncio.to_thread(self.prune_media)
            await ctx.event(ReposterEvent.MEDIA_PRUNED, folders=removed)

        registry.include(self.notifier.registry())
        return registry

    async def _current(self, ctx: JobContext) -> None:
        """The catalog as it stands: another process (the web, the command line) may have
        changed it; looked at every few seconds, without a database call in between."""
        if self.routes.due():
            await ctx.db(self.routes.refresh)

    def _report_failure(self, ctx: JobContext, what: str, exc: Exception) -> None:
        error = classify(exc)
        retryable = error.retryable if error.retryable is not None else error.kind in RETRYABLE
        retry = retryable and ctx.attempt < ctx.job.max_attempts
        self.listeners.failed(what, f"{error.kind}: {redact_text(error.message)}", retry=retry)
