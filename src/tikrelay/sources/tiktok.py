"""TikTok creators through yt-dlp: resolve a creator once, read the newest posts with one feed
request, read one post page, download its video, slides or sound.

Every call is blocking (yt-dlp is); callers run them in threads. One ``PostSession`` holds one
YoutubeDL for a post's page read and its downloads, because the page sets the cookie
(``tt_chain_token``) the video CDN asks for.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from yt_dlp.extractor.tiktok import TikTokUserIE
from yt_dlp.networking import Request
from yt_dlp.utils import int_or_none, traverse_obj

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.posts import Post
from tikrelay.media.content import Content, check_content
from tikrelay.media.files import write_atomically
from tikrelay.sources import tiktok_page
from tikrelay.sources.refs import SITE, WEB, parse_post_link
from tikrelay.sources.session import VideoOffer
from tikrelay.sources.tiktok_item import FeedEntry, entries_from_feed, post_from_item, slide_urls
from tikrelay.sources.transport import GuardedYoutubeDL
from tikrelay.sources.ytdlp import base_options, pick_proxy

log = structlog.get_logger("tikrelay.sources")

#: yt-dlp's extractor of profiles and feeds, named: otherwise the first read in a process tries
#: every extractor's URL pattern before it (about 1,500, compiling each: ~0.3 s of CPU).
USER_EXTRACTOR = "TikTokUser"
#: yt-dlp's words for a creator whose profile says zero videos.
_NO_POSTS = "does not have any videos posted"
# Muxed video with its own sound, never the watermarked ``download`` format, never a video-only
# stream (yt-dlp would merge an HEVC video-only stream with the music track otherwise).
VIDEO_FORMAT = "b[format_id!=download][vcodec!=none][acodec!=none]"
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


class FeedListingIE(TikTokUserIE):  # type: ignore[misc]
    """yt-dlp's profile and feed extractor, every request and rule of it kept (pages, cursors,
    the private-account check, the device-id retry), with each feed entry reduced to what a poll
    reads: the post's id and time, and the author's secUid (which the embed page's fallback
    reads). yt-dlp's full entry (author, stats, music, thumbnails) was most of a poll's CPU."""

    @classmethod
    def ie_key(cls) -> str:
        return USER_EXTRACTOR

    def _parse_aweme_video_web(
        self, aweme_detail: Any, webpage_url: str, video_id: str, extract_flat: bool = False
    ) -> dict[str, Any]:
        if not extract_flat:
            full: dict[str, Any] = super()._parse_aweme_video_web(
                aweme_detail, webpage_url, video_id, extract_flat
            )
            return full
        author = (("authorInfo", "author", None), ("authorSecId", "secUid"), {str})
        return {
            "id": video_id,
            "timestamp": int_or_none(traverse_obj(aweme_detail, "createTime")),
            "channel_id": traverse_obj(aweme_detail, author, get_all=False),
        }


class TikTokClient:
    def __init__(self, network: NetworkSettings, paths: StatePaths) -> None:
        self.network = network
        self.paths = paths
        # Idle yt-dlp instances for profile and feed reads, by proxy: a poll takes one (or makes
        # one), and gives it back when the read went well. Making one costs about 50 ms of CPU
        # (yt-dlp's extractor set); a kept one also keeps its connections alive.
        # Each is kept with the modification time of network.cookies_file it was made with: a
        # newer file (the user logged in again) retires it.
        self._feeds: dict[str | None, list[tuple[int | None, GuardedYoutubeDL]]] = {}
        self._feeds_lock = threading.Lock()

    def _ydl(self, key: str, attempt: int, **extra: Any) -> GuardedYoutubeDL:
        proxy = pick_proxy(self.network.proxies, key, attempt)
        jar = self.paths.cookie_jar
        options = base_options(self.network, ca_folder=self.paths.root, proxy=proxy, cookie_jar=jar)
        return GuardedYoutubeDL({**options, **extra}, site=SITE)

    def expand(self, link: str, *, attempt: int = 0) -> tuple[str, str]:
        """(username, post id) of the post a share link (``vm.tiktok.com/…``) redirects to,
        through yt-dlp's own short-link extractor (every redirect vetted)."""
        with self._ydl(link, attempt) as ydl:
            try:
                info = ydl.extract_info(link, download=False, process=False)
            except Exception as exc:
                raise classified(ydl, exc) from exc
        target = info.get("url") if isinstance(info, dict) else None
        found = parse_post_link(target) if isinstance(target, str) else None
        if found is None:
            raise TikrelayError(
                ErrorKind.UNSUPPORTED,
                f"the share link {link} does not lead to a TikTok post",
                retryable=False,
            )
        return found

    def resolve(
        self, username: str, depth: int, *, attempt: int = 0
    ) -> tuple[str | None, list[FeedEntry]]:
        """The creator's secUid (stored by the caller) and the newest ``depth`` posts, oldest
        first: the profile page and one feed request. A creator who has posted nothing yet has
        no posts and no secUid yet (None): the next poll reads the profile again."""
        try:
            with self._feed_ydl(f"@{username}", attempt) as ydl:
                info = read_listing(ydl, f"{WEB}/@{username}", depth)
        except TikrelayError as exc:
            # yt-dlp reads the profile's videoCount and raises this, with no type of its own.
            if exc.kind is ErrorKind.EXTRACTOR and _NO_POSTS in exc.message:
                return None, []
            raise
        sec_uid = info.get("id")
        if not isinstance(sec_uid, str) or not sec_uid:
            raise TikrelayError(ErrorKind.EXTRACTOR, f"no secUid found for @{username}")
        return sec_uid, entries_from_feed(info, username)

    def latest(
        self, sec_uid: str, username: str, depth: int, *, attempt: int = 0
    ) -> list[FeedEntry]:
        """The newest ``depth`` posts, oldest first: one feed request for up to 15, through a
        kept yt-dlp instance."""
        with self._feed_ydl(f"@{username}", attempt) as ydl:
            info = read_listing(ydl, f"tiktokuser:{sec_uid}", depth)
        return entries_from_feed(info, username)

    @contextmanager
    def _feed_ydl(self, key: str, attempt: int) -> Iterator[GuardedYoutubeDL]:
        """A kept instance for the proxy of ``key`` (sticky, rotated on retries), used by one
        thread at a time; after a failed read it is closed, not kept (its connection may be
        what failed)."""
        proxy = pick_proxy(self.network.proxies, key, attempt)
        stamp = self._user_cookies_stamp()
        with self._feeds_lock:
            idle = self._feeds.setdefault(proxy, [])
            made_with, ydl = idle.pop() if idle else (None, None)
        if ydl is not None and made_with != stamp:
            ydl.close()
            ydl = None
        if ydl is None:
            jar = self.paths.cookie_jar
            options = base_options(
                self.network, ca_folder=self.paths.root, proxy=proxy, cookie_jar=jar
            )
            # The feed extractor only: a feed read calls it directly, never picks one by URL.
            ydl = GuardedYoutubeDL(options, site=SITE, extractors=False)
            ydl.add_info_extractor(FeedListingIE())
        ydl.proxy_failures.clear()
        try:
            try:
                yield ydl
            except Exception as exc:
                raise classified(ydl, exc) from exc
        except BaseException:
            ydl.close()
            raise
        ydl.save_cookies()
        with self._feeds_lock:
            self._feeds[proxy].append((stamp, ydl))

    def _user_cookies_stamp(self) -> int | None:
        user_file = self.network.cookies_file
        try:
            return user_file.stat().st_mtime_ns if user_file is not None else None
        except OSError:
            return None  # base_options says what is wrong with it

    def close(self) -> None:
        """Close the kept instances (their cookies saved, their connections closed)."""
        with self._feeds_lock:
            kept = [ydl for idle in self._feeds.values() for _, ydl in idle]
            self._feeds.clear()
        for ydl in kept:
            ydl.close()

    @contextmanager
    def open_post(self, url: str, post_id: str, *, attempt: int = 0) -> Iterator[PostSession]:
        with self._ydl(post_id, attempt, format=VIDEO_FORMAT) as ydl:
            yield PostSession(ydl, url.replace("/photo/", "/video/"), post_id)


