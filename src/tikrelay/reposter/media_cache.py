"""The shared media cache: one folder per post (``StatePaths.post_media``), locked while a job
downloads or prepares into it, deleted once no delivery needs it any more.

A post's files are downloaded once, by the first job that needs them; the folder's manifest
(``downloaded.json``, a :class:`Downloaded`) tells later jobs, for other destinations or after a
crash, that they are all there."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.media.files import write_atomically
from tikrelay.store import JobQueue
from tikrelay.store import relay as sql

if TYPE_CHECKING:
    from tikrelay.media.video import TelegramVideo
    from tikrelay.sources.session import MediaSession

log = structlog.get_logger("tikrelay.media")
LOCK_NAME = ".lock"


class FolderBusyError(Exception):
    """Another job holds the folder."""


@contextmanager
def locked(folder: Path, *, wait: bool = True) -> Iterator[None]:
    """One job at a time in a post's folder, across jobs and processes on this machine."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_NAME).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise FolderBusyError(str(folder)) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


MANIFEST = "downloaded.json"


@dataclass(frozen=True)
class Downloaded:
    """A post's downloaded files, relative to its folder: the video, or the slides and sound."""

    video: str | None = None
    images: tuple[str, ...] = ()
    sound: str | None = None
    fetched: int = 0  # bytes this call downloaded (0: the files were there already)

    @property
    def files(self) -> list[str]:
        return [name for name in (self.video, *self.images, self.sound) if name]

    def to_json(self) -> str:
        if self.video is not None:
            return json.dumps({"video": [self.video]})
        return json.dumps(
            {"images": list(self.images), "sound": [self.sound] if self.sound else []}
        )

    @classmethod
    def from_json(cls, text: str) -> Downloaded:
        data = json.loads(text)
        video, sound = data.get("video") or [None], data.get("sound") or [None]
        return cls(video=video[0], images=tuple(data.get("images") or ()), sound=sound[0])


class MediaCache:
    """The posts' folders under ``state_dir/media``, with the download limit of this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = StatePaths(settings.state_dir)
        self.downloads = asyncio.Semaphore(settings.delivery.downloads)

    def folder(self, post: Post) -> Path:
        return self.paths.post_media(post.site, post.id)

    def download_once(self, session: MediaSession, post: Post) -> Downloaded:
        """The post's files, downloaded by the first job that needs them and reused after;
        a failed download leaves no partial file behind (it starts afresh, and frees space)."""
        folder = self.folder(post)
        manifest = folder / MANIFEST
        with locked(folder):
            if manifest.exists():
                found = Downloaded.from_json(manifest.read_text())
                if all((folder / name).is_file() for name in found.files):
                    return found
            source = folder / "source"
            # A run killed mid-download (kill -9, power cut) never got to the clean-up below.
            # Resumed, a .part that is already whole asks for the range past its last byte:
            # HTTP 416, which yt-dlp's own fallback repeats, and a 4xx fails the post for good.
            _remove_partials(source)
            try:
                if post.kind is PostKind.VIDEO:
                    files = Downloaded(video=_relative(session.download_video(source), folder))
                elif post.kind is PostKind.AUDIO:
                    sound = session.download_sound(source)
                    if sound is None:
                        raise TikrelayError(
                            ErrorKind.FORMAT_NOT_FOUND, "the link has no sound", retryable=False
                        )
                    files = Downloaded(sound=_relative(sound, folder))
                else:
                    images = tuple(_relative(p, folder) for p in session.download_images(source))
                    sound = session.download_sound(source)
                    files = Downloaded(
                        images=images, sound=_relative(sound, folder) if sound else None
                    )
                write_atomically(manifest, lambda tmp: tmp.write_text(files.to_json()))
                size = sum((folder / name).stat().st_size for name in files.files)
                files = dataclasses.replace(files, fetched=size)
            except BaseException:
                _remove_partials(source)
                raise
            return files

    def sound_once(self, session: MediaSession, post: Post) -> Path:
        """The post's sound file, downloaded once into its folder (a video post's too)."""
        folder = self.folder(post)
        source = folder / "source"
        with locked(folder):
            found = sorted(source.glob("sound.*")) if source.is_dir() else []
            whole = [p for p in found if not p.name.endswith((".part", ".ytdl"))]
            if whole:
                return whole[0]
            _remove_partials(source)
            sound = session.download_sound(source)
            if sound is None:
                raise TikrelayError(
                    ErrorKind.FORMAT_NOT_FOUND, f"post {post.id} has no sound", retryable=False
                )
            return sound

    def prepare(
        self, post: Post, files: Downloaded, *, hevc: bool = False
    ) -> TelegramVideo | list[Path]:
        """The Telegram-ready video (``hevc``: HEVC tagged hvc1 may stay), or the slides as
        JPEG, beside the downloads."""
        from tikrelay.media.ffmpeg import ffmpeg_path  # PyAV and Pillow: only with work to do
        from tikrelay.media.images import to_jpeg
        from tikrelay.media.video import prepare_video

        folder = self.folder(post)
        out = folder / "telegram"
        with locked(folder):
            if files.video is not None:
                ffmpeg = ffmpeg_path(self.settings.ffmpeg)
                return prepare_video(folder / files.video, out, ffmpeg=ffmpeg, hevc=hevc)
            out.mkdir(parents=True, exist_ok=True)
            return [to_jpeg(folder / name, out / f"{Path(name).stem}.jpg") for name in files.images]

    def audio(self, post: Post, files: Downloaded) -> Path:
        """The post's sound as Telegram plays it (MP3, or AAC in M4A), beside the downloads."""
        from tikrelay.media.audio import playable_audio
        from tikrelay.media.ffmpeg import ffmpeg_path

        if files.sound is None:
            raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, "no sound was downloaded")
        folder = self.folder(post)
        with locked(folder):
            ffmpeg = ffmpeg_path(self.settings.ffmpeg)
            return playable_audio(folder / files.sound, folder / "telegram", ffmpeg=ffmpeg)

    def slideshow_video(self, post: Post, files: Downloaded, slides: list[Path]) -> TelegramVideo:
        """One video of the prepared ``slides``, each for an equal share of the sound."""
        from tikrelay.media.ffmpeg import ffmpeg_path
        from tikrelay.media.slideshow import slideshow_video

        folder = self.folder(post)
        with locked(folder):
            ffmpeg = ffmpeg_path(self.settings.ffmpeg)
            sound = folder / files.sound if files.sound else None
            return slideshow_video(slides, sound, folder / "telegram", ffmpeg=ffmpeg)

    def cover(self, post: Post, slides: list[Path]) -> Path:
        """The sound's cover: the first slide, small."""
        from tikrelay.media.images import cover_thumbnail

        folder = self.folder(post)
        with locked(folder):
            return cover_thumbnail(slides[0], folder / "telegram" / "cover.jpg")

    def fit(self, post: Post, video: TelegramVideo, max_bytes: int) -> TelegramVideo:
        """``video``, or a re-encode of it that fits in ``max_bytes``, beside it."""
        from tikrelay.media.ffmpeg import ffmpeg_path
        from tikrelay.media.video import fit_video

        folder = self.folder(post)
        with locked(folder):
            ffmpeg = ffmpeg_path(self.settings.ffmpeg)
            return fit_video(video, folder / "telegram", max_bytes=max_bytes, ffmpeg=ffmpeg)

    def prune(self, queue: JobQueue, kinds: Sequence[str]) -> int:
        """Delete posts' media no job of ``kinds`` needs any more (delivery.keep_media_hours,
        delivery.cache_max_gb)."""
        return prune(self.settings, queue, kinds)


