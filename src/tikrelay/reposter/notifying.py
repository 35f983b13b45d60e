"""Notifications: incidents (a source failing for ``notify.source_failing_hours``, an expired
login, a broken extractor, a nearly full disk), each told once, on the first failure that
qualifies, and "recovered" once it works again; and the daily summary.

Telling is durable: the incident's row and one ``notify`` job per channel are written in one
transaction (a failing poll's own, or the one that completes a poll that works again), so a
crash loses neither, and ``incidents_sql.notify_once`` guards "once" across workers. A ``notify``
job is retried while the SMTP server or Telegram is down, and a draining ``run --once`` sends it
before it exits. The daily summary and the disk check are schedules (``notify_summary`` on a cron
in ``notify.tz``, ``watch_disk`` every 10 minutes) that ``serve`` and cron runs alike fire."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from tikrelay.config.fields import machine_zone
from tikrelay.config.logging import redact_text
from tikrelay.config.notify_settings import SMTP_PASSWORD_ENV
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.events import ReposterEvent
from tikrelay.engine.context import JobContext
from tikrelay.engine.registry import Registry
from tikrelay.engine.schedules import Schedule, prune, save
from tikrelay.engine.service import JobService
from tikrelay.reposter import notify_texts as texts
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.model import Routes
from tikrelay.store import incidents_sql, schedules_sql
from tikrelay.store.reports import health_figures
from tikrelay.store.transition import add_events

if TYPE_CHECKING:
    from tikrelay.destinations.notifiers import Channel

log = structlog.get_logger("tikrelay.notify")

NOTIFY = "notify"
NOTIFY_SUMMARY = "notify_summary"
WATCH_DISK = "watch_disk"
DISK_KEY = "disk"
#: Incidents of what the catalog holds (a source, a TikTok account), by their keys' prefixes.
_OWNED = ("source:", "tiktok-account:")
DISK_CHECK_SECONDS = 600.0


class NotifyPayload(BaseModel):
    """One message to one channel (``telegram``, ``email``, ``apprise:N``): never a secret."""

    channel: str = Field(max_length=40)
    title: str = Field(max_length=200)
    text: str = Field(max_length=8000)


def time_zone(settings: Settings) -> str:
    """``notify.tz``, else the machine's zone (UTC when it has none that can be named)."""
    return settings.notify.tz or machine_zone()


