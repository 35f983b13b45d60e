"""The ``publish`` job: one post to a tiktok destination, through TikTok's Content Posting API:
a draft in the account's inbox (``mode: inbox``) or a direct post (``mode: direct``).

METADATA_FETCH, DOWNLOAD and POSTPROCESS as a delivery has them (a video as the H.264 MP4 the
media layer prepares; a slideshow as the video it makes of the slides and sound; an audio post is
refused), then TIKTOK_UPLOAD and TIKTOK_PROCESSING, then the Delivery row in the transaction that
completes the job.

Exactly once, across crashes: the upload's ``publish_id`` is written (``tiktok_uploads``, a
transaction of its own) before the first chunk is sent, and each accepted chunk moves its
``next_chunk``. A later attempt asks TikTok for that upload's status first: done (inbox or
posted) → the delivery is recorded, nothing is sent; every byte in → the status is polled;
part-way and its URL still good → the upload goes on from the first chunk TikTok lacks; FAILED
or the URL expired → a new initialization. An upload TikTok does not have whole never becomes a
post, so a new initialization cannot make a second one. What this cannot prove: a crash after
TikTok finished a new initialization's last chunk and before its row was written is impossible
(the row precedes the first chunk), but a refresh token TikTok rotated just before a crash is
lost with it, and the account then needs ``tikrelay tiktok-auth`` again.
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from tikrelay.captions.graphemes import cut_points
from tikrelay.config.settings import Settings
from tikrelay.config.tiktok_settings import TikTokDestination
from tikrelay.destinations.tiktok import (
    FAILED,
    PUBLISH_COMPLETE,
    SEND_TO_USER_INBOX,
    TITLE_LIMIT,
    CreatorInfo,
    PublishStatus,
    TikTokApiError,
    TikTokClient,
    UploadUrlGoneError,
)
from tikrelay.destinations.tiktok_auth import AccountCredentials, OAuthClient
from tikrelay.destinations.tiktok_chunks import ChunkPlan, plan_chunks
from tikrelay.domain.errors import ErrorKind, InvalidJobError, TikrelayError
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.jobs import JobDeferredError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.engine.context import JobContext
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.media_cache import MediaCache
from tikrelay.reposter.model import DeliverPayload, Route, Routes
from tikrelay.reposter.pacing import wait_for_slot
from tikrelay.reposter.progress import Progress
from tikrelay.reposter.screening import Screen
from tikrelay.sources.refs import SITE
from tikrelay.store import JobQueue, tiktok_sql
from tikrelay.store import relay as sql
from tikrelay.store.tallies_sql import BYTES_DOWNLOADED, BYTES_UPLOADED

#: The ``chat_id`` of a tiktok destination's delivery rows (an account is no chat).
TIKTOK_CHAT = "tiktok:"
#: An upload URL is good for an hour; past this age a resumed upload initializes anew.
UPLOAD_URL_AGE = timedelta(minutes=55)
#: The most private first: the default when a destination names no privacy_level.
PRIVACY_ORDER = ("SELF_ONLY", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "PUBLIC_TO_EVERYONE")
_DONE = (SEND_TO_USER_INBOX, PUBLISH_COMPLETE)


def tiktok_title(post: Post, *, credit: bool, limit: int = TITLE_LIMIT) -> str:
    """A direct post's title: the post's text, and with ``credit`` its author on a line of its
    own (``🎥 @author on TikTok``); the text cut (with …) where a reader sees a whole character,
    so that all of it fits in ``limit`` UTF-16 units."""
    text = post.text.strip()
    line = ""
    if credit:
        author = post.author.lstrip("@")
        line = f"🎥 @{author} on TikTok" if post.site == SITE else f"🎥 {author}"
    joined = f"{text}\n\n{line}" if text and line else text or line
    if _units(joined) <= limit:
        return joined
    tail = f"…\n\n{line}" if line else "…"
    budget = limit - _units(tail)
    chars = list(text)
    allowed = cut_points(chars)
    kept = 0
    used = 0
    for index, char in enumerate(chars):
        used += _units(char)
        if used > budget:
            break
        if allowed[index + 1]:
            kept = index + 1
    return "".join(chars[:kept]).rstrip() + tail


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def choose_privacy(wanted: str | None, offered: tuple[str, ...]) -> str:
    """The destination's privacy_level when the account offers it; by default the most private
    one offered. A TikrelayError (not retried) names what the account offers."""
    if wanted is not None:
        if wanted in offered:
            return wanted
        raise TikrelayError(
            ErrorKind.UNSUPPORTED,
            f"the account offers privacy levels {', '.join(offered) or 'none'}, not {wanted}: "
            "change privacy_level",
            retryable=False,
        )
    for level in PRIVACY_ORDER:
        if level in offered:
            return level
    raise TikrelayError(ErrorKind.UNSUPPORTED, "the account offers no privacy level to post with")


#: TikTok's answers that an account's cap is reached (posts in 24 hours, drafts not yet
#: finished in its inbox, its active users): the post waits, it does not fail.
CAPS = frozenset(
    {"spam_risk_too_many_posts", "spam_risk_too_many_pending_share", "reached_active_user_cap"}
)


class Publisher:
    """The ``publish`` job's handler, given exactly what it uses."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        routes: Routes,
        clients: Clients,
        media: MediaCache,
        progress: Progress,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.routes = routes
        self.clients = clients
        self.media = media
        self.progress = progress
        self.screen = Screen(routes, progress)
        self._accounts: dict[str, asyncio.Lock] = {}
        self._api: TikTokClient | None = None

    async def __call__(self, ctx: JobContext, payload: DeliverPayload) -> None:
        ledger = Ledger(ctx, self.queue)
        name = payload.destination
        if not self.routes.knows(destination=name):
            await ctx.db(self.routes.reload)
        route = self.routes.route(name)
        dest = route.settings.tiktok
        if dest is None:
            raise InvalidJobError(f"destination {name!r} is not a tiktok destination")
        if await ledger.run(sql.delivered_ids, payload.post, name) is not None:
            await ledger.event(ReposterEvent.ALREADY_DELIVERED, message_ids=[])
            return
        if await self.screen.kept_out_before(ledger, payload, name):
            return
        app = self.settings.tiktok_app
        client = self._client()
        creds = await self._credentials(ledger, dest.account, OAuthClient(app, client.http))
        await _Publish(self, ledger, payload, route, dest, client, creds).run()

    def _client(self) -> TikTokClient:
        """One client per process, over the process's HTTP client: its connections, and the
        per-account rate windows it keeps (6 inits, 30 status fetches a minute), outlive a job."""
        http = self.clients.http
        if self._api is None or self._api.http is not http:  # closed with its event loop
            self._api = TikTokClient(self.settings.tiktok_app.api_url, http)
        return self._api

    async def _credentials(
        self, ledger: Ledger, account: str, oauth: OAuthClient
    ) -> AccountCredentials:
        from tikrelay.reposter.tiktok_accounts import account_credentials

        async def write(row: tiktok_sql.AccountRow) -> None:
            await ledger.run(tiktok_sql.save_account, row, ledger.now())

        found = await account_credentials(
            account,
            oauth,
            now=ledger.now,
            read=lambda: ledger.run(tiktok_sql.account, account),
            write=write,
            lock=self._accounts.setdefault(account, asyncio.Lock()),
        )
        if found is None:
            raise TikrelayError(
                ErrorKind.AUTH,
                f"TikTok account {account!r} is not authorized: run tikrelay tiktok-auth {account}",
                retryable=False,
            )
        return found

    async def _before_upload(self, ledger: Ledger, payload: DeliverPayload, route: Route) -> None:
        """The one place a check runs before anything is sent to TikTok: the destination's
        posting schedule, when it has one (JobDeferredError: wait for the slot)."""
        await wait_for_slot(ledger, route, payload.published_at)


