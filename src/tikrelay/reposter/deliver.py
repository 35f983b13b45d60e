"""One post to one destination: METADATA_FETCH, CAPABILITY_CHECK, DOWNLOAD, POSTPROCESS,
OUTPUT_VALIDATE, TELEGRAM_SEND, then the Delivery row in the transaction that completes the job.

The media of a post are downloaded once into the shared media cache (a file lock makes parallel
jobs for other destinations wait and reuse them). Sending goes part by part (a video; albums of
at most ten images; the sound) and each part follows the send-intent protocol of
``reposter.sending``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from tikrelay.captions import clean_name, render_caption
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.jobs import JobDeferredError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.engine.context import JobContext
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.files import write_atomically
from tikrelay.media.images import to_jpeg
from tikrelay.media.video import TelegramVideo, prepare_video, validate_video
from tikrelay.reposter.media_cache import locked
from tikrelay.reposter.sending import Part, send_parts
from tikrelay.sources.refs import SITE
from tikrelay.store import relay as sql

if TYPE_CHECKING:
    from tikrelay.config.settings import Settings
    from tikrelay.reposter.model import DeliverPayload, Route
    from tikrelay.reposter.relay import Relay
    from tikrelay.sources.tiktok import PostSession

ALBUM_SIZE = 10
# A job waiting for an older one of its chat comes due this long after it.
ORDER_GAP = timedelta(seconds=1)
_MB = 1000 * 1000


def _stage(
    relay: Relay, ctx: JobContext, payload: DeliverPayload, name: str
) -> AbstractAsyncContextManager[None]:
    relay.progress.stage(payload.post, payload.destination, name)
    return ctx.stage(name)


def upload_limit(settings: Settings) -> int:
    """The largest file sent to Telegram, in bytes."""
    configured = settings.delivery.max_upload_mb
    if configured is not None:
        return int(configured * _MB)
    return (2000 if settings.telegram.local_mode else 50) * _MB


async def deliver(relay: Relay, ctx: JobContext, payload: DeliverPayload) -> None:
    route = relay.route(payload.destination)
    # First thing, before any await: younger jobs for this chat now wait for this one, until
    # its outcome is written (then they can see whether it will be retried).
    await relay.turns.join(route.chat, ctx.job.id)
    ctx.after_outcome(lambda: relay.turns.leave(route.chat, ctx.job.id))
    done = await relay.tx(ctx, sql.delivered_ids, payload.post, route.name)
    if done is not None:
        await ctx.event(ReposterEvent.ALREADY_DELIVERED, message_ids=done)
        return
    sent_ids = await relay.tx(ctx, sql.sent_already, payload.post, route.name)
    if sent_ids is not None:  # all sent before a crash: record it, fetch nothing again
        await ctx.event(ReposterEvent.SENT, message_ids=sent_ids, reconciled=False)
        ctx.on_complete(_recorder(relay, ctx, payload, route, sent_ids, reconciled=False))
        return
    with ExitStack() as stack:
        session = await asyncio.to_thread(
            stack.enter_context,
            relay.client.open_post(payload.url, payload.id, attempt=ctx.attempt - 1),
        )
        try:
            parts = await _prepare(relay, ctx, payload, session, route.settings)
        finally:
            await asyncio.to_thread(stack.close)
    async with (
        _stage(relay, ctx, payload, Stage.TELEGRAM_SEND),
        relay.turns.turn(route.chat, ctx.job.id),
    ):
        await _keep_chat_order(relay, ctx, route)
        async with relay.chat_lock(route.chat):
            sent = await send_parts(relay, ctx, payload.post, route, parts)
    await ctx.event(ReposterEvent.SENT, message_ids=sent.message_ids, reconciled=sent.reconciled)
    relay.progress.delivered(payload.post, route.name, len(sent.message_ids))
    ctx.on_complete(
        _recorder(relay, ctx, payload, route, sent.message_ids, reconciled=sent.reconciled)
    )


async def _keep_chat_order(relay: Relay, ctx: JobContext, route: Route) -> None:
    """An older post to the same chat that waits (for a retry, or to be claimed) goes first:
    this job waits until just after it, its attempt not counted."""
    older = [
        job
        for job in await relay.tx(ctx, sql.waiting_before, ctx.job.kind, ctx.job.id)
        if job.destination in relay.settings.destinations
        and relay.route(job.destination).chat == route.chat
    ]
    if not older:
        return
    first = min(older, key=lambda job: job.run_at)
    latest = max(job.run_at for job in older)
    raise JobDeferredError(
        max(latest, relay.now()) + ORDER_GAP,
        f"waits for the older post {first.post_key} to go to the same chat first",
    )


def _recorder(
    relay: Relay,
    ctx: JobContext,
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
            topic_id=route.settings.telegram.topic_id,
            message_ids=message_ids,
            job_id=ctx.job.id,
            reconciled=reconciled,
            now=relay.now(),
        )

    return record


async def _prepare(
    relay: Relay, ctx: JobContext, payload: DeliverPayload, session: PostSession, dest: Any
) -> list[Part]:
    async with _stage(relay, ctx, payload, Stage.METADATA_FETCH):
        post = await asyncio.to_thread(session.post)
        await relay.tx(ctx, sql.save_post, _post_row(post, relay))
    async with _stage(relay, ctx, payload, Stage.CAPABILITY_CHECK):
        if post.kind not in (PostKind.VIDEO, PostKind.SLIDESHOW):
            raise TikrelayError(
                ErrorKind.UNSUPPORTED, f"{post.kind} posts are not sent yet", retryable=False
            )
        if post.kind is PostKind.VIDEO:
            await asyncio.to_thread(_check_offer, session, upload_limit(relay.settings))
        elif not post.images:
            raise TikrelayError(
                ErrorKind.FORMAT_NOT_FOUND, "the slideshow lists no images", retryable=False
            )
        await ctx.event(ReposterEvent.POST, kind=post.kind.value, images=len(post.images))
    folder = relay.paths.post_media(SITE, post.id)
    async with _stage(relay, ctx, payload, Stage.DOWNLOAD), relay.downloads:
        files = await asyncio.to_thread(_download_once, session, post, folder)
    caption = render_caption(post, dest.caption, link=dest.link)
    async with _stage(relay, ctx, payload, Stage.POSTPROCESS):
        ready = await asyncio.to_thread(_postprocess, relay, post, files, folder)
    async with _stage(relay, ctx, payload, Stage.OUTPUT_VALIDATE):
        if isinstance(ready, TelegramVideo):
            await asyncio.to_thread(validate_video, ready, max_bytes=upload_limit(relay.settings))
        if isinstance(ready, TelegramVideo) and not ready.has_audio:
            # Sent all the same (a silent clip is still the post), and said so on the timeline.
            await ctx.event(ReposterEvent.VIDEO_WITHOUT_SOUND, file=ready.path.name)
    return _plan(post, ready, files, caption, audio=dest.slideshow_audio)


def _post_row(post: Post, relay: Relay) -> dict[str, Any]:
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
        "first_seen_at": relay.now(),
    }


def _check_offer(session: PostSession, limit: int) -> None:
    """Refuse before downloading what could not be sent: no clean video with sound, or every
    such format bigger than Telegram takes."""
    offer = session.video_offer()
    if offer.usable_formats == 0:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND,
            "the post offers no un-watermarked video with sound",
            retryable=False,
        )
    if offer.smallest_size is not None and offer.smallest_size > limit:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT,
            f"the video is {offer.smallest_size / _MB:.1f} MB, over the {limit / _MB:g} MB "
            "upload limit; a local Bot API server (telegram.local_mode) takes up to 2000 MB",
            retryable=False,
        )


def _download_once(session: PostSession, post: Post, folder: Path) -> dict[str, list[str]]:
    """The post's files, downloaded by the first job that needs them and reused after."""
    manifest = folder / "downloaded.json"
    with locked(folder):
        if manifest.exists():
            found: dict[str, list[str]] = json.loads(manifest.read_text())
            if all((folder / name).is_file() for names in found.values() for name in names):
                return found
        source = folder / "source"
        files: dict[str, list[str]] = {}
        try:
            if post.kind is PostKind.VIDEO:
                files["video"] = [_relative(session.download_video(source), folder)]
            else:
                files["images"] = [_relative(p, folder) for p in session.download_images(source)]
                sound = session.download_sound(source)
                files["sound"] = [_relative(sound, folder)] if sound else []
            write_atomically(manifest, lambda tmp: tmp.write_text(json.dumps(files)))
        except BaseException:
            _remove_partials(source)  # a failed download starts afresh, and frees its space
            raise
        return files


