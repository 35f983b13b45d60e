"""The one place the program is put together from the settings: the database and job queue, the
engine's kinds and plugins, the reposter (routes, clients, media cache, chats, listeners). The
faces only call it: the CLI's ``run --once``, ``serve`` and ``worker`` (and later the bot and the
web) get the same program and the same summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tikrelay.config.paths import StateDirError, StatePaths
from tikrelay.config.settings import Settings
from tikrelay.engine import housekeeping
from tikrelay.engine.kinds import worker_registry
from tikrelay.engine.registry import Registry
from tikrelay.engine.service import JobService
from tikrelay.engine.worker import Worker, pid_alive
from tikrelay.reposter.catalog import Catalog, CatalogError
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.jobs import Reposter
from tikrelay.reposter.model import (
    DIGEST,
    MEDIA_KINDS,
    POLL,
    Routes,
    SetupError,
    check_archive,
    check_relay_settings,
    upload_limit,
)
from tikrelay.reposter.progress import Listeners
from tikrelay.store import JobQueue, open_queue
from tikrelay.store.queue import Clock, utc_now
from tikrelay.store.reports import RunSummary, run_summary
from tikrelay.store.retention_sql import Pruned

#: Work that runs beside the worker until the event is set (e.g. the bot taking updates).
Companion = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def check_archives(routes: Routes) -> None:
    """Every archive destination of the catalog (the command line's too) can be opened."""
    for name, destination in routes.destinations.items():
        try:
            check_archive(destination)
        except ValueError as exc:
            raise SetupError(f"destination {name!r}: archive: {exc}") from None


def check_reposter_settings(settings: Settings) -> None:
    """Everything the reposter needs that pydantic cannot check alone; SetupError names the key."""
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


class Runtime:
    """The program for one set of settings. ``open`` raises SetupError (the settings cannot run
    the reposter) or store.DatabaseError (the database cannot be used), each naming the key."""

    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        service: JobService,
        reposter: Reposter | None,
        config_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.config_file = config_file
        self.queue = queue
        self.service = service
        self.reposter = reposter
        self.listeners = reposter.listeners if reposter is not None else Listeners()

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        config_file: Path | None = None,
        pool_size: int | None = None,
        reposter: bool = True,
        extra_kinds: list[str] | None = None,
        clients: Clients | None = None,
        clock: Clock = utc_now,
    ) -> Runtime:
        """``reposter``: also the reposter's jobs (its settings are checked first, so that a
        mistake is said before the database is opened), working from the catalog. The config
        file's sources and destinations are synced into the catalog (with the reposter, or
        when the file has any).
        ``extra_kinds``: ``module:attr`` registries of more job kinds (ValueError names a bad
        one). ``config_file`` names the file in the catalog's messages. ``clock``: what the jobs
        take for now (tests move it by hand)."""
        if reposter:
            check_reposter_settings(settings)
        size = pool_size or settings.jobs.worker_concurrency + 2
        queue = open_queue(settings, pool_size=size, clock=clock)
        try:
            registry = Registry()
            registry.include(worker_registry(extra_kinds))
            service = JobService(queue, registry, settings.jobs)
            registry.include(housekeeping.registry(service))
            found = None
            catalog = Catalog(queue.engine, config_file=config_file)
            # The web alone (no reposter) syncs too: a source added there may route to a
            # destination of the file before any run has.
            if reposter or settings.sources or settings.destinations:
                try:
                    catalog.sync_from_settings(settings)
                except CatalogError as exc:
                    raise SetupError(str(exc)) from None
            if reposter:
                seen = catalog.version()
                routes = catalog.routes()
                check_archives(routes)
                # Another process (the web, the command line) may change the catalog since.
                routes.watch(catalog.routes, catalog.version, seen)
                found = Reposter(settings, service, routes, clients)
                registry.include(found.registry())
        except BaseException:
            queue.engine.dispose()
            raise
        return cls(settings, queue, service, found, config_file)

    def close(self) -> None:
        if self.reposter is not None:
            self.reposter.clients.close()
        self.queue.engine.dispose()

    def catalog(self) -> Catalog:
        """The catalog of sources and destinations in this runtime's database."""
        return Catalog(self.queue.engine, config_file=self.config_file)

    def reload_catalog(self) -> None:
        """After the catalog changed in this process (e.g. a /subscribe): the reposter routes
        and polls what it holds now, on their schedules."""
        if self.reposter is None:
            return
        catalog = self.catalog()
        routes = catalog.routes()
        check_archives(routes)
        self.reposter.routes.update(routes)
        self.reposter.schedule_polls(random.Random())  # noqa: S311 - jitter, not secrets

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the faces call ---------------------------------------------------------------

    def run_once(self) -> RunSummary:
        """Poll every source, deliver what is new, drain the queue (retries due within
        ``jobs.drain_wait_seconds`` included), clean the media cache; what the run did."""
        started = self.queue.clock()
        if self.reposter is not None:
            self.reposter.enqueue_polls()
            # The daily summary and the disk check fire in cron runs too, when due.
            self.reposter.notifier.schedule(random.Random())  # noqa: S311 - jitter, not secrets
        # Jobs a killed run left RUNNING are due again at once; otherwise "nothing due" would
        # skip them until their lease ran out.
        self.queue.recover(
            host=socket.gethostname(),
            is_alive=pid_alive,
            lease=timedelta(seconds=self.settings.jobs.lease_seconds),
        )
        if self.queue.has_due_work(self.service.registry.names()):
            self.work(drain=True)
        summary = self.summary(started)
        if self.reposter is not None:
            self.reposter.prune_media()
        self.prune_jobs()
        return summary

    def prune_jobs(self) -> Pruned:
        """Delete now the finished jobs past their retention (jobs.keep_days,
        jobs.keep_failed_days), and their timelines."""
        return housekeeping.prune_jobs(self.service)

    def serve(
        self,
        on_start: Callable[[], None] | None = None,
        companions: Sequence[Companion] = (),
    ) -> RunSummary:
        """Poll each source on its schedule and deliver, until SIGTERM/SIGINT (``companions``,
        such as the bot's intake, beside); what it did."""
        started = self.queue.clock()
        if self.reposter is not None:
            # The first polls start now, spread so that thousands of sources are not one burst.
            self.reposter.schedule_polls(random.Random())  # noqa: S311 - jitter, not secrets
        if on_start is not None:
            on_start()
        self.work(drain=False, companions=companions)
        return self.summary(started)

    def work(
        self,
        *,
        drain: bool,
        concurrency: int | None = None,
        companions: Sequence[Companion] = (),
    ) -> None:
        """Run jobs until stopped (``drain``: until none is due). The first SIGTERM/SIGINT lets
        running jobs finish (``jobs.shutdown_grace_seconds``), a second one releases them at
        once. A full disk stops the worker: its error is raised here. ``companions`` run beside
        the worker in the same event loop (the bot's intake) until its stop is set; one that
        fails stops the worker, and its error is raised here."""
        size = concurrency or self.settings.jobs.worker_concurrency
        if not drain:  # a draining run prunes at its end instead (run_once, worker --drain)
            housekeeping.schedule(self.service, random.Random())  # noqa: S311 - jitter only
        worker = Worker(self.service, concurrency=size, drain=drain)
        asyncio.run(self._work(worker, companions))

    async def _work(self, worker: Worker, companions: Sequence[Companion]) -> None:
        loop = asyncio.get_running_loop()
        signals = 0
        stop = asyncio.Event()

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            stop.set()
            worker.stop(now=signals > 1)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        async with contextlib.AsyncExitStack() as stack:
            if self.reposter is not None:
                # Telegram is reached (and python-telegram-bot loaded) with the first thing to
                # send, not before: a cron run that finds nothing new never asks it anything.
                stack.push_async_callback(self.reposter.clients.aclose)
            beside = [asyncio.create_task(companion(stop)) for companion in companions]
            for task in beside:
                task.add_done_callback(lambda done: _stop_on_failure(done, worker))
            try:
                await worker.run()
            finally:
                stop.set()
                results = await asyncio.gather(*beside, return_exceptions=True)
        if worker.fatal is not None:
            raise worker.fatal
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed

    def summary(self, started: datetime) -> RunSummary:
        """What the reposter's jobs did since ``started``, and every one still waiting."""
        return run_summary(
            self.queue.engine, started, poll=POLL, deliver=MEDIA_KINDS, others=[DIGEST]
        )


def _stop_on_failure(task: asyncio.Task[None], worker: Worker) -> None:
    if not task.cancelled() and task.exception() is not None:
        worker.stop()


def describe_full_disk(settings: Settings, found: BaseException) -> str:
    """One line for a full disk: which folder, how much room there is and tikrelay needs."""
    advice = "free some space and run again: unfinished jobs were given back and run then"
    if getattr(found, "sqlstate", None) is not None:  # the PostgreSQL server's own disk
        return f"the database server's disk is full (database_url): {advice}"
    # state_dir, or its media cache when that is a disk of its own with less room.
    paths = StatePaths(settings.state_dir.absolute())
    folder = min((paths.root, paths.media_cache), key=lambda f: (_free(f), f != paths.root))
    need = 2 * upload_limit(settings) + 16 * 1000 * 1000  # a download, its prepared copy, the db
    return (
        f"no space left on the disk of {folder} ({_size(_free(folder))} free): "
        f"tikrelay needs at least {_size(need)} free there; {advice}"
    )


def _free(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free


def _size(count: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
