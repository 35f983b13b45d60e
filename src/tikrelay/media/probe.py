"""Media inspection (container, codecs and tags, profile, pixel format, rotation, dimensions,
duration, size) through PyAV.

PyAV reads the streams with FFmpeg's own demuxers and returns typed values, so no text output of a
command has to be parsed, and it works without an ``ffprobe`` binary (the bundled ffmpeg has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


class MediaProbeError(ValueError):
    """The file is not media that FFmpeg can read."""


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    size: int
    container: str
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    duration: float | None
    pixel_format: str | None = None  # e.g. yuv420p, yuv420p10le
    profile: str | None = None  # e.g. High, High 10, Main
    codec_tag: str | None = None  # e.g. avc1, hvc1, hev1
    rotation: int = 0  # degrees a player turns the picture (display matrix), counter-clockwise

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def probe(path: Path) -> MediaInfo:
    """Inspect ``path``; raise MediaProbeError if it is not readable media."""
    try:
        with av.open(str(path)) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            duration = container.duration / av.time_base if container.duration else None
            context = video.codec_context if video else None
            return MediaInfo(
                path=path,
                size=path.stat().st_size,
                container=container.format.name,
                video_codec=video.codec_context.name if video else None,
                audio_codec=audio.codec_context.name if audio else None,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                duration=duration,
                pixel_format=context.format.name if context and context.format else None,
                profile=context.profile if context else None,
                codec_tag=video.codec_tag or None if video else None,
                rotation=_rotation(container, video) if video else 0,
            )
    except av.FFmpegError as exc:
        raise MediaProbeError(f"{path.name} is not readable media: {exc}") from exc


def _rotation(container: av.container.InputContainer, video: av.VideoStream) -> int:
    """The display matrix's rotation, read from the first frame (PyAV has it only there)."""
    try:
        frame = next(container.decode(video), None)
    except av.FFmpegError:
        return 0
    return int(frame.rotation) % 360 if frame is not None else 0