class PostSession:
    """One post: read its page once, then download what it holds with the same cookies."""

    def __init__(self, ydl: GuardedYoutubeDL, url: str, post_id: str) -> None:
        self.ydl = ydl
        self.url = url
        self.post_id = post_id
        self._item: dict[str, Any] | None = None

    def item(self) -> dict[str, Any]:
        if self._item is None:
            try:
                self._item = tiktok_page.fetch_item(self.ydl, self.url, self.post_id)
            except Exception as exc:
                raise classified(self.ydl, exc) from exc
        return self._item

    def post(self) -> Post:
        return post_from_item(self.item(), self.url, self.post_id)

    def video_offer(self) -> VideoOffer:
        """What the page offers before anything is downloaded: formats tikrelay may send (with
        sound, not watermarked) and the smallest known size among them."""
        info, refused = self._video_info()
        usable = [
            f
            for f in info.get("formats") or []
            if f.get("format_id") != "download"
            and f.get("vcodec") not in (None, "none")
            and f.get("acodec") not in (None, "none")
        ]
        if not usable and refused:  # the only video formats point where tikrelay does not go
            raise refused[0]
        sizes = [int(f["filesize"]) for f in usable if f.get("filesize")]
        return VideoOffer(len(usable), min(sizes) if sizes else None)

    def download_video(self, folder: Path) -> Path:
        """The un-watermarked muxed video, as yt-dlp selects and downloads it."""
        folder.mkdir(parents=True, exist_ok=True)
        info, refused = self._video_info()
        self.ydl.params["outtmpl"] = {"default": str(folder / "video.%(ext)s")}
        try:
            result = self.ydl.process_ie_result(info, download=True)
        except Exception as exc:
            error = classified(self.ydl, exc)
            if "requested format is not available" in error.message.lower():
                if refused:
                    raise refused[0] from exc
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
        try:
            return check_content(Path(path), Content.VIDEO, f"the video of post {self.post_id}")
        except TikrelayError:
            Path(path).unlink(missing_ok=True)
            raise

    def _video_info(self) -> tuple[dict[str, Any], list[TikrelayError]]:
        """yt-dlp's info dict for the video, holding only formats tikrelay may fetch, and the
        refusals of the others: yt-dlp chooses among the allowed ones, so neither its format
        tests nor the download reach another host."""
        info = tiktok_page.video_info(self.ydl, self.item(), self.url, self.post_id)
        allowed, refused = [], []
        for fmt in info.get("formats") or []:
            try:
                self.ydl.vet(str(fmt.get("url") or ""))
            except TikrelayError as exc:
                refused.append(exc)
            else:
                allowed.append(fmt)
        if refused:
            log.warning("formats_refused", post=self.post_id, reasons=[e.message for e in refused])
            if not allowed:
                raise refused[0]
        info["formats"] = allowed
        return info, refused

    def download_images(self, folder: Path) -> list[Path]:
        """Every slide, in order, as TikTok serves it (JPEG, WebP or HEIC)."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, urls in enumerate(slide_urls(self.item(), self.post_id), start=1):
            what, stem = f"slide {index} of post {self.post_id}", folder / f"slide-{index:02d}"
            paths.append(self._fetch_first(urls, stem, what, Content.IMAGE))
        if not paths:
            raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, "the slideshow lists no images")
        return paths

    def download_sound(self, folder: Path) -> Path | None:
        """The post's sound file, or None when the post has none."""
        sound = self.post().sound
        if sound is None or not sound.url:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        what = f"the sound of post {self.post_id}"
        return self._fetch_first([sound.url], folder / "sound", what, Content.AUDIO)

    def _fetch_first(self, urls: list[str], stem: Path, what: str, expected: Content) -> Path:
        """Download the first URL that answers with ``expected`` content (later ones are CDN
        mirrors). A refused URL is never fetched; its refusal is the error if nothing works."""
        errors: list[TikrelayError] = []
        for url in urls:
            try:
                return self._fetch(url, stem, what, expected)
            except Exception as exc:
                errors.append(classified(self.ydl, exc))
        refusal = next((e for e in errors if e.kind is ErrorKind.PROTECTED), None)
        if refusal is not None or errors:
            raise refusal or errors[-1]
        raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, f"no URL for {what}", retryable=False)

    def _fetch(self, url: str, stem: Path, what: str, expected: Content) -> Path:
        request = Request(self.ydl.vet(url), headers={"Referer": f"{WEB}/"})
        with self.ydl.urlopen(request) as response:
            self.ydl.vet(response.url)  # redirects were checked hop by hop; this is the last
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            target = stem.with_suffix(_EXTENSIONS.get(kind, ".bin"))

            def copy(tmp: Path) -> None:
                with tmp.open("wb") as out:
                    shutil.copyfileobj(response, out)
                check_content(tmp, expected, what)  # before it gets its name

            write_atomically(target, copy)
        return target


def read_listing(ydl: GuardedYoutubeDL, url: str, depth: int) -> dict[str, Any]:
    """A profile's or feed's info with its newest ``depth`` entries, straight from yt-dlp's
    extractor: its feed pages are read lazily, so ``depth`` up to 15 is one request. Not through
    ``extract_info``, which would run its per-entry processing (output templates, forced
    printing, pre-processors) on every entry, the most costly part of a poll, for nothing
    tikrelay reads."""
    info = ydl.get_info_extractor(USER_EXTRACTOR).extract(url)
    if not isinstance(info, dict):
        raise TikrelayError(ErrorKind.EXTRACTOR, f"yt-dlp returned nothing for {url}")
    entries = info.get("entries")
    info["entries"] = list(itertools.islice(entries, depth)) if entries is not None else []
    return info


def classified(ydl: GuardedYoutubeDL, exc: BaseException) -> TikrelayError:
    """``exc`` in the taxonomy; an unreachable proxy, which yt-dlp may have swallowed on the way
    to another error ("Unable to extract secondary user ID"), comes first."""
    if isinstance(exc, TikrelayError):
        return exc
    return ydl.proxy_error() or classify(exc)
