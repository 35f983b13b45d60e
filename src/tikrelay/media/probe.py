"""Media inspection (container, codecs, dimensions, duration, size) through PyAV.

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
            return MediaInfo(
                path=path,
                size=path.stat().st_size,
                container=container.format.name,
                video_codec=video.codec_context.name if video else None,
                audio_codec=audio.codec_context.name if audio else None,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                duration=duration,
            )
    except av.FFmpegError as exc:
        raise MediaProbeError(f"{path.name} is not readable media: {exc}") from exc
