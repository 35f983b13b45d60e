"""Is a downloaded file what it claims to be: an image, audio, a video?

A server's Content-Type and a URL's extension are claims; the bytes decide. Files are checked
before anything is sent, so that an HTML error page, a JSON answer or another server's file never
reaches a chat as a photo, a sound or a video. Pillow decides images (decoding at a reduced size
where the format allows), PyAV audio and video, each against a short list of the containers and
codecs TikTok serves: FFmpeg opens almost anything (plain text as "tty" video, a HEIC image as
an MP4 with an HEVC stream), so "FFmpeg could open it" alone proves nothing.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

from tikrelay.domain.errors import ErrorKind, TikrelayError

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "GIF", "MPO", "AVIF"})
AUDIO_CODECS = frozenset({"mp3", "mp3float", "aac", "opus", "vorbis", "flac", "alac"})
# PyAV names a stream by its decoder: AV1 is read by libdav1d (or libaom).
VIDEO_CODECS = frozenset({"h264", "hevc", "vp9", "av1", "libdav1d", "libaom-av1", "vp8", "mpeg4"})
VIDEO_CONTAINERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "flv", "mpegts"})
_ATTACHED_PICTURE = 0x0400  # AV_DISPOSITION_ATTACHED_PIC: cover art, not a video track


class Content(StrEnum):
    IMAGE = "an image"
    AUDIO = "audio"
    VIDEO = "a video"


@cache
def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def check_content(path: Path, expected: Content, what: str) -> Path:
    """``path`` if it is ``expected``; else an UNSUPPORTED, final TikrelayError that says what
    ``what`` (e.g. "slide 2 of post 123") should have been and what arrived."""
    found = {Content.IMAGE: _image, Content.AUDIO: _audio, Content.VIDEO: _video}[expected](path)
    if found is not None:
        raise TikrelayError(
            ErrorKind.UNSUPPORTED,
            f"{what}: expected {expected.value}, got {found}",
            retryable=False,
        )
    return path


def describe(path: Path) -> str:
    """What ``path`` holds, in a few words, for error messages."""
    try:
        size = path.stat().st_size
    except OSError:
        return "no file"
    if size == 0:
        return "an empty file"
    if (image := _image_format(path)) is not None:
        return f"a {image} image"
    streams = _streams(path)
    if streams is not None:
        container, video, audio = streams
        if video in VIDEO_CODECS and container in VIDEO_CONTAINERS:
            return f"a video ({video})"
        if audio in AUDIO_CODECS:
            return f"audio ({audio})"
    with path.open("rb") as file:
        head = file.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return f"an HTML page ({size} bytes)"
    if head[:1] in (b"{", b"["):
        return f"JSON or text ({size} bytes)"
    if head.startswith(b"<"):
        return f"markup ({size} bytes)"
    return f"{size} bytes of something else"


def _image(path: Path) -> str | None:
    if _image_format(path, decode=True) is not None:
        return None
    if (claimed := _image_format(path)) is not None:
        return f"a {claimed} image that does not decode"
    return describe(path)


def _audio(path: Path) -> str | None:
    streams = _streams(path)
    if streams is None or streams[1] is not None or streams[2] not in AUDIO_CODECS:
        return describe(path)
    if _image_format(path) is not None:
        return describe(path)
    return None


def _video(path: Path) -> str | None:
    streams = _streams(path)
    if streams is None or streams[0] not in VIDEO_CONTAINERS or streams[1] not in VIDEO_CODECS:
        return describe(path)
    if _image_format(path) is not None:  # a HEIC image opens as an MP4 with an HEVC stream
        return describe(path)
    return None


def _image_format(path: Path, *, decode: bool = False) -> str | None:
    """Pillow's name for the image format, or None when Pillow cannot read it as an image."""
    from PIL import Image  # Pillow and PyAV load with the first file checked, not with polls

    _register_heif()
    try:
        with Image.open(path) as image:
            if image.format not in IMAGE_FORMATS:
                return None
            if decode:
                image.draft("RGB", (64, 64))  # JPEG decodes at 1/8 scale: enough to prove it
                image.load()
            return str(image.format)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _streams(path: Path) -> tuple[str, str | None, str | None] | None:
    """(container, first real video codec, first audio codec), or None when FFmpeg cannot open
    the file. Cover art attached to a sound file is not a video stream."""
    import av

    try:
        with av.open(str(path)) as container:
            video = next(
                (
                    s.codec_context.name
                    for s in container.streams.video
                    if not int(s.disposition) & _ATTACHED_PICTURE
                ),
                None,
            )
            audio = next((s.codec_context.name for s in container.streams.audio), None)
            return str(container.format.name), video, audio
    except (av.FFmpegError, OSError, ValueError):
        return None