def _remove_partials(folder: Path) -> None:
    """yt-dlp's unfinished downloads (``*.part``, ``*.part-Frag*``, ``*.ytdl``)."""
    if folder.is_dir():
        for leftover in [*folder.glob("*.part*"), *folder.glob("*.ytdl")]:
            leftover.unlink(missing_ok=True)


def _relative(path: Path, folder: Path) -> str:
    return str(path.relative_to(folder))


def _last_change_and_size(folder: Path) -> tuple[float, int]:
    """When a file of the folder last changed (the lock file aside), and their bytes: one walk."""
    changed, size = None, 0
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            size += stat.st_size
            if path.name != LOCK_NAME:
                changed = stat.st_mtime if changed is None else max(changed, stat.st_mtime)
    return (folder.stat().st_mtime if changed is None else changed), size


@dataclass(frozen=True)
class _Cached:
    key: str  # site:id
    folder: Path
    changed: float
    size: int


def _cached(root: Path) -> list[_Cached]:
    """Every post folder of the cache, least recently changed first."""
    found = []
    for site in sorted(p for p in root.iterdir() if p.is_dir()):
        for folder in sorted(p for p in site.iterdir() if p.is_dir()):
            key = f"{site.name}:{folder.name}"
            try:
                found.append(_Cached(key, folder, *_last_change_and_size(folder)))
            except FileNotFoundError:
                continue  # removed meanwhile
    return sorted(found, key=lambda cached: cached.changed)


def prune(
    settings: Settings, queue: JobQueue, kinds: Sequence[str], now: float | None = None
) -> int:
    """Delete the folders of posts that no job of ``kinds`` waits for or runs: those untouched
    for ``delivery.keep_media_hours``, then, while the cache is over ``delivery.cache_max_gb``,
    the least recently used. Return how many went.

    A folder is deleted only under its lock, after the database says (again, under the lock)
    that no job needs it: a job that starts afterwards finds no manifest and downloads anew."""
    root = StatePaths(settings.state_dir).media_cache
    if not root.is_dir():
        return 0
    keep = settings.delivery.keep_media_hours * 3600
    budget_gb = settings.delivery.cache_max_gb
    budget = None if budget_gb is None else int(budget_gb * 1000**3)
    moment = time.time() if now is None else now
    cached = _cached(root)
    total = sum(c.size for c in cached)
    with queue.engine.connect() as conn:
        busy = sql.posts_in_work(conn, kinds)
    removed = 0
    for entry in cached:
        old = moment - entry.changed >= keep
        over = budget is not None and total > budget
        if entry.key in busy or not (old or over):
            continue
        if _remove(entry, queue, kinds):
            total -= entry.size
            removed += 1
    if removed:
        log.info("media_pruned", folders=removed, bytes_left=total)
    return removed


def _remove(entry: _Cached, queue: JobQueue, kinds: Sequence[str]) -> bool:
    try:
        with locked(entry.folder, wait=False):
            with queue.engine.connect() as conn:
                if entry.key in sql.posts_in_work(conn, kinds):
                    return False  # a job for it was queued meanwhile
            for child in entry.folder.iterdir():  # the lock file goes last, with the folder
                if child.name != LOCK_NAME:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    except FolderBusyError:
        return False  # a job works in it now
    shutil.rmtree(entry.folder, ignore_errors=True)
    return True
