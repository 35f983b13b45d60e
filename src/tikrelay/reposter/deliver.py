"""One post to one destination: METADATA_FETCH, CAPABILITY_CHECK, DOWNLOAD, POSTPROCESS,
OUTPUT_VALIDATE, TELEGRAM_SEND, then the Delivery row in the transaction that completes the job.
A post the source's filters keep out stops after METADATA_FETCH (``reposter.screening``).

The media of a post are downloaded once into the shared media cache (a file lock makes parallel
jobs for other destinations wait and reuse them). Sending goes part by part (a video; albums of
at most ten images; the sound) and each part follows the send-intent protocol of
``reposter.sending``.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from tikrelay.captions import clean_name
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.jobs import JobDeferredError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.engine.context import JobContext
from tikrelay.engine.service import JobService
from tikrelay.media.video import TelegramVideo, validate_video
from tikrelay.reposter.captioning import Captions
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.file_ids import file_profile, known_part, parts_by_id, stored_post
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.media_cache import MediaCache
from tikrelay.reposter.model import (
    ARCHIVE,
    DeliverPayload,
    Route,
    Routes,
    job_for,
    upload_limit,
)
from tikrelay.reposter.pacing import check_slot, gather, too_old, wait_for_slot
from tikrelay.reposter.parts import ALBUM_SIZE, AlbumPart, AudioPart, Part, VideoPart
from tikrelay.reposter.progress import Progress
from tikrelay.reposter.screening import Screen
from tikrelay.reposter.sending import send_parts
from tikrelay.reposter.turns import Chats
from tikrelay.store import files_sql
from tikrelay.store import relay as sql
from tikrelay.store.tallies_sql import BYTES_DOWNLOADED, BYTES_UPLOADED

if TYPE_CHECKING:
    from tikrelay.sources.session import MediaSession

_MB = 1024 * 1024
# A job waiting for an older one of its chat comes due this long after it.
ORDER_GAP = timedelta(seconds=1)


class Deliverer:
    """The ``deliver`` job's handler, given exactly what it uses."""

    def __init__(
        self,
        *,
        settings: Settings,
        service: JobService,
        routes: Routes,
        clients: Clients,
        media: MediaCache,
        chats: Chats,
        progress: Progress,
    ) -> None:
        self.service = service
        self.queue = service.queue
        self.routes = routes
        self.clients = clients
        self.media = media
        self.chats = chats
        self.progress = progress
        self.screen = Screen(routes, progress)
        self.captions = Captions()
        self.max_bytes = upload_limit(settings)

    async def __call__(self, ctx: JobContext, payload: DeliverPayload) -> None:
        if not self.routes.knows(destination=payload.destination):
            await ctx.db(self.routes.reload)
        await self.deliver(ctx, payload, self.routes.route(payload.destination))

    async def send_sound(self, ctx: JobContext, payload: DeliverPayload, route: Route) -> None:
        """A post's sound alone, as audio with its title and performer, to ``route``: what the
        bot's Sound button asks for. Exactly once, like every send."""
        ledger = Ledger(ctx, self.queue)
        if await ledger.run(sql.delivered_ids, payload.post, route.name) is not None:
            return
        opened = self.clients.post_session(payload, attempt=ctx.attempt - 1)
        async with opened as session:
            async with self._stage(ledger, payload, Stage.METADATA_FETCH):
                post = await asyncio.to_thread(session.post)
            if post.sound is None or not post.sound.url:
                raise TikrelayError(
                    ErrorKind.FORMAT_NOT_FOUND, "the post has no sound", retryable=False
                )
            async with self._stage(ledger, payload, Stage.DOWNLOAD), self.media.downloads:
                sound = await asyncio.to_thread(self.media.sound_once, session, post)
        title, performer = post.sound.title, post.sound.author
        part = AudioPart(
            0,
            sound,
            title=clean_name(title) if title else None,
            performer=clean_name(performer) if performer else None,
        )
        async with (
            self._stage(ledger, payload, Stage.TELEGRAM_SEND),
            self.chats.lock(route.chat),
        ):
            sent = await send_parts(ledger, self.clients.telegram, route, payload.post, [part])
        await ledger.count_bytes(BYTES_UPLOADED, route.name, sent.uploaded)
        await ledger.event(
            ReposterEvent.SENT, message_ids=sent.message_ids, reconciled=sent.reconciled
        )
        ledger.on_complete(
            _recorder(ledger, payload, route, sent.message_ids, reconciled=sent.reconciled)
        )

    async def deliver(self, ctx: JobContext, payload: DeliverPayload, route: Route) -> list[int]:
        """The post to ``route``: a destination of the catalog, or a chat that asked for it; the
        ids of the messages it is there as."""
        ledger = Ledger(ctx, self.queue)
        turns = self.chats.turns
        # First thing, before any await: younger jobs for this chat now wait for this one, until
        # its outcome is written (then they can see whether it will be retried).
        await turns.join(route.chat, ctx.job.id)
        ctx.after_outcome(lambda: turns.leave(route.chat, ctx.job.id))
        done = await ledger.run(sql.delivered_ids, payload.post, route.name)
        if done is not None:
            await ledger.event(ReposterEvent.ALREADY_DELIVERED, message_ids=done)
            return done
        if await self.screen.kept_out_before(ledger, payload, route.name):
            return []
        sent_ids = await ledger.run(sql.sent_already, payload.post, route.name)
        if sent_ids is not None:  # all sent before a crash: record it, fetch nothing again
            await ledger.event(ReposterEvent.SENT, message_ids=sent_ids, reconciled=False)
            await self._complete(ledger, payload, route, sent_ids, reconciled=False)
            return sent_ids
        # A post whose send started before a crash has had its slot: it is finished, not paced.
        paced = route.settings.schedule is not None and not await ledger.run(
            sql.intents, payload.post, route.name
        )
        if paced:
            if too_old(route, payload.published_at, ledger.now()):
                await self._gather(ledger, payload, route)
                return []
            await wait_for_slot(ledger, route, payload.published_at)
        profile = file_profile(route.settings, self.max_bytes)
        if route.documents:  # a document's file id is not a video's
            profile += ":document"
        parts = await self._parts(ledger, payload, route, profile)
        if parts is None:  # the source's filters keep it out
            return []
        by_id = any(part.ids for part in parts)
        async with (
            self._stage(ledger, payload, Stage.TELEGRAM_SEND),
            turns.turn(route.chat, ctx.job.id),
        ):
            await self._keep_chat_order(ledger, route)
            async with self.chats.lock(route.chat):
                if paced:  # the sends of other jobs since its first look count now too
                    await check_slot(ledger, route, payload.post)
                try:
                    sent = await send_parts(
                        ledger, self.clients.telegram, route, payload.post, parts
                    )
                except TikrelayError as exc:
                    if by_id and exc.http_status == 400:
                        await self._forget_file_ids(ledger, payload, profile, exc)
                    raise
        await ledger.count_bytes(BYTES_UPLOADED, route.name, sent.uploaded)
        await ledger.event(
            ReposterEvent.SENT, message_ids=sent.message_ids, reconciled=sent.reconciled
        )
        if not by_id and len(sent.file_ids) == len(parts):
            known = [known_part(part, sent.file_ids[part.index]) for part in parts]
            ledger.on_complete(
                lambda conn: files_sql.remember_parts(
                    conn, payload.post, profile, known, ledger.now()
                )
            )
        self.progress.delivered(payload.post, route.name, len(sent.message_ids))
        await self._complete(ledger, payload, route, sent.message_ids, reconciled=sent.reconciled)
        return sent.message_ids

    async def _gather(self, ledger: Ledger, payload: DeliverPayload, route: Route) -> None:
        """A post too old for its turn goes into the destination's digest, once its page says
        the source's filters let it through (nothing is downloaded)."""
        opened = self.clients.post_session(payload, attempt=ledger.ctx.attempt - 1)
        async with opened as session, self._stage(ledger, payload, Stage.METADATA_FETCH):
            post = await asyncio.to_thread(session.post)
            await ledger.run(sql.save_post, _post_row(post, ledger.now()))
        if await self.screen.keeps_out(ledger, payload, route.name, post):
            return
        await gather(ledger, self.service, payload, _author(payload))

    async def _complete(
        self,
        ledger: Ledger,
        payload: DeliverPayload,
        route: Route,
        message_ids: list[int],
        *,
        reconciled: bool,
    ) -> None:
        """The delivery row, and the archive job of ``archive_to``, written in the transaction
        that completes the job."""
        ledger.on_complete(_recorder(ledger, payload, route, message_ids, reconciled=reconciled))
        archive = route.settings.archive_to
        if archive is None:
            return
        job = payload.model_copy(update={"destination": archive})
        key = job_for(ARCHIVE, payload.post, archive)

        def queue_archive(conn: Connection) -> None:
            if sql.delivered_ids(conn, payload.post, archive) is None:
                self.service.enqueue(ARCHIVE, job, dedupe_key=key, conn=conn)

        ledger.on_complete(queue_archive)
        await ledger.event(ReposterEvent.ARCHIVE_QUEUED, destination=archive)

    async def _parts(
        self, ledger: Ledger, payload: DeliverPayload, route: Route, profile: str
    ) -> list[Part] | None:
        """What the post is sent as: by file ids when it went this way before, else read,
        downloaded and prepared; None when the source's filters keep it from ``route`` (decided
        on what its page says, before anything is downloaded)."""
        reused = await self._sent_before(ledger, payload, profile)
        if reused is not None:
            post, known = reused
            if await self.screen.keeps_out(ledger, payload, route.name, post):
                return None
            caption = await self.captions.caption(ledger, post, route.settings)
            parts = parts_by_id(post, known, caption)
            await ledger.event(ReposterEvent.FILE_IDS_REUSED, parts=len(parts))
            return parts
        async with self.clients.post_session(payload, attempt=ledger.ctx.attempt - 1) as opened:
            async with self._stage(ledger, payload, Stage.METADATA_FETCH):
                post = await asyncio.to_thread(opened.post)
                await ledger.run(sql.save_post, _post_row(post, ledger.now()))
            if await self.screen.keeps_out(ledger, payload, route.name, post):
                return None
            return await self._prepare(ledger, payload, opened, route, post)

    async def _sent_before(
        self, ledger: Ledger, payload: DeliverPayload, profile: str
    ) -> tuple[Post, list[files_sql.KnownPart]] | None:
        """The post as its page said when last read, and what Telegram keeps of its parts, when
        it was sent whole this way before (to any chat): nothing is read from TikTok,
        downloaded or uploaded. None otherwise."""
        known = await ledger.run(files_sql.known_parts, payload.post, profile)
        data = await ledger.run(sql.post_data, payload.post) if known else None
        post = stored_post(data) if data else None
        if post is None:
            return None
        return post, known

    async def _forget_file_ids(
        self, ledger: Ledger, payload: DeliverPayload, profile: str, exc: TikrelayError
    ) -> None:
        """Telegram no longer takes a stored file id: forget them all; the retry uploads."""
        await ledger.run(files_sql.forget_parts, payload.post, profile)
        await ledger.event(ReposterEvent.FILE_IDS_DROPPED, reason=exc.message)
        exc.retryable = True

    def _stage(
        self, ledger: Ledger, payload: DeliverPayload, name: Stage
    ) -> AbstractAsyncContextManager[None]:
        self.progress.stage(payload.post, payload.destination, name)
        return ledger.ctx.stage(name)

    async def _keep_chat_order(self, ledger: Ledger, route: Route) -> None:
        """An older post to the same chat that waits (for a retry, or to be claimed) goes
        first: this job waits until just after it, its attempt not counted. A destination with
        a schedule has its own order (``reposter.pacing``)."""
        if route.settings.schedule is not None:
            return
        job = ledger.ctx.job
        older = [
            waiting
            for waiting in await ledger.run(sql.waiting_before, job.kind, job.id)
            if self.routes.chat_of(waiting.destination) == route.chat
        ]
        if not older:
            return
        first = min(older, key=lambda waiting: waiting.run_at)
        latest = max(waiting.run_at for waiting in older)
        raise JobDeferredError(
            max(latest, ledger.now()) + ORDER_GAP,
            f"waits for the older post {first.post_key} to go to the same chat first",
        )

    async def _prepare(
        self,
        ledger: Ledger,
        payload: DeliverPayload,
        session: MediaSession,
        route: Route,
        post: Post,
    ) -> list[Part]:
        dest = route.settings
        async with self._stage(ledger, payload, Stage.CAPABILITY_CHECK):
            if post.kind is PostKind.VIDEO:
                skip = dest.chat.oversize == "skip"
                limit = self.max_bytes if skip else None
                await asyncio.to_thread(_check_offer, session, limit, route.largest)
            elif post.kind is PostKind.SLIDESHOW and not post.images:
                raise TikrelayError(
                    ErrorKind.FORMAT_NOT_FOUND, "the slideshow lists no images", retryable=False
                )
            await ledger.event(ReposterEvent.POST, kind=post.kind.value, images=len(post.images))
        async with self._stage(ledger, payload, Stage.DOWNLOAD), self.media.downloads:
            files = await asyncio.to_thread(self.media.download_once, session, post)
        await ledger.count_bytes(BYTES_DOWNLOADED, post.site, files.fetched)
        caption = await self.captions.caption(ledger, post, dest)
        if post.kind is PostKind.AUDIO:  # a link to a sound
            async with self._stage(ledger, payload, Stage.POSTPROCESS):
                playable = await asyncio.to_thread(self.media.audio, post, files)
            return _plan(post, Prepared(None, [], playable), caption)
        telegram = dest.chat
        async with self._stage(ledger, payload, Stage.POSTPROCESS):
            prepared = await asyncio.to_thread(
                functools.partial(self.media.prepare, post, files, hevc=telegram.hevc)
            )
            ready: TelegramVideo | None = None
            slides: list[Path] = []
            if isinstance(prepared, TelegramVideo):
                ready = prepared
            else:
                slides = prepared
                if telegram.slideshow != "album":
                    ready = await asyncio.to_thread(self.media.slideshow_video, post, files, slides)
                    await ledger.event(
                        ReposterEvent.SLIDESHOW_VIDEO,
                        slides=len(slides),
                        duration=round(ready.duration, 1),
                        sound=ready.has_audio,
                    )
            if ready is not None and telegram.oversize == "compress":
                ready = await asyncio.to_thread(self.media.fit, post, ready, self.max_bytes)
            if ready is not None and not slides:
                action = "re-encoded" if ready.reencoded else "remuxed"
                await ledger.event(
                    ReposterEvent.VIDEO_PREPARED, action=action, reasons=list(ready.reasons)
                )
            sound = files.sound if dest.slideshow_audio and telegram.slideshow != "video" else None
            cover = None
            if slides and sound is not None:
                cover = await asyncio.to_thread(self.media.cover, post, slides)
        async with self._stage(ledger, payload, Stage.OUTPUT_VALIDATE):
            if ready is not None:
                await asyncio.to_thread(
                    validate_video, ready, max_bytes=self.max_bytes, hevc=telegram.hevc
                )
                if not ready.has_audio and not slides:
                    # Sent all the same (a silent clip is still the post), and said so.
                    await ledger.event(ReposterEvent.VIDEO_WITHOUT_SOUND, file=ready.path.name)
        albums = slides if telegram.slideshow != "video" else []
        sound_file = self.media.folder(post) / sound if sound else None
        return _plan(post, Prepared(ready, albums, sound_file, cover), caption)


