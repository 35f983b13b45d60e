"""Links to any site yt-dlp reads (YouTube, Facebook, Archive.org, a page with ``<video>`` or
``<audio>``, a direct media file): what the bot fetches for a link that is not TikTok's.

A link is fetched in one *variant*: ``best`` (the best quality that fits the upload limit, or the
best there is, compressed later), ``720p``, ``480p``, or ``audio``. The post's id is the link's
digest and the variant, so each variant of each link is downloaded and uploaded once (its
Telegram file ids are kept like a TikTok post's).

Every request yt-dlp makes for such a link is checked first (``check_url`` with ``WEB``): a page,
a manifest, a media file, a redirect hop; a link to the machine itself or its network is never
fetched (server-side request forgery). Through a proxy the proxy resolves names; without one
each name must resolve to public addresses.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from yt_dlp.networking import HEADRequest

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import Post, PostKind, Sound
from tikrelay.media.content import Content, check_content
from tikrelay.sources.media_urls import WEB
from tikrelay.sources.session import VideoOffer
from tikrelay.sources.tiktok import classified
from tikrelay.sources.transport import GuardedYoutubeDL
from tikrelay.sources.ytdlp import base_options, pick_proxy

log = structlog.get_logger("tikrelay.sources")

SITE = WEB
BEST = "best"
AUDIO = "audio"
#: The variants a link may be asked in, as the bot's quality keyboard offers them.
VARIANTS = (BEST, "720p", "480p", AUDIO)
#: The heights of the keyboard's video variants.
HEIGHTS = {"720p": 720, "480p": 480}


#: File name endings of media a link may point at directly.
MEDIA_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".mp3", ".m4a", ".ogg", ".opus", ".m3u8")


def site_extractor(url: str) -> str | None:
    """The name of the yt-dlp extractor made for the link's site (not the generic one, which
    tries any page), or ``direct`` for a link to a media file; None otherwise."""
    from yt_dlp.extractor import gen_extractor_classes

    if urlsplit(url.strip()).path.lower().endswith(MEDIA_SUFFIXES):
        return "direct"
    for extractor in gen_extractor_classes():
        if extractor.ie_key() != "Generic" and extractor.suitable(url):
            return str(extractor.ie_key())
    return None


def link_digest(url: str) -> str:
    """A link's identity: the digest of the link as sent (without spaces)."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:20]


