"""A post's picture, for the dashboard: from the media cache or, once the cache no longer has
the post's files, from an archive destination it was archived to (served by
``web.thumbnails``).

The media cache keeps each post's files in ``state_dir/media/{site}/{id}/``
(``StatePaths.post_media``) until ``delivery.keep_media_hours`` after its last job: the
downloads in ``source/``, what was sent in ``telegram/`` (a video's ``*.thumb.jpg``, a
slideshow's JPEG slides, a sound's ``cover.jpg``). The first of those that exists is the
post's thumbnail.

An archive keeps a post's media as downloaded (``reposter.archiving``): a slideshow's slides
(``01.jpg``, …), a video's ``video.mp4`` (no picture of it), a sound. When the cache has no
picture of a post that an archive destination of the catalog recorded, the first slide, or a
frame of the video taken by ffmpeg, becomes a small JPEG (at most 320 pixels a side) in the
cache, ``archive/thumb.jpg``, served from there until the cache's pruning removes the folder.
A sound alone has no picture. Such a fetch lists the post's folder and reads one file whole
(the archive reads whole files, so a video over ``MAX_READ_BYTES`` is not read): at most
``FETCHES`` run at once, one per post; a post the archive has no picture of is not asked for
again for ``MISS_SECONDS``, an archive that failed for ``DOWN_SECONDS``.

The lists (``/posts``, ``GET /api/posts``) never open an archive: a post has a picture there
when the cache has one, or when an archive destination still in the catalog recorded it (not
longer ago than its ``keep_days``) and it is not a sound (``has_pictures``).

Only image files inside the post's own folder are served: the site must be a plain name, the id
is cleaned by ``StatePaths``, and a link out of the folder is refused. Archive keys are built
from the post's recorded fields as the archive job builds them, and checked by the archive.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import structlog

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import ArchiveDestination
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.posts import Post, PostKind
from tikrelay.reposter.archiving import ARCHIVE_CHAT, METADATA, archive_folder
from tikrelay.reposter.catalog import CatalogError
from tikrelay.reposter.media_cache import FolderBusyError, locked
from tikrelay.runtime.app import Runtime
from tikrelay.sources.refs import SITE
from tikrelay.store.web_sql import DeliveryRecord, PostRecord, post_record

if TYPE_CHECKING:
    from tikrelay.archive import ArchiveStore

log = structlog.get_logger("tikrelay.web")

#: What a picture taken from an archive is called in the post's folder of the media cache.
ARCHIVED = "archive/thumb.jpg"
#: Where a post's picture is looked for, in order, inside its folder.
CANDIDATES = (
    "telegram/*.thumb.jpg",
    "telegram/cover.jpg",
    "telegram/*.jpg",
    "source/*.jpg",
    "source/*.jpeg",
    "source/*.png",
    "source/*.webp",
    ARCHIVED,
)
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
#: Archive fetches running at once in one web process.
FETCHES = 2
#: A post an archive had no picture of is not looked for again this long (seconds).
MISS_SECONDS = 300.0
#: An archive that could not be read is left alone this long (seconds).
DOWN_SECONDS = 60.0
#: The largest file read from an archive (it is read whole, into memory).
MAX_READ_BYTES = 100 * 1000 * 1000
#: How long ffmpeg may take to decode a frame of an archived video.
FRAME_SECONDS = 30.0
#: The archived video a frame is taken from (``reposter.archiving.archived_names``).
VIDEO = "video.mp4"


def plain_site(site: str) -> bool:
    """Whether ``site`` is a name a media cache folder can have (``tiktok``, ``web``)."""
    return site.isascii() and site.replace("-", "").replace("_", "").isalnum()


def thumbnail_file(paths: StatePaths, site: str, post_id: str) -> FilePath | None:
    """The post's picture in the media cache, or None."""
    if not plain_site(site):
        return None
    folder = paths.post_media(site, post_id)
    if not folder.is_dir():
        return None
    root = folder.resolve()
    for pattern in CANDIDATES:
        for found in sorted(folder.glob(pattern)):
            real = found.resolve()
            if real.is_file() and real.is_relative_to(root) and real.suffix.lower() in MEDIA_TYPES:
                return real
    return None


# -- which posts have a picture, for the lists -------------------------------------------------


def archives_of(runtime: Runtime) -> dict[str, ArchiveDestination]:
    """The archive destinations of the catalog, by name (none when it cannot be read: the
    lists then show what the cache has)."""
    try:
        destinations = runtime.catalog().destinations()
    except CatalogError as exc:
        log.warning("web_catalog_unreadable", error=str(exc))
        return {}
    return {name: d.archive for name, d in destinations.items() if d.archive is not None}


