"""Destinations' posting schedules (``destinations.NAME.schedule``): each post waits for its
slot, and posts too old for one are gathered into a digest.

A deliver job for a scheduled destination works out, before it reads anything, where it stands
in the destination's queue (the jobs for that destination that wait or run, oldest post first,
whatever their source) and which slot that gives it (``domain.schedule.plan`` from the
destination's recent sends). A slot still ahead: the job waits for it (a deferral, not a failure:
the attempt is not counted, its timeline says when, and ``run --once`` counts it as waiting). So
a backlog drips out within the rules, each job woken at its own slot, not all of them at each.

With ``catch_up: digest``, a post published more than ``catch_up_after_hours`` before its turn
comes is not sent on its own: it is gathered, and one ``digest`` job sends a message listing
the gathered posts' links (in as many messages as Telegram's 4,096 characters need), in a slot of
its own, and records a delivery for each post: none of them is ever sent again.

What the queue position cannot see: a post ahead that the source's filters keep out still held
a slot in the plan of the posts behind it, which then go one slot later than they could have.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from tikrelay.captions.markup import utf16_length
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.jobs import JobDeferredError
from tikrelay.domain.schedule import SLOT_WAIT, PostingRules, plan
from tikrelay.engine.context import JobContext
from tikrelay.engine.service import JobService
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.model import (
    DELIVER,
    DIGEST,
    PUBLISH,
    DeliverPayload,
    DigestPayload,
    Route,
    Routes,
)
from tikrelay.reposter.parts import Part, TextPart
from tikrelay.reposter.sending import send_parts
from tikrelay.reposter.turns import Chats
from tikrelay.store import digests_sql
from tikrelay.store import relay as sql
from tikrelay.store.digests_sql import DigestEntry

if TYPE_CHECKING:
    from tikrelay.reposter.clients import Clients

#: The sends a schedule looks back on: the rolling hour, the calendar day (across a DST change)
#: and the last send.
LOOK_BACK = timedelta(days=2)
#: Telegram's longest message.
MESSAGE_LIMIT = 4096
SCHEDULED_KINDS = (DELIVER, DIGEST, PUBLISH)


async def wait_for_slot(ledger: Ledger, route: Route, published_at: datetime | None) -> None:
    """Return when the job may send to ``route`` now; raise JobDeferredError to its slot."""
    rules = route.settings.posting_rules()
    if rules is None:
        return
    now = ledger.now()
    queued, sent = await ledger.run(_standing, route.name, now - LOOK_BACK)
    me = ledger.job_id
    mine = next((job for job in queued if job.id == me), None)
    order = mine.order if mine is not None else (published_at or now, me)
    ahead = sum(1 for job in queued if job.id != me and job.order < order)
    slot = plan(rules, sent, now, ahead + 1)[-1]
    if slot > now:
        raise JobDeferredError(slot, slot_reason(rules, slot, route.name, ahead))


async def check_slot(ledger: Ledger, route: Route, post_key: str) -> None:
    """Just before sending, with the chat's lock held (sends to it are one at a time, across
    processes): the rules still allow a post now, counting what other jobs sent or started
    sending since this one took its place. Else it waits for the next slot, its attempt not
    counted."""
    rules = route.settings.posting_rules()
    if rules is None:
        return
    now = ledger.now()
    sent = await ledger.run(sql.sends_since, route.name, now - LOOK_BACK, post_key)
    slot = plan(rules, sent, now, 1)[0]
    if slot > now:
        raise JobDeferredError(slot, slot_reason(rules, slot, route.name, 0))


def slot_reason(rules: PostingRules, slot: datetime, destination: str, ahead: int) -> str:
    local = slot.astimezone(rules.zone)
    before = f"; {ahead} earlier {'post' if ahead == 1 else 'posts'} first" if ahead else ""
    return (
        f"{SLOT_WAIT} at {local:%Y-%m-%d %H:%M} {rules.zone.key} "
        f"(schedule of {destination}{before})"
    )


def _standing(
    conn: Connection, destination: str, since: datetime
) -> tuple[list[sql.QueuedPost], list[datetime]]:
    """The destination's queue, then its sends. In this order: a job that completes between
    the two reads counts twice (a later slot), never not at all (two posts in one slot)."""
    queued = sql.unfinished_for(conn, SCHEDULED_KINDS, destination)
    return queued, sql.sends_since(conn, destination, since)


def too_old(route: Route, published_at: datetime | None, now: datetime) -> bool:
    """The post goes into the destination's digest rather than on its own."""
    schedule = route.settings.schedule
    if schedule is None or schedule.catch_up != "digest" or published_at is None:
        return False
    return now - published_at > timedelta(hours=schedule.catch_up_after_hours)