class _Publish:
    """One attempt of a publish job."""

    def __init__(
        self,
        publisher: Publisher,
        ledger: Ledger,
        payload: DeliverPayload,
        route: Route,
        dest: TikTokDestination,
        client: TikTokClient,
        creds: AccountCredentials,
    ) -> None:
        self.publisher = publisher
        self.ledger = ledger
        self.payload = payload
        self.route = route
        self.dest = dest
        self.client = client
        self.creds = creds

    async def run(self) -> None:
        ledger, payload = self.ledger, self.payload
        found = await ledger.run(tiktok_sql.upload, payload.post, self.route.name)
        if found is not None and found.status == tiktok_sql.DONE:
            return await self._published(found.publish_id, resumed=True)
        resume: tuple[tiktok_sql.UploadRow, int] | None = None
        if found is not None and found.status in (tiktok_sql.UPLOADING, tiktok_sql.UPLOADED):
            status = await self._status_of(found.publish_id)
            if status is not None:
                if status.status in _DONE:
                    return await self._finish(found.publish_id, status, resumed=True)
                whole = status.uploaded_bytes == found.video_size
                # TikTok has every byte, or does not say how many it has (it may have them all):
                # its processing decides; a FAILED one gets a new upload at the retry. Never a new
                # upload while the old one may still become a post.
                unknown = status.uploaded_bytes is None
                sent_all = found.status == tiktok_sql.UPLOADED
                if status.status != FAILED and (whole or unknown or sent_all):
                    await ledger.event(
                        ReposterEvent.TIKTOK_UPLOAD_RESUMED, publish_id=found.publish_id, chunk=None
                    )
                    return await self._wait(found.publish_id)
                if status.status == FAILED:
                    await self._failed(found.publish_id, status, raise_=False)
                elif ledger.now() - found.created_at < UPLOAD_URL_AGE and found.upload_url:
                    resume = (found, (status.uploaded_bytes or 0) // found.chunk_size)
        made = await self._video()
        if made is None:  # the source's filters keep it out
            return None
        video, post = made
        plan = plan_chunks(video.stat().st_size)
        if resume is not None:
            row, start = resume
            same = (row.video_size, row.chunk_size) == (plan.video_size, plan.chunk_size)
            if same and row.upload_url is not None:
                await ledger.event(
                    ReposterEvent.TIKTOK_UPLOAD_RESUMED, publish_id=row.publish_id, chunk=start
                )
                try:
                    await self._send(row.publish_id, row.upload_url, plan, video, start)
                except UploadUrlGoneError as exc:
                    # Its URL expired (TikTok's clock is the one that counts): that upload
                    # can never be whole, so a new initialization cannot make a second post.
                    await self._abandoned(row.publish_id, exc.message)
                else:
                    return await self._wait(row.publish_id)
        await self.publisher._before_upload(ledger, payload, self.route)
        async with self._stage(Stage.TIKTOK_UPLOAD):
            if self.dest.mode == "direct":
                info = await self.client.creator_info(self.creds)
                _check_duration(info, post)
                privacy = choose_privacy(self.dest.privacy_level, info.privacy_level_options)
                post_info = {
                    "title": tiktok_title(post, credit=self.dest.credit),
                    "privacy_level": privacy,
                    "disable_comment": info.comment_disabled,
                    "disable_duet": info.duet_disabled,
                    "disable_stitch": info.stitch_disabled,
                }
                init = self.client.init_direct(self.creds, plan, post_info)
            else:
                init = self.client.init_inbox(self.creds, plan)
            try:
                upload = await init
            except TikTokApiError as exc:
                if exc.code not in CAPS:
                    raise
                # A cap of the account's (posts a day, drafts waiting in its inbox): not the
                # post's failure; it waits, its attempts not counted, until TikTok takes it.
                later = ledger.now() + timedelta(seconds=exc.retry_after or 3600.0)
                raise JobDeferredError(later, f"{exc.message}: tried again then") from None
            await ledger.run(
                tiktok_sql.start_upload,
                post_key=payload.post,
                destination=self.route.name,
                publish_id=upload.publish_id,
                upload_url=upload.upload_url,
                video_size=plan.video_size,
                chunk_size=plan.chunk_size,
                now=ledger.now(),
            )
            await ledger.event(
                ReposterEvent.TIKTOK_UPLOAD_STARTED,
                publish_id=upload.publish_id,
                mode=self.dest.mode,
                bytes=plan.video_size,
                chunks=plan.total_chunk_count,
            )
            await self._send(upload.publish_id, upload.upload_url, plan, video, 0, staged=False)
        return await self._wait(upload.publish_id)

    async def _video(self) -> tuple[Path, Post] | None:
        """The post read, downloaded into the media cache and made into one MP4; None when the
        source's filters keep it out."""
        ledger, payload, media = self.ledger, self.payload, self.publisher.media
        clients = self.publisher.clients
        async with clients.post_session(payload, attempt=ledger.ctx.attempt - 1) as session:
            async with self._stage(Stage.METADATA_FETCH):
                post = await asyncio.to_thread(session.post)
            if await self.publisher.screen.keeps_out(ledger, payload, self.route.name, post):
                return None
            async with self._stage(Stage.CAPABILITY_CHECK):
                if post.kind is PostKind.AUDIO:
                    raise TikrelayError(
                        ErrorKind.UNSUPPORTED,
                        "TikTok takes videos: a post that is only a sound is not published",
                        retryable=False,
                    )
                if post.kind is PostKind.SLIDESHOW and not post.images:
                    raise TikrelayError(
                        ErrorKind.FORMAT_NOT_FOUND, "the slideshow lists no images", retryable=False
                    )
                await ledger.event(
                    ReposterEvent.POST, kind=post.kind.value, images=len(post.images)
                )
            async with self._stage(Stage.DOWNLOAD), media.downloads:
                files = await asyncio.to_thread(media.download_once, session, post)
        await ledger.count_bytes(BYTES_DOWNLOADED, post.site, files.fetched)
        async with self._stage(Stage.POSTPROCESS):
            prepared = await asyncio.to_thread(
                functools.partial(media.prepare, post, files, hevc=False)
            )
            if isinstance(prepared, list):
                made = await asyncio.to_thread(media.slideshow_video, post, files, prepared)
                await ledger.event(
                    ReposterEvent.SLIDESHOW_VIDEO,
                    slides=len(prepared),
                    duration=round(made.duration, 1),
                    sound=made.has_audio,
                )
                return made.path, post
            action = "re-encoded" if prepared.reencoded else "remuxed"
            await ledger.event(
                ReposterEvent.VIDEO_PREPARED, action=action, reasons=list(prepared.reasons)
            )
            return prepared.path, post

    async def _send(
        self,
        publish_id: str,
        upload_url: str,
        plan: ChunkPlan,
        video: Path,
        start: int,
        *,
        staged: bool = True,
    ) -> None:
        ledger, payload, name = self.ledger, self.payload, self.route.name
        sent = 0

        async def accepted(next_chunk: int) -> None:
            nonlocal sent
            sent += plan.chunk(next_chunk - 1).size
            whole = next_chunk == plan.total_chunk_count
            await ledger.run(
                tiktok_sql.advance,
                payload.post,
                name,
                publish_id,
                now=ledger.now(),
                next_chunk=next_chunk,
                status=tiktok_sql.UPLOADED if whole else None,
            )
            await ledger.event(
                ReposterEvent.TIKTOK_CHUNK_UPLOADED,
                chunk=next_chunk,
                of=plan.total_chunk_count,
            )

        try:
            if staged:
                async with self._stage(Stage.TIKTOK_UPLOAD):
                    await self.client.send_chunks(
                        upload_url, plan, video, start=start, on_chunk=accepted
                    )
            else:
                await self.client.send_chunks(
                    upload_url, plan, video, start=start, on_chunk=accepted
                )
        finally:
            await ledger.count_bytes(BYTES_UPLOADED, name, sent)

    async def _wait(self, publish_id: str) -> None:
        async with self._stage(Stage.TIKTOK_PROCESSING):
            status = await self.client.wait_done(self.creds, publish_id)
        if status.status == FAILED:
            await self._failed(publish_id, status, raise_=True)
        await self._finish(publish_id, status, resumed=False)

    async def _failed(self, publish_id: str, status: PublishStatus, *, raise_: bool) -> None:
        ledger = self.ledger
        await ledger.run(
            tiktok_sql.advance,
            self.payload.post,
            self.route.name,
            publish_id,
            now=ledger.now(),
            status=tiktok_sql.FAILED,
        )
        reason = status.fail_reason or "no reason given"
        await ledger.event(
            ReposterEvent.TIKTOK_PUBLISH_FAILED, publish_id=publish_id, reason=reason
        )
        if raise_:
            raise TikrelayError(
                ErrorKind.HTTP, f"TikTok could not publish the video: {reason}", retryable=True
            )

    async def _status_of(self, publish_id: str) -> PublishStatus | None:
        """TikTok's status of an earlier attempt's upload; None when TikTok knows no such
        upload (it never became a post: it is marked failed, and a new one starts)."""
        try:
            return await self.client.status(self.creds, publish_id)
        except TikTokApiError as exc:
            if exc.code != "invalid_publish_id":
                raise
            await self._abandoned(publish_id, exc.message)
            return None

    async def _abandoned(self, publish_id: str, reason: str) -> None:
        """An upload that can no longer be finished, so that a new one starts."""
        ledger = self.ledger
        await ledger.run(
            tiktok_sql.advance,
            self.payload.post,
            self.route.name,
            publish_id,
            now=ledger.now(),
            status=tiktok_sql.FAILED,
        )
        await ledger.event(
            ReposterEvent.TIKTOK_PUBLISH_FAILED,
            publish_id=publish_id,
            reason=f"{reason}: a new upload starts",
        )

    async def _finish(self, publish_id: str, status: PublishStatus, *, resumed: bool) -> None:
        ledger = self.ledger
        await ledger.run(
            tiktok_sql.advance,
            self.payload.post,
            self.route.name,
            publish_id,
            now=ledger.now(),
            status=tiktok_sql.DONE,
        )
        await self._published(publish_id, resumed=resumed, status=status.status)

    async def _published(
        self, publish_id: str, *, resumed: bool, status: str | None = None
    ) -> None:
        ledger, payload = self.ledger, self.payload
        await ledger.event(
            ReposterEvent.TIKTOK_PUBLISHED,
            publish_id=publish_id,
            account=self.dest.account,
            mode=self.dest.mode,
            status=status,
            earlier=resumed,
        )
        self.publisher.progress.delivered(payload.post, self.route.name, 1)
        ledger.on_complete(_recorder(ledger, payload, self.dest.account))

    def _stage(self, name: Stage) -> AbstractAsyncContextManager[None]:
        self.publisher.progress.stage(self.payload.post, self.payload.destination, name)
        return self.ledger.ctx.stage(name)


def _check_duration(info: CreatorInfo, post: Post) -> None:
    longest = info.max_video_post_duration_sec
    if longest is not None and post.duration is not None and post.duration > longest:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT,
            f"the video lasts {post.duration:.0f} s; the account may post {longest} s at most",
            retryable=False,
        )


def _recorder(ledger: Ledger, payload: DeliverPayload, account: str) -> Any:
    def record(conn: Connection) -> None:
        sql.record_delivery(
            conn,
            post_key=payload.post,
            destination=payload.destination,
            chat_id=f"{TIKTOK_CHAT}{account}"[:100],
            topic_id=None,
            message_ids=[],
            job_id=ledger.job_id,
            reconciled=False,
            now=ledger.now(),
        )

    return record