def archived_in(
    post: PostRecord, archives: Mapping[str, ArchiveDestination], now: datetime
) -> list[tuple[DeliveryRecord, ArchiveDestination]]:
    """The archives that recorded ``post`` and keep it still, the latest first; none for a
    sound, which an archive keeps without a picture."""
    if post.kind == PostKind.AUDIO.value:
        return []
    found = []
    for delivery in post.deliveries:
        archive = archives.get(delivery.destination)
        if archive is None or not delivery.chat_id.startswith(ARCHIVE_CHAT):
            continue
        kept = archive.keep_days is None or (
            now - delivery.delivered_at < timedelta(days=archive.keep_days)
        )
        if kept:
            found.append((delivery, archive))
    return sorted(found, key=lambda pair: pair[0].delivered_at, reverse=True)


def has_pictures(runtime: Runtime, posts: Sequence[PostRecord]) -> dict[str, bool]:
    """By post key, whether it has a picture: in the cache, or recorded by an archive (module
    docstring). The catalog is read only when some post was archived."""
    paths = StatePaths(runtime.settings.state_dir)
    archived = any(d.chat_id.startswith(ARCHIVE_CHAT) for p in posts for d in p.deliveries)
    archives = archives_of(runtime) if archived else {}
    now = runtime.queue.clock()
    found: dict[str, bool] = {}
    for post in posts:
        has = plain_site(post.site) and (
            thumbnail_file(paths, post.site, post.native_id) is not None
            or bool(archived_in(post, archives, now))
        )
        found[post.key] = has
    return found


# -- a picture taken from an archive --------------------------------------------------------------


@dataclass
class Fetched:
    """What a fetch from the archives found."""

    picture: FilePath | None = None
    busy: bool = False  # a job works in the post's folder now: ask again later
    failed: dict[str, str] = field(default_factory=dict)  # archive name: why it was not read
    skipped: list[str] = field(default_factory=list)  # archives left alone after a failure


def fetch_picture(
    runtime: Runtime, paths: StatePaths, site: str, post_id: str, skipped: set[str]
) -> Fetched:
    """The post's picture from the first archive that has one, made into the cache (module
    docstring); archives named in ``skipped`` are not asked. Blocks: run it in a thread."""
    from tikrelay.archive import open_archive  # obstore loads here

    post = post_record(runtime.queue.engine, f"{site}:{post_id}")
    if post is None:
        return Fetched()
    fetched = Fetched()
    for delivery, archive in archived_in(post, archives_of(runtime), runtime.queue.clock()):
        name = delivery.destination
        if name in skipped:
            fetched.skipped.append(name)
            continue
        try:
            store = open_archive(
                path=archive.path, url=archive.url, endpoint_url=archive.endpoint_url
            )
            found = _archived_file(store, _folders(runtime, post, delivery))
        except (TikrelayError, ValueError) as exc:  # unreachable, refused, misconfigured
            log.warning("web_archive_unreadable", destination=name, error=str(exc))
            fetched.failed[name] = str(exc)
            continue
        if found is None:
            continue
        try:
            return _cached(runtime, paths, site, post_id, store, *found)
        except FolderBusyError:
            fetched.busy = True
            return fetched
        except TikrelayError as exc:  # the archive went away meanwhile, or a file unreadable
            log.warning("web_archive_picture_failed", destination=name, error=str(exc))
            fetched.failed[name] = str(exc)
    return fetched


def _folders(runtime: Runtime, post: PostRecord, delivery: DeliveryRecord) -> list[str]:
    """Where the archive job put the post: as its timeline says (while the job is kept), and
    as the job names a post's folder from what the post's page said."""
    found = []
    if delivery.job_id is not None:
        told = (ReposterEvent.ARCHIVED, ReposterEvent.ALREADY_ARCHIVED)
        for event in runtime.queue.events(delivery.job_id):
            written = event.data.get("folder")
            if event.type in told and isinstance(written, str):
                found.append(written)
    # A post of another site without a date is filed by the month it was archived.
    moment = post.posted_at or (delivery.delivered_at if post.site != SITE else None)
    kinds = {kind.value: kind for kind in PostKind}
    named = Post(
        site=post.site,
        id=post.native_id,
        kind=kinds.get(post.kind or "", PostKind.VIDEO),  # the folder's name does not use it
        url=post.url,
        author=post.author or "",
        created_at=moment,
    )
    with contextlib.suppress(TikrelayError):  # an id that tells no date: only the timeline
        found.append(archive_folder(named))
    return list(dict.fromkeys(found))


