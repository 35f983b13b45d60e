"""Admin commands (users in ``telegram.admins``): the queue's health, one job, retry and cancel,
pausing a creator, maintenance mode. Anyone else gets a short refusal with no figures in it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from telegram import Message

from tikrelay.bot import texts
from tikrelay.bot.model import BROADCAST, BroadcastPayload
from tikrelay.bot.subscriptions import Reply, Say
from tikrelay.config.logging import redact_text
from tikrelay.config.paths import StatePaths
from tikrelay.destinations.target import ChatTarget
from tikrelay.destinations.telegram import TelegramSender
from tikrelay.domain.jobs import IllegalTransitionError, JobStatus, job_report
from tikrelay.media.charts import daily_chart
from tikrelay.media.files import write_atomically
from tikrelay.reposter.catalog import CatalogError
from tikrelay.runtime.app import Runtime
from tikrelay.sources.ytdlp import ytdlp_version
from tikrelay.store import bot_sql
from tikrelay.store.reports import DailyFigures, daily_figures, health_figures
from tikrelay.store.transition import TransitionRefusedError

MAINTENANCE_KEY = "maintenance"
#: How far back /health counts errors.
ERROR_WINDOW = timedelta(hours=24)


class Admin:
    def __init__(self, runtime: Runtime, reply: Reply, say: Say, sender: TelegramSender) -> None:
        self.runtime = runtime
        self.reply = reply  # the figures, for operators, are in English
        self.say = say
        self.sender = sender

    def allowed(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and user.id in self.runtime.settings.telegram.admins

    async def handle(self, command: str, message: Message, args: list[str]) -> None:
        if not self.allowed(message):
            await self.say(message, texts.ADMINS_ONLY)
            return
        action = {
            "health": self.health,
            "queue": self.queue,
            "job": self.job,
            "retry": self.retry,
            "cancel": self.cancel,
            "pause": self.pause,
            "resume": self.resume,
            "maintenance": self.maintenance,
            "stats": self.stats,
            "broadcast": self.broadcast,
            "debug": self.debug,
        }[command]
        if command == "broadcast":
            args = [(message.text or "").partition(" ")[2].strip(), str(message.chat.id)]
        await self.reply(message, await action(command, args))
        if command == "stats":
            await self._send_chart(message)
        if command == "debug" and (job_id := _job_id(args)) is not None:
            await self._send_log(message, job_id)

    # -- each command's answer ------------------------------------------------------------------

    async def health(self, command: str, args: list[str]) -> str:
        queue = self.runtime.queue
        since = queue.clock() - ERROR_WINDOW
        figures = await asyncio.to_thread(health_figures, queue.engine, since)
        version = await asyncio.to_thread(ytdlp_version)
        lines = ["Jobs by status: " + _pairs(figures.by_status)]
        lines.append("Running by kind: " + _pairs(figures.running))
        lines.append("Errors in the last 24 h by kind: " + _pairs(figures.errors))
        lines.append(f"yt-dlp {version}")
        if await self.in_maintenance():
            lines.append(texts.MAINTENANCE_ON)
        return "\n".join(lines)

    async def queue(self, command: str, args: list[str]) -> str:
        queue = self.runtime.queue
        waiting = []
        for status in (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.PENDING):
            waiting += await asyncio.to_thread(queue.list_jobs, status, 10, None)
        if not waiting:
            return "The queue is empty."
        lines = [
            f"#{job.id} {job.kind} {job.status.value} {_about(job.payload)}" for job in waiting
        ]
        return "\n".join(lines[:20])

    async def job(self, command: str, args: list[str]) -> str:
        job_id = _job_id(args)
        if job_id is None:
            return texts.JOB_USAGE.format(command=command)
        queue = self.runtime.queue
        found = await asyncio.to_thread(queue.get, job_id)
        if found is None:
            return texts.NO_JOB.format(job_id=job_id)
        events = await asyncio.to_thread(queue.events, job_id)
        lines = [
            f"Job {found.id}: {found.kind}, {found.status.value}, attempt "
            f"{found.attempts}/{found.max_attempts}"
        ]
        if found.error_kind:
            lines.append(f"{found.error_kind}: {found.error_message}")
        lines += [f"{e.at:%H:%M:%S} {e.type}" for e in events[-5:]]
        return "\n".join(lines)

    async def debug(self, command: str, args: list[str]) -> str:
        """/debug ID: the job's whole timeline, every event with its data, as a file."""
        job_id = _job_id(args)
        if job_id is None:
            return texts.JOB_USAGE.format(command=command)
        found = await asyncio.to_thread(self.runtime.queue.get, job_id)
        if found is None:
            return texts.NO_JOB.format(job_id=job_id)
        return f"Job {job_id}: {found.kind}, {found.status.value}; its whole timeline follows."

    async def _send_log(self, message: Message, job_id: int) -> None:
        queue = self.runtime.queue
        found = await asyncio.to_thread(queue.get, job_id)
        if found is None:
            return
        events = await asyncio.to_thread(queue.events, job_id)
        out = StatePaths(self.runtime.settings.state_dir).job_log(job_id)

        def write() -> None:
            text = redact_text("\n".join(job_report(found, events)) + "\n")
            write_atomically(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))

        await asyncio.to_thread(write)
        topic = message.message_thread_id if message.is_topic_message else None
        await self.sender.send_document(ChatTarget(message.chat.id, topic), out, None)

    async def retry(self, command: str, args: list[str]) -> str:
        job_id = _job_id(args)
        if job_id is None:
            return texts.JOB_USAGE.format(command=command)
        queue = self.runtime.queue
        try:
            result = await asyncio.to_thread(queue.retry, job_id)
        except TransitionRefusedError:
            return texts.NO_JOB.format(job_id=job_id)
        except IllegalTransitionError as exc:
            return texts.NOT_RETRYABLE.format(job_id=job_id, status=exc.current)
        if result.job.id != job_id:
            return texts.RETRIED.format(job_id=job_id, new_id=result.job.id)
        return texts.DUE_NOW.format(job_id=job_id)

    async def cancel(self, command: str, args: list[str]) -> str:
        job_id = _job_id(args)
        if job_id is None:
            return texts.JOB_USAGE.format(command=command)
        queue = self.runtime.queue
        try:
            job = await asyncio.to_thread(queue.cancel, job_id)
        except TransitionRefusedError:
            return texts.NO_JOB.format(job_id=job_id)
        except IllegalTransitionError as exc:
            return texts.NOT_CANCELLABLE.format(job_id=job_id, status=exc.current)
        if job.status is JobStatus.CANCELLED:
            return texts.CANCELLED.format(job_id=job_id)
        return texts.STOPPING.format(job_id=job_id)

    async def pause(self, command: str, args: list[str]) -> str:
        return await self._pause(command, args, paused=True)

    async def resume(self, command: str, args: list[str]) -> str:
        return await self._pause(command, args, paused=False)

    async def _pause(self, command: str, args: list[str], *, paused: bool) -> str:
        if not args:
            return texts.CREATOR_USAGE.format(command=command)
        catalog = self.runtime.catalog()
        change = catalog.pause_source if paused else catalog.resume_source
        try:
            changed = await asyncio.to_thread(change, args[0])
            key = (await asyncio.to_thread(catalog.source, args[0]) or _Missing()).key
        except CatalogError as exc:
            return str(exc)
        if not changed:
            return texts.UNCHANGED_SOURCE.format(key=key, state="paused" if paused else "running")
        await asyncio.to_thread(self.runtime.reload_catalog)
        return (texts.PAUSED_SOURCE if paused else texts.RESUMED_SOURCE).format(key=key)

    async def broadcast(self, command: str, args: list[str]) -> str:
        """args: the text (as typed, lines kept) and the admin's chat."""
        text, chat = args
        if not text:
            return texts.BROADCAST_USAGE
        queue, service = self.runtime.queue, self.runtime.service

        def enqueue() -> tuple[int, int]:
            with queue.transaction() as conn:
                people = bot_sql.count_users(conn)
                payload = BroadcastPayload(text=text, admin_chat_id=int(chat))
                made = service.enqueue(BROADCAST, payload, conn=conn)
            return made.job.id, people

        job_id, people = await asyncio.to_thread(enqueue)
        return texts.BROADCAST_QUEUED.format(job_id=job_id, people=people)

    async def stats(self, command: str, args: list[str]) -> str:
        figures = await self._daily()
        days = len(figures.days)
        return (
            f"Last {days} days: {sum(figures.requests)} requests, {sum(figures.deliveries)} "
            f"deliveries, up to {max(figures.active_users, default=0)} people a day "
            f"(today: {figures.requests[-1]} requests, {figures.active_users[-1]} people)."
        )

    async def _daily(self) -> DailyFigures:
        queue = self.runtime.queue
        today = queue.clock().date()
        return await asyncio.to_thread(daily_figures, queue.engine, today)

    async def _send_chart(self, message: Message) -> None:
        figures = await self._daily()
        out = StatePaths(self.runtime.settings.state_dir).stats_chart
        out.parent.mkdir(parents=True, exist_ok=True)
        series = [
            ("requests", figures.requests),
            ("deliveries", figures.deliveries),
            ("active users", figures.active_users),
        ]
        chart = await asyncio.to_thread(
            daily_chart, out, "tikrelay, last 30 days (UTC)", figures.days, series
        )
        await self.sender.send_photos(ChatTarget(message.chat.id, None), [chart], None)

    async def maintenance(self, command: str, args: list[str]) -> str:
        wanted = args[0].lower() if args else ""
        if wanted not in ("on", "off"):
            return texts.MAINTENANCE_USAGE
        queue = self.runtime.queue

        def switch() -> None:
            with queue.transaction() as conn:
                bot_sql.set_state(conn, MAINTENANCE_KEY, wanted == "on", queue.clock())

        await asyncio.to_thread(switch)
        return texts.MAINTENANCE_ON if wanted == "on" else texts.MAINTENANCE_OFF

    async def in_maintenance(self) -> bool:
        queue = self.runtime.queue

        def read() -> bool:
            with queue.engine.connect() as conn:
                return bool(bot_sql.state(conn, MAINTENANCE_KEY))

        return await asyncio.to_thread(read)


class _Missing:
    key = "that source"


def _job_id(args: list[str]) -> int | None:
    return int(args[0]) if args and args[0].isdigit() and len(args[0]) < 18 else None


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def _about(payload: Mapping[str, Any]) -> str:
    return str(payload.get("post") or payload.get("source") or payload.get("url") or "")
