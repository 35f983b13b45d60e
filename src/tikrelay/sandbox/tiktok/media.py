"""Media files: CDN URLs for a post's media, shaped like TikTok's, and the fixture files behind
them; the files the emulated web sites serve; and answering a request for a file (``Range``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

from tikrelay.media.digest import file_sha256
from tikrelay.sandbox.fixtures import MediaFixtures, _atomic, _ffmpeg
from tikrelay.sandbox.tiktok import ids
from tikrelay.sandbox.tiktok.model import (
    IMAGE_HOST,
    IMAGE_MIRROR_HOST,
    MAX_SLIDES,
    MUSIC_HOST,
    VIDEO_HOST,
    MediaFile,
    MediaKind,
    PostMedia,
    Slide,
)
from tikrelay.sandbox.tiktok.wire import Request, Response

# Path marker that makes yt-dlp treat a bitrateInfo format as video-only (TikTokBaseIE).
HVC1_SUFFIX = "media-video-hvc1/"
_VIDEO_DIR = "/video/tos/useast2a/tos-useast2a-ve-0068c001"
_IMAGE_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "heic": "image/heic"}
_COVER_INDEX = 1_000_000  # fixture image indices for covers, clear of the slides'
_SIGNED_FOR = 86_400 * 365  # x-expires is informative only: the emulator checks the signature
_RANGE = re.compile(r"bytes=(?P<start>\d*)-(?P<end>\d*)")
# Bump when the web recipes change so stale caches are not reused.
WEB_RECIPE_VERSION = "1"
WEB_DURATION = 2  # seconds, every web clip and sound
#: Frame size of each height of the web sites' H.264 clips.
WEB_VIDEO_SIZES = {240: (320, 240), 144: (256, 144)}


@dataclass
class MediaPlan:
    media: PostMedia
    files: dict[str, MediaFile] = field(default_factory=dict)


class MediaPlanner:
    """Makes (or reuses) the fixture files for a post and invents its CDN URLs."""

    def __init__(self, fixtures: MediaFixtures, rng: random.Random, hmac_key: bytes) -> None:
        self._fixtures = fixtures
        self._rng = rng
        self._key = hmac_key

    def sign(self, path: str) -> str:
        mac = hmac.new(self._key, path.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    def video(
        self,
        post_id: str,
        variant: int,
        *,
        hevc: bool,
        music: bool,
        silent: bool = False,
        file: Path | None = None,
    ) -> MediaPlan:
        fx = self._fixtures
        clean = file or (fx.silent_video(variant) if silent else fx.clean_video(variant))
        plan = MediaPlan(PostMedia(cover_url=""))
        play = self._video_url(plan, post_id, clean, "unwatermarked", qs=0)
        h264 = self._video_url(plan, post_id, clean, "unwatermarked", qs=13)
        watermarked = fx.watermarked_video(variant)
        download = self._video_url(plan, post_id, watermarked, "tiktok_m", qs=3)
        hevc_path = fx.hevc_video_only(variant) if hevc else None
        hevc_url = None
        if hevc_path is not None:
            hevc_url = self._video_url(plan, post_id, hevc_path, "unwatermarked", qs=15, hvc1=True)
        plan.media = PostMedia(
            cover_url=self._cover(plan, post_id, variant),
            play_url=play,
            h264_url=h264,
            download_url=download,
            hevc_url=hevc_url,
            clean_path=clean,
            watermarked_path=watermarked,
            hevc_path=hevc_path,
            clean_sha256=file_sha256(clean),
            clean_size=clean.stat().st_size,
        )
        plan.media = self._with_music(plan, post_id, variant, music)
        return plan

    def slideshow(
        self,
        post_id: str,
        variant: int,
        formats: list[str],
        *,
        music: bool,
        files: Sequence[Path | None] = (),
    ) -> MediaPlan:
        plan = MediaPlan(PostMedia(cover_url=""))
        slides = []
        for index, fmt in enumerate(formats):
            given = files[index] if index < len(files) else None
            path = given or self._fixtures.image(variant * MAX_SLIDES + index, fmt)
            name = f"/tos-useast5-i-photomode-tx/{ids.token(self._rng).lower()}"
            url_path = f"{name}~tplv-photomode-image.{fmt}"
            query = self._signed_query(url_path)
            plan.files[url_path] = MediaFile(path, _IMAGE_TYPES[fmt], MediaKind.IMAGE, post_id)
            slides.append(
                Slide(
                    url=f"https://{IMAGE_HOST}{url_path}?{query}",
                    mirror_url=f"https://{IMAGE_MIRROR_HOST}{url_path}?{query}",
                    fmt=fmt,
                    path=path,
                )
            )
        plan.media = PostMedia(
            cover_url=self._cover(plan, post_id, variant),
            slides=tuple(slides),
            width=360,
            height=640,
        )
        plan.media = self._with_music(plan, post_id, variant, music)
        return plan

    def _video_url(
        self, plan: MediaPlan, post_id: str, path: Path, lr: str, *, qs: int, hvc1: bool = False
    ) -> str:
        url_path = f"{_VIDEO_DIR}/o{ids.token(self._rng)}/" + (HVC1_SUFFIX if hvc1 else "")
        plan.files[url_path] = MediaFile(path, "video/mp4", MediaKind.VIDEO, post_id)
        query = urlencode(
            {
                "a": "1988",
                "bti": ids.token(self._rng, 24),
                "lr": lr,
                "mime_type": "video_mp4",
                "qs": str(qs),
                "l": ids.token(self._rng, 24),
                "btag": "e00088000",
            }
        )
        return f"https://{VIDEO_HOST}{url_path}?{query}"

    def _with_music(self, plan: MediaPlan, post_id: str, variant: int, wanted: bool) -> PostMedia:
        if not wanted:
            return plan.media
        path = self._fixtures.music(variant)
        url_path = (
            f"/obj/ies-music-ttp-dup-us/{ids.post_id(variant + 1_600_000_000, self._rng)}.mp3"
        )
        plan.files[url_path] = MediaFile(path, "audio/mpeg", MediaKind.AUDIO, post_id)
        # yt-dlp takes the sound's extension only from mime_type (audio_mpeg: mp3).
        query = self._signed_query(url_path) + "&mime_type=audio_mpeg"
        url = f"https://{MUSIC_HOST}{url_path}?{query}"
        return replace(plan.media, music_url=url, music_path=path)

    def _cover(self, plan: MediaPlan, post_id: str, variant: int) -> str:
        path = self._fixtures.image(_COVER_INDEX + variant, "jpeg")
        url_path = (
            f"/tos-useast5-p-0068-tx/{ids.token(self._rng).lower()}"
            "~tplv-tiktokx-cropcenter:300:400.jpeg"
        )
        plan.files[url_path] = MediaFile(path, "image/jpeg", MediaKind.IMAGE, post_id)
        return f"https://{IMAGE_HOST}{url_path}?{self._signed_query(url_path)}"

    def _signed_query(self, url_path: str) -> str:
        expires = 1_700_000_000 + _SIGNED_FOR
        return urlencode({"x-expires": str(expires), "x-signature": self.sign(url_path)})


class WebMedia:
    """The files the emulated web sites serve, made once with ffmpeg and cached beside the
    TikTok fixtures (shared by every world and test process)."""

    def __init__(self, fixtures: MediaFixtures) -> None:
        self._fixtures = fixtures
        self.root = fixtures.root / f"web-{WEB_RECIPE_VERSION}"

    def video(self, height: int = 240) -> Path:
        """An H.264 (Constrained Baseline) + AAC MP4 (faststart) of ``WEB_VIDEO_SIZES[height]``."""
        width, height = WEB_VIDEO_SIZES[height]
        return _atomic(
            self.root / f"clip-{height}p.mp4",
            _ffmpeg(
                f"-f lavfi -i testsrc2=size={width}x{height}:rate=15:duration={WEB_DURATION}",
                f"-f lavfi -i sine=frequency={400 + height}:duration={WEB_DURATION}",
                "-c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p",
                "-c:a aac -b:a 48k -shortest -movflags +faststart",
            ),
        )

    def webm(self) -> Path:
        """A VP9 + Opus WebM, 320x240."""
        return _atomic(
            self.root / "clip.webm",
            _ffmpeg(
                f"-f lavfi -i testsrc=size=320x240:rate=15:duration={WEB_DURATION}",
                f"-f lavfi -i sine=frequency=587:duration={WEB_DURATION}",
                "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 150k",
                "-c:a libopus -b:a 48k -shortest",
            ),
        )

    def mp3(self) -> Path:
        return _atomic(
            self.root / "song.mp3",
            _ffmpeg(
                f"-f lavfi -i sine=frequency=659:duration={WEB_DURATION}",
                "-c:a libmp3lame -b:a 64k",
            ),
        )

    def m4a(self) -> Path:
        """AAC in an MP4 audio container."""
        return _atomic(
            self.root / "song.m4a",
            _ffmpeg(
                f"-f lavfi -i sine=frequency=698:duration={WEB_DURATION}",
                "-c:a aac -b:a 64k -movflags +faststart",
            ),
        )

    def poster(self) -> Path:
        """A JPEG for posters and thumbnails."""
        return self._fixtures.image(2_000_000, "jpeg")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a single ``Range`` asks for; None to send the whole file.

    An unsatisfiable range comes back with start > end.
    """
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or not (match["start"] or match["end"]):
        return None
    if not match["start"]:  # a suffix: the last N bytes
        return max(0, size - int(match["end"])), size - 1
    start = int(match["start"])
    end = min(int(match["end"]), size - 1) if match["end"] else size - 1
    if start >= size:
        return size, size - 1
    return start, end


def file_response(
    request: Request,
    path: Path,
    content_type: str,
    *,
    rate: int | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """The whole file (200), the slice a ``Range`` asks for (206) or 416; streamed from disk."""
    size = path.stat().st_size
    head = [("Content-Type", content_type), ("Accept-Ranges", "bytes"), *headers]
    span = byte_range(request.headers.get("range"), size)
    if span is None:
        return Response(200, head, file=path, length=size, rate=rate)
    start, end = span
    if start > end:
        return Response(416, [*head, ("Content-Range", f"bytes */{size}")])
    head.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    return Response(206, head, file=path, offset=start, length=end - start + 1, rate=rate)