async def gather(
    ledger: Ledger, service: JobService, payload: DeliverPayload, author: str | None
) -> None:
    """The post into its destination's next digest, and that digest queued (one per
    destination)."""
    entry = DigestEntry(payload.post, payload.url, author, payload.published_at)
    digest = DigestPayload(destination=payload.destination, published_at=payload.published_at)

    def write(conn: Connection) -> None:
        digests_sql.add(conn, payload.destination, entry, ledger.now())
        key = f"{DIGEST}:{payload.destination}"
        service.enqueue(DIGEST, digest, dedupe_key=key, conn=conn)

    await ledger.run(write)
    age = ledger.now() - payload.published_at if payload.published_at else None
    hours = round(age.total_seconds() / 3600, 1) if age else None
    await ledger.event(ReposterEvent.POST_DIGESTED, age_hours=hours)


def digest_texts(entries: Sequence[DigestEntry], zone: str) -> list[str]:
    """The digest's messages: a heading, then a line per post (author, date in ``zone``,
    link), cut between lines to Telegram's limit (4,096 UTF-16 units)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    count = len(entries)
    heading = f"Missed while away: {count} {'post' if count == 1 else 'posts'}"
    lines = []
    for entry in entries:
        when = f"{entry.published_at.astimezone(tz):%Y-%m-%d %H:%M}" if entry.published_at else ""
        who = entry.author or ""
        label = ", ".join(part for part in (who, when) if part)
        lines.append(f"• {label}: {entry.url}" if label else f"• {entry.url}")
    texts: list[str] = []
    current = heading
    for line in lines:
        line = line[: MESSAGE_LIMIT - 1]
        while utf16_length(line) > MESSAGE_LIMIT - 1:  # Telegram counts UTF-16 units
            line = line[:-1]
        if utf16_length(current) + 1 + utf16_length(line) > MESSAGE_LIMIT:
            texts.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    texts.append(current)
    return texts


class Digests:
    """The ``digest`` job's handler: one message listing the posts gathered for a destination,
    sent exactly once (``reposter.sending``) in a slot of the destination's schedule."""

    def __init__(
        self, *, service: JobService, routes: Routes, clients: Clients, chats: Chats
    ) -> None:
        self.service = service
        self.routes = routes
        self.clients = clients
        self.chats = chats

    async def __call__(self, ctx: JobContext, payload: DigestPayload) -> None:
        if not self.routes.knows(destination=payload.destination):
            await ctx.db(self.routes.reload)
        route = self.routes.route(payload.destination)
        ledger = Ledger(ctx, self.service.queue)
        turns = self.chats.turns
        await turns.join(route.chat, ctx.job.id)
        ctx.after_outcome(lambda: turns.leave(route.chat, ctx.job.id))
        await wait_for_slot(ledger, route, payload.published_at)
        entries = await ledger.run(digests_sql.take, route.name, ctx.job.id)
        if entries:
            parts: list[Part] = [
                TextPart(index, text)
                for index, text in enumerate(digest_texts(entries, route.settings.zone))
            ]
            key = f"{DIGEST}:{ctx.job.id}"
            async with turns.turn(route.chat, ctx.job.id), self.chats.lock(route.chat):
                sent = await send_parts(ledger, self.clients.telegram, route, key, parts)
            await ledger.event(
                ReposterEvent.DIGEST_SENT, posts=len(entries), message_ids=sent.message_ids
            )
        else:
            sent = None

        def record(conn: Connection) -> None:
            for entry in entries if sent is not None else ():
                assert sent is not None
                if sql.delivered_ids(conn, entry.post_key, route.name) is not None:
                    continue
                sql.record_delivery(
                    conn,
                    post_key=entry.post_key,
                    destination=route.name,
                    chat_id=route.chat,
                    topic_id=route.settings.chat.topic_id,
                    message_ids=sent.message_ids,
                    job_id=ledger.job_id,
                    reconciled=sent.reconciled,
                    now=ledger.now(),
                )
            if digests_sql.finish(conn, route.name, ledger.job_id):
                # Gathered while this one was sending: the next digest takes them.
                later = DigestPayload(destination=route.name, published_at=None)
                self.service.enqueue(DIGEST, later, conn=conn)

        ledger.on_complete(record)
