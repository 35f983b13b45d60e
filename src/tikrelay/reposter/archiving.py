"""The ``archive`` job: one post stored in an archive destination (a folder, an S3 bucket or an
Azure container) as ``{site}/{author}/{YYYY}/{MM}/{post_id}/``: the media as downloaded
(``video.mp4``; or ``01.jpg``, ``02.jpg``… and ``sound.m4a``) and ``metadata.json``.

It reads the post and takes its media from the shared media cache (downloaded once for every
destination), then writes each file atomically, ``metadata.json`` last: a folder with
``metadata.json`` is complete, and a post found so is never written again. Sends never wait on
storage: archiving is a job of its own, queued by the poll (``to: [vault]``) or by a delivery to
a chat whose destination has ``archive_to``. A post the source's filters keep out stops after
METADATA_FETCH (``reposter.screening``).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, InvalidJobError, TikrelayError
from tikrelay.domain.events import ReposterEvent, Stage
from tikrelay.domain.posts import Post
from tikrelay.engine.context import JobContext
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.media_cache import Downloaded, MediaCache
from tikrelay.reposter.model import DeliverPayload, Routes
from tikrelay.reposter.progress import Progress
from tikrelay.reposter.screening import Screen
from tikrelay.sources.refs import SITE
from tikrelay.store import JobQueue
from tikrelay.store import relay as sql
from tikrelay.store.tallies_sql import BYTES_DOWNLOADED, BYTES_UPLOADED

if TYPE_CHECKING:
    from tikrelay.archive import ArchiveStore

METADATA = "metadata.json"
DAY = 24 * 3600
#: What a post's folder in an archive is named after the media cache's file names.
_SOUND_NAMES = {".m4a": "sound.m4a", ".mp3": "sound.mp3"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def archive_folder(post: Post) -> str:
    """``{site}/{author}/{YYYY}/{MM}/{post_id}``: the author is the username without ``@``, the
    year and month those of the post's creation in UTC."""
    created = created_at(post)
    author = _UNSAFE.sub("_", post.author.lstrip("@")) or "_"
    if set(author) == {"."}:
        author = author.replace(".", "_")
    post_id = _UNSAFE.sub("_", post.id)
    return f"{post.site}/{author}/{created:%Y}/{created:%m}/{post_id}"


def created_at(post: Post) -> datetime:
    """When the post was published, in UTC: as read, or from its TikTok id (whose upper 32 bits
    are the Unix time of its creation); a link to another site that gives no date: now."""
    if post.created_at is not None:
        moment = post.created_at
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if post.site != SITE:
        return datetime.now(UTC)
    try:
        return datetime.fromtimestamp(int(post.id) >> 32, UTC)
    except (ValueError, OverflowError, OSError):
        raise TikrelayError(
            ErrorKind.EXTRACTOR,
            f"post {post.id} has no creation time to file it under",
            retryable=False,
        ) from None


def archived_names(files: Downloaded) -> list[tuple[str, str]]:
    """(name in the cache, name in the archive) for each media file, in order."""
    if files.video is not None:
        return [(files.video, "video.mp4")]
    names = []
    for index, image in enumerate(files.images, start=1):
        suffix = Path(image).suffix.lower()
        names.append((image, f"{index:02d}{'.jpg' if suffix == '.jpeg' else suffix}"))
    if files.sound is not None:
        suffix = Path(files.sound).suffix.lower()
        names.append((files.sound, _SOUND_NAMES.get(suffix, f"sound{suffix}")))
    return names


