"""The reposter's job kinds: ``poll`` reads a source's newest posts and enqueues one ``deliver``
job per new post and destination, in the transaction that completes the poll; ``deliver`` takes
one post to one destination through its stages.

``Relay`` holds what the handlers share in one process: the settings, the TikTok client, the
Telegram sender with its flood pacer, the download limit and the chats' turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import Connection

from tikrelay.config.logging import redact_text
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import InvalidJobError, classify
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.posts import backfill as choose_backfill
from tikrelay.domain.retry import RETRYABLE
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.service import JobService
from tikrelay.reposter import media_cache
from tikrelay.reposter.model import (
    DELIVER,
    POLL,
    PRUNE_MEDIA,
    DeliverPayload,
    PollPayload,
    Route,
    WatchedSource,
    watched_sources,
)
from tikrelay.reposter.progress import Progress
from tikrelay.reposter.turns import ChatTurns
from tikrelay.sources.refs import SITE
from tikrelay.store import locks
from tikrelay.store import relay as sql
from tikrelay.store.transition import add_events

if TYPE_CHECKING:
    from tikrelay.destinations.telegram import TelegramSender
    from tikrelay.sources.tiktok import TikTokClient

log = structlog.get_logger("tikrelay.relay")
T = TypeVar("T")


class Relay:
    def __init__(
        self,
        settings: Settings,
        sender: TelegramSender | None = None,
        client: TikTokClient | None = None,
    ) -> None:
        self.settings = settings
        self.paths = StatePaths(settings.state_dir)
        self.sources = {s.key: s for s in watched_sources(settings)}
        self.turns = ChatTurns()
        self.downloads = asyncio.Semaphore(settings.delivery.downloads)
        self._sender = sender
        self._client = client
        self._service: JobService | None = None
        self.progress = Progress()

    @property
    def sender(self) -> TelegramSender:
        """The Telegram sender, made on first use (python-telegram-bot loads only then)."""
        if self._sender is None:
            from tikrelay.destinations.pacer import FloodPacer
            from tikrelay.destinations.telegram import TelegramSender

            telegram = self.settings.telegram
            token = telegram.bot_token
            self._sender = TelegramSender(
                token.get_secret_value() if token else "",
                api_url=telegram.api_url,
                local_mode=telegram.local_mode,
                pacer=FloodPacer(**telegram.flood.model_dump()),
                # A longer flood wait is scheduled as a retry: a draining run exits meanwhile.
                max_wait=self.settings.jobs.drain_wait_seconds,
            )
        return self._sender

    @property
    def client(self) -> TikTokClient:
        """The TikTok client, made on first use (yt-dlp loads only then)."""
        if self._client is None:
            from tikrelay.sources.tiktok import TikTokClient

            self._client = TikTokClient(self.settings.network, self.paths.ensure())
        return self._client

    @property
    def service(self) -> JobService:
        if self._service is None:
            raise RuntimeError("Relay.bind(service) first")
        return self._service

    def bind(self, service: JobService) -> None:
        self._service = service

    def route(self, name: str) -> Route:
        found = self.settings.destinations.get(name)
        if found is None:
            raise InvalidJobError(f"destination {name!r} is no longer in the config")
        return Route(name, found)

    def source(self, key: str) -> WatchedSource:
        found = self.sources.get(key)
        if found is None:
            raise InvalidJobError(f"source {key!r} is no longer in the config")
        return found

    async def tx(self, ctx: JobContext, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(conn, *args, **kwargs)`` in its own transaction on the database thread."""

        def run() -> T:
            with self.service.queue.transaction() as conn:
                return func(conn, *args, **kwargs)

        result: T = await ctx.db(run)
        return result

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        """Hold the chat against other processes too (several workers, a cron run beside the
        service): sends to one chat stay one at a time, which reconciliation relies on."""
        held = locks.held(self.service.queue.engine, f"chat:{chat}", self.paths.locks)
        loop = asyncio.get_running_loop()
        taking = loop.run_in_executor(None, held.__enter__)

        def give_back(took: asyncio.Future[None]) -> None:
            if not took.cancelled() and took.exception() is None:
                loop.run_in_executor(None, held.__exit__, None, None, None)

        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:
            # Cancelled while waiting (a job timeout, a shutdown): the thread still gets the
            # lock in the end, and must hand it back then, or the chat stays locked.
            taking.add_done_callback(give_back)
            raise
        try:
            yield
        finally:
            await asyncio.to_thread(held.__exit__, None, None, None)

    def now(self) -> datetime:
        return self.service.queue.clock()

    def registry(self) -> Registry:
        registry = Registry()

        # Two polls at a time: reading feeds is mostly CPU in yt-dlp, and deliveries (ahead of
        # polls in the queue) should start downloading as soon as the first poll is done. A
        # failed feed waits for its backoff, not in this run: a run never hammers a source.
        @registry.handler(
            POLL, payload=PollPayload, max_attempts=3, max_running=2, drain_wait=False
        )
        async def poll(ctx: JobContext, payload: PollPayload) -> None:
            try:
                await self.poll(ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"source {payload.source}", exc)
                raise

        @registry.handler(DELIVER, payload=DeliverPayload)
        async def deliver_post(ctx: JobContext, payload: DeliverPayload) -> None:
            from tikrelay.reposter import deliver  # PyAV, Pillow, Jinja2: only with work to do

            try:
                await deliver.deliver(self, ctx, payload)
            except Exception as exc:
                self._report_failure(ctx, f"{payload.post} → {payload.destination}", exc)
                raise

        @registry.handler(PRUNE_MEDIA, max_attempts=1, max_running=1)
        async def prune_media(ctx: JobContext, payload: dict[str, object]) -> None:
            removed = await asyncio.to_thread(self.prune_media)
            await ctx.event(ReposterEvent.MEDIA_PRUNED, folders=removed)

        return registry

    def prune_media(self) -> int:
        """Delete posts' media no delivery needs any more (delivery.keep_media_hours)."""
        return media_cache.prune(self.settings, self.service.queue, DELIVER)

    def _report_failure(self, ctx: JobContext, what: str, exc: Exception) -> None:
        error = classify(exc)
        retryable = error.retryable if error.retryable is not None else error.kind in RETRYABLE
        retry = retryable and ctx.attempt < ctx.job.max_attempts
        self.progress.failed(what, f"{error.kind}: {redact_text(error.message)}", retry=retry)

    # -- poll ----------------------------------------------------------------------------------

    async def poll(self, ctx: JobContext, payload: PollPayload) -> None:
        watched = self.source(payload.source)
        now = self.now()
        row = await self.tx(ctx, sql.ensure_source, watched.key, SITE, watched.username, now)
        attempt = ctx.attempt - 1
        try:
            async with ctx.stage(Stage.FEED_FETCH):
                depth = watched.settings.depth
                if row.native_id is None:  # first poll: the profile page gives the secUid too
                    native_id, entries = await asyncio.to_thread(
                        self.client.resolve, watched.username, depth, attempt=attempt
                    )
                    if native_id is not None:  # None: nothing posted yet
                        await self.tx(ctx, sql.set_native_id, row.id, native_id)
                else:
                    entries = await asyncio.to_thread(
                        self.client.latest, row.native_id, watched.username, depth, attempt=attempt
                    )
        except Exception as exc:
            await self.tx(ctx, sql.record_poll_error, row.id, str(exc)[:500])
            raise
        await ctx.event(ReposterEvent.FEED_LISTED, source=watched.key, posts=len(entries))
        first_sight = row.first_polled_at is None
        backfill = watched.settings.backfill
        keep = watched.settings.depth if backfill is None else backfill

        def record(conn: Connection) -> None:
            keys = [f"{SITE}:{e.id}" for e in entries]
            new = set(sql.record_listing(conn, row.id, keys, self.now()))
            fresh = [e for e in entries if f"{SITE}:{e.id}" in new]
            left_out = 0
            if first_sight:  # only the newest ``backfill`` of what was already there
                fresh, left_out = choose_backfill(fresh, keep)
            for entry in fresh:  # oldest first: deliver jobs are claimed in this order
                key = f"{SITE}:{entry.id}"
                for name in watched.settings.to:
                    if sql.delivered_ids(conn, key, name) is not None:
                        continue
                    job = DeliverPayload(
                        post=key, id=entry.id, url=entry.url, source=watched.key, destination=name
                    )
                    # Ahead of the other polls: downloads start while the rest are read.
                    self.service.enqueue(
                        DELIVER, job, dedupe_key=f"deliver:{key}:{name}", priority=1, conn=conn
                    )
            counts = {"listed": len(entries), "new": len(new), "queued": len(fresh)}
            add_events(
                conn,
                [(ctx.job.id, ReposterEvent.POSTS_CHOSEN, {**counts, "left_out": left_out})],
                self.now(),
            )
            log.info("polled", source=watched.key, **counts, left_out=left_out)
            self.progress.polled(
                watched.key, len(entries), len(fresh) * len(watched.settings.to), left_out
            )

        ctx.on_complete(record)
