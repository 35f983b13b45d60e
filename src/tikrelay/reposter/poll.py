"""The ``poll`` job: a source's newest posts read with one feed request; the new ones become
``deliver`` jobs (or ``archive`` jobs for archive destinations; oldest first, one per
destination) in the transaction that completes the poll, so that either all of it is written or
none of it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import Connection

from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.posts import backfill as choose_backfill
from tikrelay.engine.context import JobContext
from tikrelay.engine.service import JobService
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.model import POLL, DeliverPayload, PollPayload, Routes, job_for
from tikrelay.reposter.progress import Progress
from tikrelay.store import filtered_sql
from tikrelay.store import relay as sql
from tikrelay.store.transition import add_events

if TYPE_CHECKING:
    from tikrelay.sources.playlists import PlaylistEntry
    from tikrelay.sources.tiktok_item import FeedEntry

log = structlog.get_logger("tikrelay.relay")
T = TypeVar("T")


class Poller:
    """The ``poll`` job's handler, given exactly what it uses."""

    def __init__(
        self, *, service: JobService, routes: Routes, clients: Clients, progress: Progress
    ) -> None:
        self.service = service
        self.routes = routes
        self.clients = clients
        self.progress = progress
        self._threads: ThreadPoolExecutor | None = None

    def _read(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
        """A blocking feed read on the polls' own threads, one per poll slot (the default
        executor is smaller and shared with deliveries)."""
        if self._threads is None:
            slots = self.service.limits().per_kind.get(POLL) or 1
            self._threads = ThreadPoolExecutor(slots, thread_name_prefix="tikrelay-feed")
        call = functools.partial(func, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(self._threads, call)

    async def __call__(self, ctx: JobContext, payload: PollPayload) -> None:
        if not self.routes.knows(source=payload.source):
            await ctx.db(self.routes.reload)
        watched = self.routes.source(payload.source)
        ledger = Ledger(ctx, self.service.queue)
        site = watched.site  # the site of its posts' keys
        handle = watched.username[:200]
        row = await ledger.run(sql.ensure_source, watched.key, site, handle, ledger.now())
        attempt = ctx.attempt - 1
        client = self.clients.tiktok
        depth = watched.settings.depth
        started = time.monotonic()
        entries: Sequence[FeedEntry | PlaylistEntry]
        try:
            async with ctx.stage(Stage.FEED_FETCH):
                if watched.playlist:
                    entries = await self._read(
                        self.clients.playlists.latest, watched.username, depth, attempt=attempt
                    )
                elif row.native_id is None:  # first poll: the profile page gives the secUid too
                    native_id, entries = await self._read(
                        client.resolve, watched.username, depth, attempt=attempt
                    )
                    if native_id is not None:  # None: nothing posted yet
                        await ledger.run(sql.set_native_id, row.id, native_id)
                else:
                    entries = await self._read(
                        client.latest, row.native_id, watched.username, depth, attempt=attempt
                    )
        except Exception as exc:
            await ledger.run(sql.record_poll_error, row.id, str(exc)[:500])
            raise
        seconds = time.monotonic() - started
        await ledger.event(ReposterEvent.FEED_LISTED, source=watched.key, posts=len(entries))
        first_sight = row.first_polled_at is None
        backfill = watched.settings.backfill
        keep = depth if backfill is None else backfill

        def record(conn: Connection) -> None:
            keys = [f"{site}:{e.id}" for e in entries]
            new = set(sql.record_listing(conn, row.id, keys, ledger.now(), seconds))
            fresh = [e for e in entries if f"{site}:{e.id}" in new]
            left_out = 0
            if first_sight:  # only the newest ``backfill`` of what was already there
                fresh, left_out = choose_backfill(fresh, keep)
            for entry in fresh:  # oldest first: deliver jobs are claimed in this order
                key = f"{site}:{entry.id}"
                for name in watched.settings.to:
                    if sql.delivered_ids(conn, key, name) is not None:
                        continue
                    if filtered_sql.filtered_reason(conn, key, name) is not None:
                        continue  # kept out there by the filters before: for good
                    route = self.routes.route(name)
                    scheduled = route.settings.schedule is not None
                    job = DeliverPayload(
                        post=key,
                        id=entry.id,
                        url=entry.url,
                        source=watched.key,
                        destination=name,
                        author=getattr(entry, "author", None),
                        # A schedule's queue is oldest post first, whatever the source.
                        published_at=entry.created_at if scheduled else None,
                    )
                    kind = route.job_kind
                    # Ahead of the other polls: downloads start while the rest are read.
                    self.service.enqueue(
                        kind, job, dedupe_key=job_for(kind, key, name), priority=1, conn=conn
                    )
            counts = {"listed": len(entries), "new": len(new), "queued": len(fresh)}
            chosen = {**counts, "left_out": left_out}
            add_events(conn, [(ledger.job_id, ReposterEvent.POSTS_CHOSEN, chosen)], ledger.now())
            log.info("polled", source=watched.key, **chosen)
            told[:] = [len(entries), len(fresh) * len(watched.settings.to), left_out]

        async def tell() -> None:
            # Outside the completing transaction: the database thread, which every job's
            # outcome waits for, does not also write to the terminal.
            if told:
                self.progress.polled(watched.key, *told)

        told: list[int] = []
        ledger.on_complete(record)
        ctx.after_outcome(tell)
