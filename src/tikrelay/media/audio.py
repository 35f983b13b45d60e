"""A sound Telegram plays in its music player: MP3, or AAC in an M4A file. Anything else that
FFmpeg reads (Opus in WebM, FLAC, the sound of a video) is converted to AAC once."""

from __future__ import annotations

from pathlib import Path

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.files import is_fresh, write_atomically
from tikrelay.media.probe import MediaProbeError, probe
from tikrelay.media.video import file_arg, run_ffmpeg

#: (container as FFmpeg names it, audio codec) pairs sent as they are.
_PLAYABLE = {
    ("mp3", "mp3"),
    ("mp3", "mp3float"),  # FFmpeg's floating-point MP3 decoder
    ("mov,mp4,m4a,3gp,3g2,mj2", "aac"),
}
AUDIO_BITRATE = "160k"
_TIMEOUT = 600.0


def playable_audio(source: Path, out: Path, *, ffmpeg: Path) -> Path:
    """``source`` if Telegram plays it as music as it is, else its sound as ``out/sound.m4a``
    (AAC; copied when it is AAC already, in a video or another container)."""
    try:
        info = probe(source)
    except MediaProbeError as exc:
        raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, str(exc), retryable=False) from exc
    if info.audio_codec is None:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, "the media has no sound to send", retryable=False
        )
    if not info.has_video and (info.container, info.audio_codec) in _PLAYABLE:
        return source
    out.mkdir(parents=True, exist_ok=True)
    target = out / "sound.m4a"
    if is_fresh(target, than=source):
        return target  # made before, for another chat
    codec = ["copy"] if info.audio_codec == "aac" else ["aac", "-b:a", AUDIO_BITRATE]
    args = ["-i", file_arg(source), "-map", "0:a:0", "-vn", "-c:a", *codec, "-f", "ipod"]
    what = "making the sound playable"
    write_atomically(target, lambda tmp: run_ffmpeg(ffmpeg, args, tmp, timeout=_TIMEOUT, what=what))
    return target
