"""TikTok creators through yt-dlp: resolve a creator once, read the newest posts with one feed
request, read one post page, download its video, slides or sound.

Every call is blocking (yt-dlp is); callers run them in threads. One ``PostSession`` holds one
YoutubeDL for a post's page read and its downloads, because the page sets the cookie
(``tt_chain_token``) the video CDN asks for.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.networking import Request

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.media.files import write_atomically
from tikrelay.sources import tiktok_page
from tikrelay.sources.refs import SITE, WEB, post_url
from tikrelay.sources.ytdlp import base_options, pick_proxy

# Muxed video with its own sound, never the watermarked ``download`` format, never a video-only
# stream (yt-dlp would merge an HEVC video-only stream with the music track otherwise).
VIDEO_FORMAT = "b[format_id!=download][vcodec!=none][acodec!=none]"
_HASHTAG = re.compile(r"#(\w+)")
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heic",
    "image/png": ".png",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".m4a",
}


@dataclass(frozen=True)
class FeedEntry:
    id: str
    url: str
    created_at: datetime | None


@dataclass(frozen=True)
class VideoOffer:
    usable_formats: int
    smallest_size: int | None


class TikTokClient:
    def __init__(self, network: NetworkSettings, paths: StatePaths) -> None:
        self.network = network
        self.paths = paths

    def _ydl(self, key: str, attempt: int, **extra: Any) -> YoutubeDL:
        proxy = pick_proxy(self.network.proxies, key, attempt)
        options = base_options(self.network, ca_folder=self.paths.root, proxy=proxy)
        return YoutubeDL({**options, **extra})

    def _extract(self, url: str, key: str, attempt: int, **extra: Any) -> dict[str, Any]:
        try:
            with self._ydl(key, attempt, extract_flat="in_playlist", **extra) as ydl:
                info = ydl.extract_info(url, download=False)
        except TikrelayError:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        if not isinstance(info, dict):
            raise TikrelayError(ErrorKind.EXTRACTOR, f"yt-dlp returned nothing for {url}")
        return info

    def resolve(
        self, username: str, depth: int, *, attempt: int = 0
    ) -> tuple[str, list[FeedEntry]]:
        """The creator's secUid (stored by the caller) and the newest ``depth`` posts, oldest
        first: the profile page and one feed request."""
        info = self._extract(f"{WEB}/@{username}", f"@{username}", attempt, playlistend=depth)
        sec_uid = info.get("id")
        if not isinstance(sec_uid, str) or not sec_uid:
            raise TikrelayError(ErrorKind.EXTRACTOR, f"no secUid found for @{username}")
        return sec_uid, _entries(info, username)

    def latest(
        self, sec_uid: str, username: str, depth: int, *, attempt: int = 0
    ) -> list[FeedEntry]:
        """The newest ``depth`` posts, oldest first: one feed request for up to 15."""
        info = self._extract(f"tiktokuser:{sec_uid}", f"@{username}", attempt, playlistend=depth)
        return _entries(info, username)

    @contextmanager
    def open_post(self, url: str, post_id: str, *, attempt: int = 0) -> Iterator[PostSession]:
        with self._ydl(post_id, attempt, format=VIDEO_FORMAT) as ydl:
            yield PostSession(ydl, url.replace("/photo/", "/video/"), post_id)


class PostSession:
    """One post: read its page once, then download what it holds with the same cookies."""

    def __init__(self, ydl: YoutubeDL, url: str, post_id: str) -> None:
        self.ydl = ydl
        self.url = url
        self.post_id = post_id
        self._item: dict[str, Any] | None = None

    def item(self) -> dict[str, Any]:
        if self._item is None:
            try:
                self._item = tiktok_page.fetch_item(self.ydl, self.url, self.post_id)
            except TikrelayError:
                raise
            except Exception as exc:
                raise classify(exc) from exc
        return self._item

    def post(self) -> Post:
        return post_from_item(self.item(), self.url, self.post_id)

    def video_offer(self) -> VideoOffer:
        """What the page offers before anything is downloaded: formats tikrelay may send (with
        sound, not watermarked) and the smallest known size among them."""
        info = tiktok_page.video_info(self.ydl, self.item(), self.url, self.post_id)
        usable = [
            f
            for f in info.get("formats") or []
            if f.get("format_id") != "download"
            and f.get("vcodec") not in (None, "none")
            and f.get("acodec") not in (None, "none")
        ]
        sizes = [int(f["filesize"]) for f in usable if f.get("filesize")]
        return VideoOffer(len(usable), min(sizes) if sizes else None)

    def download_video(self, folder: Path) -> Path:
        """The un-watermarked muxed video, as yt-dlp selects and downloads it."""
        folder.mkdir(parents=True, exist_ok=True)
        info = tiktok_page.video_info(self.ydl, self.item(), self.url, self.post_id)
        self.ydl.params["outtmpl"] = {"default": str(folder / "video.%(ext)s")}
        try:
            result = self.ydl.process_ie_result(info, download=True)
        except Exception as exc:
            error = classify(exc)
            if "requested format is not available" in error.message:
                raise TikrelayError(
                    ErrorKind.FORMAT_NOT_FOUND,
                    f"post {self.post_id} offers no un-watermarked video with sound",
                    retryable=False,
                ) from exc
            raise error from exc
        if result.get("format_id") == "download":  # belt and braces: never the watermark
            raise TikrelayError(
                ErrorKind.FORMAT_NOT_FOUND, "only the watermarked video is offered", retryable=False
            )
        downloads = result.get("requested_downloads") or [{}]
        path = downloads[0].get("filepath")
        if not path or not Path(path).is_file():
            raise TikrelayError(ErrorKind.EXTRACTOR, "yt-dlp reported no downloaded file")
        return Path(path)

    def download_images(self, folder: Path) -> list[Path]:
        """Every slide, in order, as TikTok serves it (JPEG, WebP or HEIC)."""
        folder.mkdir(parents=True, exist_ok=True)
        images = (self.item().get("imagePost") or {}).get("images") or []
        paths = []
        for index, image in enumerate(images, start=1):
            urls = ((image or {}).get("imageURL") or {}).get("urlList") or []
            paths.append(self._fetch_first(urls, folder / f"slide-{index:02d}", f"slide {index}"))
        if not paths:
            raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, "the slideshow lists no images")
        return paths

    def download_sound(self, folder: Path) -> Path | None:
        """The post's sound file, or None when the post has none."""
        url = ((self.item().get("music") or {}).get("playUrl")) or None
        if not url:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return self._fetch_first([url], folder / "sound", "sound")

    def _fetch_first(self, urls: list[str], stem: Path, what: str) -> Path:
        """Download the first URL that answers (later ones are CDN mirrors)."""
        last: TikrelayError | None = None
        for url in urls:
            try:
                return self._fetch(url, stem)
            except Exception as exc:
                last = exc if isinstance(exc, TikrelayError) else classify(exc)
        raise last or TikrelayError(ErrorKind.FORMAT_NOT_FOUND, f"no URL for the {what}")

    def _fetch(self, url: str, stem: Path) -> Path:
        request = Request(url, headers={"Referer": f"{WEB}/"})
        with self.ydl.urlopen(request) as response:
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            target = stem.with_suffix(_EXTENSIONS.get(kind, ".bin"))

            def copy(tmp: Path) -> None:
                with tmp.open("wb") as out:
                    shutil.copyfileobj(response, out)

            write_atomically(target, copy)
        return target