def _archived_file(store: ArchiveStore, folders: Sequence[str]) -> tuple[str, int] | None:
    """The key and size of the file to take a picture from: the first slide, else the video;
    in the first of ``folders`` that holds a whole post (its ``metadata.json``)."""
    for folder in folders:
        try:
            listed = {PurePosixPath(o.key).name: o.size for o in store.list(f"{folder}/")}
        except ValueError:
            continue  # not a key of an archive
        if METADATA not in listed:
            continue
        slides = sorted(name for name in listed if PurePosixPath(name).stem.isdigit())
        for name in [*slides, VIDEO]:
            if name in listed:
                return f"{folder}/{name}", listed[name]
        return None
    return None


def _cached(
    runtime: Runtime,
    paths: StatePaths,
    site: str,
    post_id: str,
    store: ArchiveStore,
    key: str,
    size: int,
) -> Fetched:
    """The archived file's picture, written into the post's folder of the media cache under
    its lock (a job working there now: ``FolderBusyError``). The archive's errors are raised;
    a file no picture can be made of is a miss."""
    if size > MAX_READ_BYTES:
        log.info("web_archive_file_too_large", key=key, size=size)
        return Fetched()
    folder = paths.post_media(site, post_id)
    with locked(folder, wait=False):
        found = thumbnail_file(paths, site, post_id)
        if found is not None:
            return Fetched(found)  # made meanwhile, by another process
        with tempfile.TemporaryDirectory(dir=folder, prefix=".archive-") as work:
            data = store.read_bytes(key)
            if data is None:
                return Fetched()  # pruned from the archive meanwhile
            local = FilePath(work) / PurePosixPath(key).name
            local.write_bytes(data)
            del data
            try:
                _picture(runtime, local, folder / ARCHIVED)
            except TikrelayError as exc:
                log.warning("web_archive_no_picture", key=key, error=str(exc))
                return Fetched()
    return Fetched(thumbnail_file(paths, site, post_id))


def _picture(runtime: Runtime, local: FilePath, out: FilePath) -> None:
    """A small JPEG at ``out`` of the image at ``local``, or of a frame of the video there."""
    from tikrelay.media.ffmpeg import ffmpeg_path  # PyAV and Pillow: only with work to do
    from tikrelay.media.images import cover_thumbnail

    picture = local
    if local.name == VIDEO:
        ffmpeg = ffmpeg_path(runtime.settings.ffmpeg)
        frame = _frame(local, local.with_name("frame.png"), ffmpeg)
        if frame is None:
            raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, f"{local.name} has no frame")
        picture = frame
    cover_thumbnail(picture, out)


def _frame(video: FilePath, out: FilePath, ffmpeg: FilePath) -> FilePath | None:
    """A frame of ``video`` as PNG (any pixel format): a second in, as Telegram's thumbnails
    are taken, else the first (a clip that short has nothing a second in)."""
    from tikrelay.media.video import THUMBNAIL_OFFSET_SECONDS, file_arg, run_ffmpeg

    for start in (THUMBNAIL_OFFSET_SECONDS, 0.0):
        out.unlink(missing_ok=True)
        args = ["-ss", f"{start:.3f}", "-i", file_arg(video), "-frames:v", "1", "-an"]
        args += ["-c:v", "png", "-f", "image2", "-update", "1"]
        try:
            run_ffmpeg(ffmpeg, args, out, timeout=FRAME_SECONDS, what="taking a frame")
        except TikrelayError as exc:
            if exc.kind is ErrorKind.TIMEOUT:
                raise
            continue  # nothing decodable there
        if out.is_file() and out.stat().st_size > 0:
            return out
    return None


class ArchiveFetches:
    """The fetches from archives of one web app: ``FETCHES`` at once, one per post (a second
    request for the same post waits for the first), misses and failed archives remembered."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots = asyncio.Semaphore(FETCHES)
        self._running: dict[str, asyncio.Event] = {}
        self._missing: dict[str, float] = {}  # a post's key: until when not to ask again
        self._down: dict[str, float] = {}  # an archive's name: until when to leave it alone

    async def picture(
        self, runtime: Runtime, paths: StatePaths, site: str, post_id: str
    ) -> Fetched:
        key = f"{site}:{post_id}"
        now = self._clock()
        if self._missing.get(key, 0.0) > now:
            return Fetched()
        running = self._running.get(key)
        if running is not None:
            await running.wait()
            return Fetched(await asyncio.to_thread(thumbnail_file, paths, site, post_id))
        done = self._running[key] = asyncio.Event()
        try:
            async with self._slots:
                skipped = {name for name, until in self._down.items() if until > self._clock()}
                found = await asyncio.to_thread(
                    fetch_picture, runtime, paths, site, post_id, skipped
                )
        finally:
            del self._running[key]
            done.set()
        now = self._clock()
        for name in found.failed:
            self._down[name] = now + DOWN_SECONDS
        if found.picture is None and not (found.busy or found.failed or found.skipped):
            self._missing = {k: until for k, until in self._missing.items() if until > now}
            self._missing[key] = now + MISS_SECONDS
        return found