@dataclass(frozen=True)
class Prepared:
    """What a post is sent as: a video, the slides, or both; the sound and its cover."""

    video: TelegramVideo | None
    slides: list[Path]  # sent in albums
    sound: Path | None = None
    cover: Path | None = None


def _recorder(
    ledger: Ledger,
    payload: DeliverPayload,
    route: Route,
    message_ids: list[int],
    *,
    reconciled: bool,
) -> Callable[[Connection], None]:
    """The delivery row, written in the transaction that completes the job."""

    def record(conn: Connection) -> None:
        sql.record_delivery(
            conn,
            post_key=payload.post,
            destination=route.name,
            chat_id=route.chat,
            topic_id=route.settings.chat.topic_id,
            message_ids=message_ids,
            job_id=ledger.job_id,
            reconciled=reconciled,
            now=ledger.now(),
        )

    return record


def _author(payload: DeliverPayload) -> str | None:
    """Who a post is by, as its payload tells: a url: source's uploader, a creator's name."""
    if payload.author:
        return payload.author
    site, _, handle = payload.source.partition(":")
    return handle if site == "tiktok" and handle.startswith("@") else None


def _post_row(post: Post, now: datetime) -> dict[str, Any]:
    data = asdict(post)
    data["kind"] = post.kind.value
    data["created_at"] = post.created_at.isoformat() if post.created_at else None
    return {
        "key": post.key,
        "site": post.site,
        "native_id": post.id,
        "kind": post.kind.value,
        "url": post.url,
        "author": post.author,
        "created_at": post.created_at,
        "data": json.loads(json.dumps(data, default=str)),
        "first_seen_at": now,
    }