def _entries(info: dict[str, Any], username: str) -> list[FeedEntry]:
    entries: list[FeedEntry] = []
    for entry in info.get("entries") or []:
        post_id = str(entry.get("id") or "")
        if not post_id:
            continue
        timestamp = entry.get("timestamp")
        created = datetime.fromtimestamp(timestamp, UTC) if timestamp else None
        entries.append(FeedEntry(post_id, post_url(username, post_id), created))
    entries.reverse()
    return entries


def post_from_item(item: dict[str, Any], url: str, post_id: str) -> Post:
    """Our Post from TikTok's ``itemStruct``."""
    author = item.get("author") or {}
    stats = item.get("stats") or {}
    music = item.get("music") or {}
    images = (item.get("imagePost") or {}).get("images") or []
    text = str(item.get("desc") or "")
    created = item.get("createTime")
    tags = [
        str(t.get("hashtagName"))
        for t in item.get("textExtra") or []
        if isinstance(t, dict) and t.get("hashtagName")
    ] or _HASHTAG.findall(text)
    slide_urls = tuple(
        (((img or {}).get("imageURL") or {}).get("urlList") or [""])[0] for img in images
    )
    sound = None
    if music:
        duration = music.get("duration")
        sound = Sound(
            title=music.get("title") or None,
            author=music.get("authorName") or None,
            url=music.get("playUrl") or None,
            duration=float(duration) if duration else None,
        )
    return Post(
        site=SITE,
        id=post_id,
        kind=PostKind.SLIDESHOW if images else PostKind.VIDEO,
        url=url,
        author=str(author.get("uniqueId") or ""),
        author_name=author.get("nickname") or None,
        text=text,
        created_at=datetime.fromtimestamp(int(created), UTC) if created else None,
        hashtags=tuple(dict.fromkeys(tags)),
        views=_int(stats.get("playCount")),
        likes=_int(stats.get("diggCount")),
        sound=sound,
        images=slide_urls,
    )


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None