def _remove_partials(folder: Path) -> None:
    """yt-dlp's unfinished downloads (``*.part``, ``*.part-Frag*``, ``*.ytdl``)."""
    if folder.is_dir():
        for leftover in [*folder.glob("*.part*"), *folder.glob("*.ytdl")]:
            leftover.unlink(missing_ok=True)


def _relative(path: Path, folder: Path) -> str:
    return str(path.relative_to(folder))


def _postprocess(
    relay: Relay, post: Post, files: dict[str, list[str]], folder: Path
) -> TelegramVideo | list[Path]:
    out = folder / "telegram"
    with locked(folder):
        if post.kind is PostKind.VIDEO:
            ffmpeg = ffmpeg_path(relay.settings.ffmpeg)
            return prepare_video(folder / files["video"][0], out, ffmpeg=ffmpeg)
        out.mkdir(parents=True, exist_ok=True)
        return [to_jpeg(folder / name, out / f"{Path(name).stem}.jpg") for name in files["images"]]


def _plan(
    post: Post,
    ready: TelegramVideo | list[Path],
    files: dict[str, list[str]],
    caption: str,
    *,
    audio: bool,
) -> list[Part]:
    if isinstance(ready, TelegramVideo):
        return [Part(0, "video", [ready.path], caption, video=ready)]
    parts = [
        Part(index, "photos", ready[start : start + ALBUM_SIZE], caption if index == 0 else None)
        for index, start in enumerate(range(0, len(ready), ALBUM_SIZE))
    ]
    sound = files.get("sound") or []
    if audio and sound and post.sound is not None:
        folder = ready[0].parent.parent
        parts.append(
            Part(
                len(parts),
                "audio",
                [folder / sound[0]],
                None,
                title=clean_name(post.sound.title) if post.sound.title else None,
                performer=clean_name(post.sound.author) if post.sound.author else None,
            )
        )
    return parts