class Notifier:
    """The notifications of one process: incidents, channels, the summary."""

    def __init__(
        self, settings: Settings, service: JobService, routes: Routes, clients: Clients
    ) -> None:
        self.settings = settings
        self.notify = settings.notify
        self.service = service
        self.routes = routes
        self.clients = clients
        self.zone_name = time_zone(settings)
        self.zone = ZoneInfo(self.zone_name)
        self._channels: dict[str, Channel] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.notify.channels)

    # -- incidents of sources ----------------------------------------------------------------

    async def source_failed(self, ctx: JobContext, source: str, exc: BaseException) -> None:
        """A poll of ``source`` failed: open (or keep) its incident, and tell it once it needs
        a person. Never raises: the poll's own failure is what the caller raises."""
        error = classify(exc)
        if not self.enabled or error.kind in texts.NOT_THE_SOURCE:
            return
        failing_hours = self.notify.source_failing_hours
        zone = self.zone

        def told(incident: incidents_sql.Incident, now: datetime) -> texts.Message | None:
            if not texts.needs_a_person(error.kind, incident.opened_at, now, failing_hours):
                return None
            return texts.source_failing(
                source, error.kind, incident.detail, incident.opened_at, now, zone
            )

        kind = texts.incident_kind(error.kind)
        await self._failed(ctx, f"source:{source}", kind, source, error, told)

    def source_polled(self, ctx: JobContext, source: str) -> None:
        """A poll of ``source`` is about to complete: its open incident closes in the same
        transaction, and a person who was told hears it recovered."""
        zone = self.zone
        self._worked(
            ctx,
            f"source:{source}",
            lambda closed, now: texts.source_recovered(source, closed.opened_at, now, zone),
        )

    async def account_failed(self, ctx: JobContext, account: str, exc: BaseException) -> None:
        """A publish to TikTok account ``account`` failed: an authorization TikTok no longer
        takes (revoked, expired, refused) is told at once, once. Never raises."""
        error = classify(exc)
        if not self.enabled or error.kind is not ErrorKind.AUTH:
            return
        zone = self.zone

        def told(incident: incidents_sql.Incident, now: datetime) -> texts.Message:
            return texts.account_refused(account, incident.detail, incident.opened_at, zone)

        subject = f"TikTok account {account}"
        await self._failed(ctx, f"tiktok-account:{account}", "auth", subject, error, told)

    def account_worked(self, ctx: JobContext, account: str) -> None:
        """A publish to ``account`` is about to complete: its incident, if any, closes."""
        zone = self.zone
        self._worked(
            ctx,
            f"tiktok-account:{account}",
            lambda closed, now: texts.account_recovered(account, closed.opened_at, now, zone),
        )

    async def _failed(
        self,
        ctx: JobContext,
        key: str,
        kind: str,
        subject: str,
        error: TikrelayError,
        told: Callable[[incidents_sql.Incident, datetime], texts.Message | None],
    ) -> None:
        """Open (or keep) the incident ``key``; tell it, once, when ``told`` gives a message."""
        job_id = ctx.job.id
        detail = redact_text(error.message)[:500]

        def record() -> None:
            now = self.service.queue.clock()
            with self.service.queue.transaction() as conn:
                incident = incidents_sql.record_failure(conn, key, kind, subject, detail, now)
                if incident.notified_at is not None:
                    return  # told already: at most once per incident
                message = told(incident, now)
                if message is None or not incidents_sql.notify_once(conn, key, now):
                    return
                self._enqueue(conn, message)
                event = {"incident": incident.kind, "since": incident.opened_at.isoformat()}
                add_events(conn, [(job_id, ReposterEvent.INCIDENT_NOTIFIED, event)], now)

        try:
            await ctx.db(record)
        except Exception:  # told in the log; the job's own error goes on
            log.exception("incident_not_recorded", incident=key)

    def _worked(
        self,
        ctx: JobContext,
        key: str,
        recovered: Callable[[incidents_sql.Incident, datetime], texts.Message],
    ) -> None:
        """The job is about to complete: the incident ``key`` closes in the same transaction,
        and a person who was told hears it is over."""
        if not self.enabled:
            return
        job_id = ctx.job.id

        def close(conn: Connection) -> None:
            now = self.service.queue.clock()
            closed = incidents_sql.close(conn, key, now)
            if closed is None or closed.notified_at is None:
                return
            self._enqueue(conn, recovered(closed, now))
            event = {"incident": closed.kind, "since": closed.opened_at.isoformat()}
            add_events(conn, [(job_id, ReposterEvent.INCIDENT_CLOSED, event)], now)

        ctx.on_complete(close)

    # -- the disk -----------------------------------------------------------------------------

    def watch_disk(self, job_id: int) -> bool:
        """Check the state folder's disk; True when it is nearly full."""
        folder = StatePaths(self.settings.state_dir).root.absolute()
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        usage = shutil.disk_usage(existing)
        low = texts.disk_low(usage.total, usage.free, self.notify.disk_free_percent)
        now = self.service.queue.clock()
        with self.service.queue.transaction() as conn:
            if not low:
                closed = incidents_sql.close(conn, DISK_KEY, now)
                if closed is not None and closed.notified_at is not None:
                    self._enqueue(conn, texts.disk_recovered(str(folder), usage.free, usage.total))
                    closing = {"incident": DISK_KEY}
                    add_events(conn, [(job_id, ReposterEvent.INCIDENT_CLOSED, closing)], now)
                return False
            message = texts.disk_filling(
                str(folder), usage.free, usage.total, self.notify.disk_free_percent
            )
            incidents_sql.record_failure(conn, DISK_KEY, DISK_KEY, str(folder), message.text, now)
            if incidents_sql.notify_once(conn, DISK_KEY, now):
                self._enqueue(conn, message)
                told = {"incident": DISK_KEY}
                add_events(conn, [(job_id, ReposterEvent.INCIDENT_NOTIFIED, told)], now)
        return True

    # -- the daily summary ----------------------------------------------------------------------

    def summary(self) -> texts.Message:
        now = self.service.queue.clock()
        since = now - timedelta(days=1)
        engine = self.service.queue.engine
        delivered = incidents_sql.delivered_since(engine, since)
        health = health_figures(engine, since)
        in_use = {f"source:{key}" for key in self.routes.sources} | {
            f"tiktok-account:{found.tiktok.account}"
            for found in self.routes.destinations.values()
            if found.tiktok is not None
        }
        failing = []
        with self.service.queue.transaction() as conn:
            for incident in incidents_sql.open_incidents(conn):
                if incident.key.startswith(_OWNED) and incident.key not in in_use:
                    # A source paused or removed, an account no longer published to: nothing
                    # polls or uses it to end its incident, and it needs no one any more.
                    incidents_sql.close(conn, incident.key, now)
                    continue
                failing.append((incident.subject, incident.opened_at))
        figures = texts.SummaryFigures(
            since=since,
            now=now,
            by_source={k: delivered.by_source.get(k, 0) for k in self.routes.sources},
            by_destination={
                name: delivered.by_destination.get(name, 0) for name in self.routes.destinations
            },
            failures=health.errors,
            queue=health.by_status,
            failing=[(texts.source_name(s) if ":" in s else s, at) for s, at in failing],
        )
        return texts.daily_summary(figures, self.zone)

    # -- sending ------------------------------------------------------------------------------

    def _enqueue(self, conn: Connection, message: texts.Message) -> None:
        for channel in self.notify.channels:
            payload = NotifyPayload(channel=channel, title=message.title, text=message.text[:8000])
            self.service.enqueue(NOTIFY, payload, conn=conn)

    def enqueue(self, message: texts.Message) -> None:
        with self.service.queue.transaction() as conn:
            self._enqueue(conn, message)

    def channel(self, name: str) -> Channel | None:
        """The channel a ``notify`` job names, as the settings define it now (None: gone)."""
        if name in self._channels:
            return self._channels[name]
        from tikrelay.destinations.notifiers import AppriseChannel, EmailChannel, TelegramChannel

        found: Channel | None = None
        if name == "telegram" and self.notify.telegram_chat_id is not None:
            found = TelegramChannel(self.clients.telegram, self.notify.telegram_chat_id)
        elif name == "email" and self.notify.email is not None:
            password = os.environ.get(SMTP_PASSWORD_ENV) or None
            found = EmailChannel(self.notify.email, password)
        elif name.startswith("apprise:") and name.partition(":")[2].isdigit():
            index = int(name.partition(":")[2])
            if index < len(self.notify.apprise):
                found = AppriseChannel(self.notify.apprise[index].get_secret_value(), index=index)
        if found is not None:
            self._channels[name] = found
        return found

    # -- jobs and schedules --------------------------------------------------------------------

    def registry(self) -> Registry:
        registry = Registry()

        # A message waits for its channel: retried with backoff for about two hours (the
        # SMTP server restarting, Telegram down), and a draining run waits for a retry due
        # within jobs.drain_wait_seconds.
        @registry.handler(NOTIFY, payload=NotifyPayload, max_attempts=8, max_running=2)
        async def notify(ctx: JobContext, payload: NotifyPayload) -> None:
            channel = self.channel(payload.channel)
            if channel is None:  # removed from the settings since: nowhere to send it
                await ctx.event(ReposterEvent.NOTIFICATION_DROPPED, channel=payload.channel)
                return
            await channel.send(payload.title, payload.text)
            await ctx.event(ReposterEvent.NOTIFIED, channel=channel.name)

        @registry.handler(NOTIFY_SUMMARY, max_attempts=1, max_running=1)
        async def notify_summary(ctx: JobContext, payload: dict[str, object]) -> None:
            message = await ctx.db(self.summary)
            await ctx.db(self.enqueue, message)

        @registry.handler(WATCH_DISK, max_attempts=1, max_running=1)
        async def watch_disk(ctx: JobContext, payload: dict[str, object]) -> None:
            await ctx.db(self.watch_disk, ctx.job.id)

        return registry

    def schedules(self) -> list[Schedule]:
        if not self.enabled:
            return []
        found = []
        if self.notify.daily_summary is not None:
            hours, minutes = self.notify.daily_summary.split(":")
            cron = f"{int(minutes)} {int(hours)} * * *"
            found.append(
                Schedule(NOTIFY_SUMMARY, NOTIFY_SUMMARY, cron=cron, timezone=self.zone_name)
            )
        if self.notify.disk_free_percent > 0:
            found.append(Schedule(WATCH_DISK, WATCH_DISK, interval_seconds=DISK_CHECK_SECONDS))
        return found

    def schedule(self, rng: random.Random) -> None:
        """Store the summary's and the disk check's schedules, keeping one that is stored as
        it is (a cron run must not push the summary to tomorrow each time it runs); forget
        those the settings no longer ask for."""
        wanted = self.schedules()
        names = [s.name for s in wanted]
        for schedule in wanted:
            with self.service.queue.engine.connect() as conn:
                stored = schedules_sql.get(conn, schedule.name)
            if stored is not None and (stored.cron, stored.timezone, stored.interval_seconds) == (
                schedule.cron,
                schedule.timezone,
                schedule.interval_seconds,
            ):
                continue
            first = self.service.queue.clock() if schedule.kind == WATCH_DISK else None
            save(self.service, schedule, rng, first_at=first)
        for name in (NOTIFY_SUMMARY, WATCH_DISK):
            if name not in names:
                prune(self.service, name, [])
