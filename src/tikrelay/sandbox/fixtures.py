"""Media made with the real ffmpeg (and Pillow for images), cached on disk between runs.

Every file is generated on first use and written atomically, so parallel test processes and the
``tikrelay sandbox`` command can share one cache folder.
"""

from __future__ import annotations

import colorsys
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tikrelay.config.paths import fixtures_cache_dir
from tikrelay.media.ffmpeg import ffmpeg_path

# Bump when the recipes change so stale caches are not reused.
RECIPE_VERSION = "1"

IMAGE_FORMATS = ("jpeg", "webp", "heic")


def _atomic(target: Path, make: Callable[[Path], None]) -> Path:
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        make(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _ffmpeg(*parts: str | Path) -> Callable[[Path], None]:
    """An ffmpeg run; string parts are split on spaces, paths are kept whole."""
    args = [
        arg for part in parts for arg in ([str(part)] if isinstance(part, Path) else part.split())
    ]

    def run(out: Path) -> None:
        cmd = [str(ffmpeg_path()), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)

    return run


@dataclass(frozen=True)
class MediaFixtures:
    """Paths of the generated media; every file has content distinct from the others."""

    root: Path

    @classmethod
    def at(cls, root: Path | None = None) -> MediaFixtures:
        return cls((root or fixtures_cache_dir()) / f"v{RECIPE_VERSION}")

    def clean_video(self, variant: int = 0) -> Path:
        """A portrait H.264 + AAC MP4 (faststart), 1 s; ``variant`` changes the picture and tone."""
        hue = 200 + 37 * variant
        return _atomic(
            self.root / f"clean-{variant}.mp4",
            _ffmpeg(
                f"-f lavfi -i testsrc2=size=144x256:rate=15:duration=1,hue=h={hue}",
                f"-f lavfi -i sine=frequency={440 + 20 * variant}:duration=1",
                "-c:v libx264 -preset ultrafast -pix_fmt yuv420p",
                "-c:a aac -b:a 64k -shortest -movflags +faststart",
            ),
        )

    def silent_video(self, variant: int = 0) -> Path:
        """The clean clip's picture with no audio stream at all (a post whose file has no sound)."""
        return _atomic(
            self.root / f"silent-{variant}.mp4",
            _ffmpeg("-i", self.clean_video(variant), "-c:v copy -an -movflags +faststart"),
        )

    def watermarked_video(self, variant: int = 0) -> Path:
        """The same clip with a visible watermark box: what TikTok's ``downloadAddr`` serves."""
        return _atomic(
            self.root / f"watermarked-{variant}.mp4",
            _ffmpeg(
                "-i",
                self.clean_video(variant),
                "-vf drawbox=x=8:y=8:w=60:h=24:color=white@0.8:t=fill",
                "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a copy -movflags +faststart",
            ),
        )

    def hevc_video_only(self, variant: int = 0) -> Path:
        """A higher-resolution HEVC (hvc1) stream with no audio: the format-selection trap."""
        return _atomic(
            self.root / f"hevc-{variant}.mp4",
            _ffmpeg(
                "-f lavfi -i testsrc2=size=288x512:rate=15:duration=1",
                "-c:v libx265 -preset ultrafast -x265-params log-level=error",
                "-tag:v hvc1 -an -movflags +faststart",
            ),
        )

    def music(self, variant: int = 0) -> Path:
        """An MP3 sound (what ``music.playUrl`` serves)."""
        return _atomic(
            self.root / f"music-{variant}.mp3",
            _ffmpeg(
                f"-f lavfi -i sine=frequency={330 + 15 * variant}:duration=1",
                "-c:a libmp3lame -b:a 64k",
            ),
        )

    def image(self, index: int, fmt: str = "jpeg") -> Path:
        """A 360x640 image whose colour and label depend on ``index``; JPEG, WebP or HEIC."""
        if fmt not in IMAGE_FORMATS:
            raise ValueError(f"image format must be one of {IMAGE_FORMATS}, not {fmt!r}")
        suffix = {"jpeg": ".jpg", "webp": ".webp", "heic": ".heic"}[fmt]
        return _atomic(self.root / f"image-{index}{suffix}", lambda out: _draw(out, index, fmt))

    def big_file(self, size: int) -> Path:
        """A sparse-free file of ``size`` bytes (for upload-streaming tests), made without RAM."""

        def make(out: Path) -> None:
            chunk = bytes(range(256)) * 4096
            with out.open("wb") as fh:
                left = size
                while left > 0:
                    fh.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)

        return _atomic(self.root / f"big-{size}.bin", make)


def _draw(out: Path, index: int, fmt: str) -> None:
    from PIL import Image, ImageDraw

    r, g, b = colorsys.hsv_to_rgb((index * 0.137) % 1.0, 0.6, 0.9)
    img = Image.new("RGB", (360, 640), (int(r * 255), int(g * 255), int(b * 255)))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20 + index * 7 % 500, 340, 120 + index * 7 % 500), fill=(255, 255, 255))
    draw.text((40, 50 + index * 7 % 500), f"slide {index}", fill=(0, 0, 0))
    if fmt == "heic":
        from pillow_heif import from_pillow

        from_pillow(img).save(str(out), quality=60)
    else:
        img.save(out, format=fmt.upper(), quality=80)