def _check_offer(session: MediaSession, limit: int | None, largest: int | None = None) -> None:
    """Refuse before downloading what could not be sent: no clean video with sound, or (with a
    ``limit``: the destination does not compress) every such format bigger than that, or
    (``largest``: a request to the bot) a download bigger than the bot takes."""
    offer = session.video_offer()
    size = offer.smallest_size
    if largest is not None and size is not None and size > largest:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT,
            f"the video is too large: {size / _MB:.1f} MB, over the {largest / _MB:.4g} MB a "
            "request may download (bot.limits.max_download_mb)",
            retryable=False,
        )
    if offer.usable_formats == 0:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND,
            "the post offers no un-watermarked video with sound",
            retryable=False,
        )
    if limit is not None and offer.smallest_size is not None and offer.smallest_size > limit:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT,
            f"the video is too large: {offer.smallest_size / _MB:.1f} MB, over the "
            f"{limit / _MB:.4g} MB upload limit (oversize: skip); oversize: compress re-encodes it "
            "to fit, and a local Bot API server (telegram.local_mode) takes up to 2000 MB",
            retryable=False,
        )


def _plan(post: Post, ready: Prepared, caption: str) -> list[Part]:
    """The parts in the order they are sent: the slides in albums of ten (caption on the first),
    then the video (with the caption when there are no albums), then the sound."""
    parts: list[Part] = []
    slides = ready.slides
    for start in range(0, len(slides), ALBUM_SIZE):
        text = caption if not parts else None
        parts.append(AlbumPart(len(parts), slides[start : start + ALBUM_SIZE], text))
    if ready.video is not None:
        parts.append(VideoPart(len(parts), ready.video, caption if not parts else None))
    if ready.sound is not None and post.sound is not None:
        title, performer = post.sound.title, post.sound.author
        parts.append(
            AudioPart(
                len(parts),
                ready.sound,
                title=clean_name(title) if title else None,
                performer=clean_name(performer) if performer else None,
                cover=ready.cover,
                caption=caption if not parts else None,
            )
        )
    return parts
