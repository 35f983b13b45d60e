"""Sending a post's parts exactly once, across crashes.

Before a part (a video, an album, the sound) is sent, a send intent is committed with the newest
message id we know in that chat (the mark). When Telegram confirms, the intent gets the message
ids. A later attempt that finds an intent without ids does not know whether the part arrived, so
it asks Telegram: sends to one chat are serial and message ids in a chat only grow, so the part's
messages, if they arrived, are the first of ours after the mark. ``probe_message`` (an edit that
changes nothing) tells for each id whether the bot's own message is there, somebody else's (a
person writing to the bot, a group member: skipped), or none; ids that other confirmed sends own
are skipped. All found: the part is recorded as delivered (reconciled). Some of an album found:
only the missing images are sent. None found: the part is sent again. An answer to someone who
asked the bot has a mark from the start: the message it answers (``Route.after``).

What this cannot prove: in a channel, where an admin bot may edit every post, that a message
found after the mark is ours and not one another admin posted in the same seconds; and, for the
very first send to a chat with history (no mark yet), anything at all: that part is sent again,
which may duplicate it once. docs/reposting.md says more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tikrelay.destinations.target import Probe
from tikrelay.domain.events import ReposterEvent
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.model import Route
from tikrelay.reposter.parts import (
    AlbumPart,
    AudioPart,
    Media,
    Part,
    TextPart,
    VideoPart,
    expected,
)
from tikrelay.store import relay as sql

if TYPE_CHECKING:
    from tikrelay.destinations.telegram import TelegramSender

# Probing stops after this many ids in a row without a message…
PROBE_GAP = 3
# …or this many ids after the mark (a busy group writes between our sends).
MAX_PROBED = 100
# Sends older than this no longer count against any of a chat's limits (a rolling minute).
PACE_MEMORY = 90.0


@dataclass
class Sent:
    message_ids: list[int] = field(default_factory=list)
    reconciled: bool = False
    # Telegram's file ids of the parts sent whole in this attempt, by part index.
    file_ids: dict[int, list[str]] = field(default_factory=dict)
    uploaded: int = 0  # bytes of the files this attempt sent from disk (not by file id)


async def send_parts(
    ledger: Ledger, sender: TelegramSender, route: Route, post_key: str, parts: list[Part]
) -> Sent:
    """Send each part exactly once (the caller holds the chat: its turn and its lock)."""
    sent = Sent()
    await _seed_pace(ledger, sender, route)
    settled = await _settle_chat(ledger, sender, route, post_key)
    known = await ledger.run(sql.intents, post_key, route.name)
    for part in parts:
        intent = known.get(part.index)
        if intent is not None and intent.message_ids is not None:
            sent.message_ids += intent.message_ids
            continue
        arrived: list[int] = []
        if intent is None:
            newest = await ledger.run(sql.newest_message_id, route.chat)
            mark = max((m for m in (newest, settled, route.after) if m is not None), default=None)
            if mark is None:
                mark = await _empty_chat_mark(sender, route)
            await ledger.run(
                sql.start_intent,
                post_key=post_key,
                destination=route.name,
                part=part.index,
                chat_id=route.chat,
                expected=expected(part),
                parts=len(parts),
                after_message_id=mark,
                now=ledger.now(),
            )
        else:
            arrived = await _reconcile(ledger, sender, route, post_key, route.name, intent)
            await ledger.event(
                ReposterEvent.RECONCILED, part=part.index, found=arrived, expected=expected(part)
            )
            sent.reconciled = sent.reconciled or bool(arrived)
            if len(arrived) < expected(part):
                # The rest goes out now, after the chat's newest message we know of: a later
                # attempt probes after that, never between (another post's may be there).
                newest = await ledger.run(sql.newest_message_id, route.chat)
                marks = [m for m in (newest, settled, route.after, *arrived) if m is not None]
                await ledger.run(
                    sql.remark_intent,
                    post_key,
                    route.name,
                    part.index,
                    after=max(marks, default=intent.after_message_id),
                    arrived=arrived,
                )
        missing = part.media[len(arrived) :]
        ids = list(arrived)
        if missing:
            file_ids: list[str] = []
            ids += await _send(sender, route, part, missing, caption=not arrived, out=file_ids)
            sent.uploaded += _uploaded(part, missing, documents=route.documents)
            if not arrived and len(file_ids) == len(missing):
                sent.file_ids[part.index] = file_ids
        await ledger.run(sql.confirm_intent, post_key, route.name, part.index, ids, ledger.now())
        sent.message_ids += ids
    return sent


async def _send(
    sender: TelegramSender,
    route: Route,
    part: Part,
    files: list[Media],
    *,
    caption: bool,
    out: list[str],
) -> list[int]:
    """Send ``files`` (the part's, or what of them did not arrive); ``out`` gets the file ids."""
    target = route.target
    match part:
        case VideoPart(caption=text) if route.documents:
            return await sender.send_document(
                target, files[0], text if caption else None, file_ids=out
            )
        case VideoPart(video=video, caption=text):
            return await sender.send_video(
                target,
                files[0],
                width=video.width,
                height=video.height,
                duration=video.duration,
                thumbnail=video.thumbnail,
                caption=text if caption else None,
                file_ids=out,
            )
        case AudioPart(title=title, performer=performer, cover=cover, caption=text):
            return await sender.send_audio(
                target,
                files[0],
                title=title,
                performer=performer,
                caption=text if caption else None,
                cover=cover,
                file_ids=out,
            )
        case TextPart(text=text):
            return await sender.send_text(target, text)
        case AlbumPart(caption=text):
            # An album refused part-way (AlbumPartiallySentError) leaves the intent open: the
            # next attempt probes which images arrived and sends only the others.
            return await sender.send_photos(target, files, text if caption else None, out)


def _uploaded(part: Part, files: list[Media], *, documents: bool) -> int:
    """Bytes of what ``_send`` uploaded: the files sent from disk (not by file id), with a
    video's thumbnail or a sound's cover beside them."""
    paths = [file for file in files if isinstance(file, Path)]
    if not paths:
        return 0
    match part:
        case VideoPart(video=video) if not documents and video.thumbnail is not None:
            paths.append(video.thumbnail)
        case AudioPart(cover=cover) if cover is not None:
            paths.append(cover)
    return sum(path.stat().st_size for path in paths)


async def _seed_pace(ledger: Ledger, sender: TelegramSender, route: Route) -> None:
    """Tell the pacer what this chat got in the last minute from any process or earlier run
    (the chat's lock is ours, so nothing else is sending to it now): two workers, or a cron run
    right after another, keep to one chat's limits together."""
    pacer = sender.pacer
    if pacer is None:
        return
    wall = ledger.now()
    sends = await ledger.run(sql.recent_sends, route.chat, wall - timedelta(seconds=PACE_MEMORY))
    pacer.seed(route.target.chat_id, [((wall - at).total_seconds(), n) for at, n in sends])


async def _empty_chat_mark(sender: TelegramSender, route: Route) -> int | None:
    """0 when the chat has no messages at all (ids start at 1), else None (unknown).

    Before tikrelay's first confirmed message in a chat there is no mark to probe from. A chat
    without messages gives one for free: its first ids do not exist. Only ids 1 to PROBE_GAP are
    asked about, never a chat's history (a probe may take a keyboard off somebody's message).
    """
    for message_id in range(1, PROBE_GAP + 1):
        if await sender.probe_message(route.target, message_id) is not Probe.NONE:
            return None
    return 0


async def _settle_chat(
    ledger: Ledger, sender: TelegramSender, route: Route, post_key: str
) -> int | None:
    """Before sending, settle other posts' sends to this chat that a crash left unconfirmed.

    Their jobs may run only later (a retry, another run); until then a message of theirs that
    did arrive would sit after our mark and be taken for ours, and two open sends with one mark
    could not be told apart. Each is probed now (this job holds the chat: nothing else is
    sending to it): found whole, it is confirmed for its post; found in part, what arrived is
    noted (and nothing after it counts as its own until its job resumes it); not found at all,
    it never arrived and is dropped, and its job starts it afresh.
    The highest id found raises our mark.
    """
    highest: int | None = None
    for other in await ledger.run(sql.open_intents, route.chat, post_key):
        intent = other.intent
        found = await _reconcile(ledger, sender, route, other.post_key, other.destination, intent)
        if found:
            highest = max(found) if highest is None else max(highest, *found)
        if len(found) == intent.expected:
            await ledger.run(
                sql.confirm_intent,
                other.post_key,
                other.destination,
                intent.part,
                found,
                ledger.now(),
            )
            await ledger.event(ReposterEvent.SETTLED, post=other.post_key, message_ids=found)
        elif found:  # its job sends the rest later, after a mark it sets then
            await ledger.run(
                sql.remark_intent,
                other.post_key,
                other.destination,
                intent.part,
                after=None,
                arrived=found,
            )
        else:
            await ledger.run(sql.drop_intent, other.post_key, other.destination, intent.part)
            await ledger.event(ReposterEvent.SETTLED, post=other.post_key, message_ids=[])
    return highest


async def _reconcile(
    ledger: Ledger,
    sender: TelegramSender,
    route: Route,
    post_key: str,
    destination: str,
    intent: sql.Intent,
) -> list[int]:
    """The ids of this part's messages that arrived before the crash, oldest first: what was
    noted already, then the next messages after it that no other send owns."""
    if intent.after_message_id is None:
        return list(intent.arrived)
    start = max([intent.after_message_id, *intent.arrived])
    others = await ledger.run(
        sql.known_message_ids, route.chat, start, (post_key, destination, intent.part)
    )
    found = list(intent.arrived)
    candidate, gap = start + 1, 0
    while len(found) < intent.expected and gap < PROBE_GAP and candidate - start <= MAX_PROBED:
        if candidate not in others:
            seen = await sender.probe_message(route.target, candidate)
            if seen is Probe.OURS:
                found.append(candidate)
                gap = 0
            elif seen is Probe.NONE:
                gap += 1
            # Somebody else's message (the person who asked, a group member) is not ours.
        candidate += 1
    return found