def web_post_id(url: str, variant: str = BEST) -> str:
    """The post id of a link in a variant (``best`` has no suffix)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
    digest = link_digest(url)
    return digest if variant == BEST else f"{digest}-{variant}"


def variant_of(post_id: str) -> str:
    """The variant a web post id names."""
    _, _, suffix = post_id.partition("-")
    return suffix if suffix in VARIANTS else BEST


def format_spec(variant: str, max_bytes: int) -> str:
    """yt-dlp's format selection for a variant: what fits the upload limit first (sizes a site
    does not give pass), else the best there is (the video is compressed to fit later)."""
    if variant == AUDIO:
        return "ba/b"
    if variant in HEIGHTS:
        height = HEIGHTS[variant]
        return f"bv*[height<={height}]+ba/b[height<={height}]/wv*+ba/w"
    fits = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    return f"bv*{fits}+ba/b{fits}/bv*+ba/b"


class WebClient:
    """yt-dlp for links to any site, with the network settings and the bundled ffmpeg (to
    merge a video stream with its sound)."""

    def __init__(
        self, network: NetworkSettings, paths: StatePaths, *, ffmpeg: Path, max_bytes: int
    ) -> None:
        self.network = network
        self.paths = paths
        self.ffmpeg = ffmpeg
        self.max_bytes = max_bytes

    @contextmanager
    def open_link(
        self, url: str, post_id: str, *, attempt: int = 0, author: str | None = None
    ) -> Iterator[LinkSession]:
        """``author``: whom the caption names when the page names no one (a ``url:``
        source's entry: its uploader as listed, or the feed's title)."""
        variant = variant_of(post_id)
        proxy = pick_proxy(self.network.proxies, link_digest(url), attempt)
        options = base_options(
            self.network, ca_folder=self.paths.root, proxy=proxy, cookie_jar=self.paths.cookie_jar
        )
        options |= {
            "format": format_spec(variant, self.max_bytes),
            "ffmpeg_location": str(self.ffmpeg),
            "merge_output_format": "mp4/mkv",
            # A site's own player pages may list many videos: only the one linked.
            "playlist_items": "1",
        }
        with GuardedYoutubeDL(options, site=SITE) as ydl:
            yield LinkSession(ydl, url, post_id, variant, author)


class LinkSession:
    """One link in one variant: read once, then downloaded as a video or a sound."""

    def __init__(
        self,
        ydl: GuardedYoutubeDL,
        url: str,
        post_id: str,
        variant: str,
        author: str | None = None,
    ) -> None:
        self.ydl = ydl
        self.author = author
        self.url = url
        self.post_id = post_id
        self.variant = variant
        self._info: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        """yt-dlp's info for the link, its format chosen; every URL it names checked."""
        if self._info is None:
            self.ydl.vet(self.url)
            try:
                info = self.ydl.extract_info(self.url, download=False)
            except Exception as exc:
                raise classified(self.ydl, exc) from exc
            if not isinstance(info, dict):
                raise TikrelayError(ErrorKind.EXTRACTOR, f"yt-dlp returned nothing for {self.url}")
            if info.get("_type") == "playlist":
                entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
                if not entries:
                    raise TikrelayError(
                        ErrorKind.FORMAT_NOT_FOUND, "the page holds no media", retryable=False
                    )
                info = entries[0]
            for chosen in _chosen(info):
                self.ydl.vet(str(chosen.get("url") or ""))
            self._info = info
        return self._info

    def kind(self) -> PostKind:
        if self.variant == AUDIO:
            return PostKind.AUDIO
        chosen = _chosen(self.info())
        has_video = any(f.get("vcodec") not in ("none",) for f in chosen)
        return PostKind.VIDEO if has_video else PostKind.AUDIO

    def post(self) -> Post:
        info = self.info()
        title = _text(info.get("title")) or _text(info.get("fulltitle")) or ""
        if title == _text(info.get("id")) and info.get("extractor_key") == "Generic":
            title = ""  # a direct file's "title" is its file name
        uploader = _publisher(info) or self.author
        duration = info.get("duration")
        kind = self.kind()
        sound = None
        if kind is PostKind.AUDIO:
            sound = Sound(
                title=title or None,
                author=_text(info.get("artist")) or uploader,
                duration=float(duration) if isinstance(duration, int | float) else None,
            )
        return Post(
            site=SITE,
            id=self.post_id,
            kind=kind,
            url=self.url,
            author=_text(info.get("uploader_id")) or uploader or "",
            author_name=uploader,
            text=title,
            created_at=_published(info),
            views=_count(info.get("view_count")),
            likes=_count(info.get("like_count")),
            sound=sound,
            heights=tuple(self.heights()) if kind is PostKind.VIDEO else (),
            duration=_duration(duration) if kind is PostKind.VIDEO else None,
        )

    def heights(self) -> list[int]:
        """The video heights the link is offered in, highest first."""
        heights = {
            int(f["height"])
            for f in self.info().get("formats") or [self.info()]
            if isinstance(f.get("height"), int) and f.get("vcodec") != "none"
        }
        return sorted(heights, reverse=True)

    def video_offer(self) -> VideoOffer:
        """The chosen format's size, from the site's metadata, else from a HEAD request."""
        chosen = _chosen(self.info())
        sizes = [f.get("filesize") or f.get("filesize_approx") for f in chosen]
        if all(isinstance(size, int | float) and size > 0 for size in sizes):
            return VideoOffer(len(chosen), int(sum(sizes)))  # type: ignore[arg-type]
        if len(chosen) == 1 and str(chosen[0].get("protocol") or "").startswith("http"):
            return VideoOffer(1, self._head_size(str(chosen[0]["url"])))
        return VideoOffer(len(chosen), None)

    def _head_size(self, url: str) -> int | None:
        try:
            with self.ydl.urlopen(HEADRequest(self.ydl.vet(url))) as response:
                length = response.headers.get("Content-Length")
        except Exception as exc:  # a site that refuses HEAD: the size is known after the download
            log.debug("head_failed", error=classified(self.ydl, exc).message)
            return None
        return int(length) if length and length.isdigit() else None

    def download_video(self, folder: Path) -> Path:
        return check_content(self._download(folder, "video"), Content.VIDEO, "the linked video")

    def download_images(self, folder: Path) -> list[Path]:
        raise TikrelayError(ErrorKind.UNSUPPORTED, "a link holds no slideshow", retryable=False)

    def download_sound(self, folder: Path) -> Path | None:
        """The linked sound as the site serves it (an audio stream, or a video to take it from)."""
        return self._download(folder, "sound")

    def _download(self, folder: Path, stem: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        info = self.info()
        self.ydl.params["outtmpl"] = {"default": str(folder / f"{stem}.%(ext)s")}
        try:
            result = self.ydl.process_ie_result(dict(info), download=True)
        except Exception as exc:
            raise classified(self.ydl, exc) from exc
        downloads = result.get("requested_downloads") or [{}]
        path = downloads[0].get("filepath")
        if not path or not Path(path).is_file():
            raise TikrelayError(ErrorKind.EXTRACTOR, "yt-dlp reported no downloaded file")
        return Path(path)


def _chosen(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The formats yt-dlp chose: two to merge, or one."""
    requested = info.get("requested_formats")
    if isinstance(requested, list | tuple) and requested:
        return [f for f in requested if isinstance(f, dict)]
    return [info]


def _publisher(info: dict[str, Any]) -> str | None:
    """Who published it, as a caption names them: the channel or the creators before the
    uploader's account (on archive.org an e-mail address)."""
    creators = info.get("creators")
    first = creators[0] if isinstance(creators, list) and creators else None
    for value in (info.get("channel"), first, info.get("creator"), info.get("artist")):
        if (found := _text(value)) is not None:
            return found
    return _text(info.get("uploader"))


def _published(info: dict[str, Any]) -> datetime | None:
    """When the site says the media was published, if it says."""
    stamp = info.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp, UTC)
    day = info.get("upload_date")
    try:
        return (
            datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC) if isinstance(day, str) else None
        )
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _duration(value: object) -> float | None:
    """yt-dlp's ``duration`` in seconds, or None when the site gives none (or nonsense)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None