def metadata(
    post: Post, files: list[str], deliveries: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The ``metadata.json`` sidecar of a post's folder."""
    sound = post.sound
    return {
        "id": post.id,
        "url": post.url,
        "site": post.site,
        "author": post.author.lstrip("@"),
        "author_name": post.author_name,
        "description": post.text,
        "created_at": _iso(created_at(post)),
        "kind": post.kind.value,
        "files": files,
        "hashtags": list(post.hashtags),
        "sound": None
        if sound is None
        else {"title": sound.title, "author": sound.author, "duration": sound.duration},
        "stats": {"views": post.views, "likes": post.likes},
        "deliveries": [d for d in deliveries if not d["chat_id"].startswith(ARCHIVE_CHAT)],
        "archived_at": _iso(now),
    }


#: The ``chat_id`` an archive's delivery rows carry (an archive is no chat).
ARCHIVE_CHAT = "archive:"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Archiver:
    """The ``archive`` job's handler, given exactly what it uses."""

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
        self._stores: dict[str, ArchiveStore] = {}

    def store(self, name: str) -> ArchiveStore:
        """The destination's storage, opened once per process."""
        found = self._stores.get(name)
        if found is None:
            from tikrelay.archive import open_archive  # obstore loads here

            archive = self.routes.route(name).settings.archive
            if archive is None:
                raise InvalidJobError(f"destination {name!r} is not an archive")
            try:
                found = open_archive(
                    path=archive.path, url=archive.url, endpoint_url=archive.endpoint_url
                )
            except ValueError as exc:  # e.g. credentials gone from the environment
                raise TikrelayError(
                    ErrorKind.AUTH, f"destination {name!r}: {exc}", retryable=False
                ) from None
            self._stores[name] = found
        return found

    async def __call__(self, ctx: JobContext, payload: DeliverPayload) -> None:
        ledger = Ledger(ctx, self.queue)
        name = payload.destination
        if not self.routes.knows(destination=name):
            await ctx.db(self.routes.reload)
        if await ledger.run(sql.delivered_ids, payload.post, name) is not None:
            await ledger.event(ReposterEvent.ALREADY_ARCHIVED, recorded=True)
            return
        if await self.screen.kept_out_before(ledger, payload, name):
            return
        store = await asyncio.to_thread(self.store, name)
        opened = self.clients.post_session(payload, attempt=ctx.attempt - 1)
        async with opened as session:
            async with self._stage(ctx, payload, Stage.METADATA_FETCH):
                post = await asyncio.to_thread(session.post)
            if await self.screen.keeps_out(ledger, payload, name, post):
                return
            async with self._stage(ctx, payload, Stage.CAPABILITY_CHECK):
                folder = archive_folder(post)
                if await asyncio.to_thread(store.exists, f"{folder}/{METADATA}"):
                    await ledger.event(
                        ReposterEvent.ALREADY_ARCHIVED, folder=folder, recorded=False
                    )
                    ledger.on_complete(_recorder(ledger, payload))
                    return
            async with self._stage(ctx, payload, Stage.DOWNLOAD), self.media.downloads:
                files = await asyncio.to_thread(self.media.download_once, session, post)
        await ledger.count_bytes(BYTES_DOWNLOADED, post.site, files.fetched)
        async with self._stage(ctx, payload, Stage.ARCHIVE_WRITE):
            deliveries = await ledger.run(sql.deliveries_of, post.key)
            written, uploaded = await asyncio.to_thread(
                self._write, store, folder, post, files, deliveries, ledger.now()
            )
        await ledger.count_bytes(BYTES_UPLOADED, name, uploaded)
        await ledger.event(
            ReposterEvent.ARCHIVED, where=store.describe(), folder=folder, files=written
        )
        self.progress.delivered(payload.post, name, len(written))
        ledger.on_complete(_recorder(ledger, payload))

    def _stage(self, ctx: JobContext, payload: DeliverPayload, name: Stage) -> Any:
        self.progress.stage(payload.post, payload.destination, name)
        return ctx.stage(name)

    def _write(
        self,
        store: ArchiveStore,
        folder: str,
        post: Post,
        files: Downloaded,
        deliveries: list[dict[str, Any]],
        now: datetime,
    ) -> tuple[list[str], int]:
        """Each media file (one left whole by an earlier attempt is kept), then metadata.json;
        the names written and the bytes sent."""
        local = self.media.folder(post)
        there = {PurePosixPath(o.key).name: o.size for o in store.list(f"{folder}/")}
        names = archived_names(files)
        uploaded = 0
        for cached, archived in names:
            path = local / cached
            size = path.stat().st_size
            if there.get(archived) != size:
                store.put_file(f"{folder}/{archived}", path)
                uploaded += size
        written = [archived for _, archived in names]
        sidecar = metadata(post, written, deliveries, now)
        data = json.dumps(sidecar, ensure_ascii=False, indent=2).encode() + b"\n"
        store.put_bytes(f"{folder}/{METADATA}", data)
        return written, uploaded + len(data)


def _recorder(ledger: Ledger, payload: DeliverPayload) -> Any:
    def record(conn: Any) -> None:
        sql.record_delivery(
            conn,
            post_key=payload.post,
            destination=payload.destination,
            chat_id=f"{ARCHIVE_CHAT}{payload.destination}"[:100],
            topic_id=None,
            message_ids=[],
            job_id=ledger.job_id,
            reconciled=False,
            now=ledger.now(),
        )

    return record


def prune_archive(store: ArchiveStore, keep_days: float, now: datetime | None = None) -> int:
    """Delete the folders of posts archived more than ``keep_days`` ago (by their
    ``metadata.json``); a folder still being written has none yet and stays. How many went."""
    moment = now or datetime.now(UTC)
    by_folder: dict[str, list[str]] = {}
    expired: set[str] = set()
    for stored in store.list(""):
        folder, _, name = stored.key.rpartition("/")
        by_folder.setdefault(folder, []).append(stored.key)
        if name == METADATA and (moment - stored.last_modified).total_seconds() > keep_days * DAY:
            expired.add(folder)
    for folder in sorted(expired):
        keys = by_folder[folder]
        # metadata.json last: a prune stopped midway leaves it, and the next one finishes.
        media = [key for key in keys if not key.endswith(f"/{METADATA}")]
        store.delete(media)
        store.delete([f"{folder}/{METADATA}"])
    return len(expired)
