"""Videos Telegram plays inline: MP4 with H.264 (+ AAC or no audio), moov first, a thumbnail.

Between "downloaded" and "sent": :func:`prepare_video` copies streams that are already right and
re-encodes only what is not, :func:`validate_video` checks the result before it is uploaded.

Every file is written under a hidden temporary name (``.<final name>.<random>.part``) in the output
folder and renamed into place, so a crash never leaves a half file under the final name; leftovers
of a killed process keep that pattern and can be swept by whoever cleans the media cache.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import structlog

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.files import is_fresh, write_atomically
from tikrelay.media.probe import MediaInfo, MediaProbeError, probe

log = structlog.get_logger("tikrelay.media")

#: Telegram's limits for a video thumbnail: JPEG, at most 320 px a side, under 200 kB.
THUMBNAIL_MAX_SIDE = 320
THUMBNAIL_MAX_BYTES = 200 * 1000
#: The thumbnail frame is taken this far in (or a quarter of a shorter clip): the very first frame
#: of a clip is often a fade from black.
THUMBNAIL_OFFSET_SECONDS = 1.0
_THUMBNAIL_QUALITIES = (4, 10, 20, 31)  # ffmpeg's -q:v for MJPEG: 2 is best, 31 smallest
#: Long enough for a 10-minute 1080p clip on a small machine; an ffmpeg that hangs still ends.
DEFAULT_TIMEOUT_SECONDS = 1200.0

_PLAYABLE_AUDIO = frozenset({"aac"})
#: 8-bit 4:2:0, what every player decodes (yuvj420p: the same, full range).
_PLAYABLE_PIXELS = frozenset({"yuv420p", "yuvj420p"})
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_STDERR_LINES = 8
#: Telegram states its limits in decimal megabytes (50 MB is 50,000,000 bytes).
_MB = 1000 * 1000


@dataclass(frozen=True)
class TelegramVideo:
    """A prepared video. ``remuxed``: every stream was copied, none re-encoded; ``reencoded``: at
    least one stream (the video, the audio or both) went through an encoder. Dimensions and
    duration are those of ``path``, the file that is sent."""

    path: Path
    width: int
    height: int
    duration: float
    thumbnail: Path | None
    size: int
    remuxed: bool
    reencoded: bool
    has_audio: bool = True
    reasons: tuple[str, ...] = ()  # why anything was re-encoded (nothing: only remuxed)


@dataclass(frozen=True)
class _Plan:
    """What to do with a source, and why: every stream copied unless it would not play."""

    copy_video: bool
    audio: str  # "copy", "encode" or "none"
    reasons: tuple[str, ...] = ()
    video_tag: str | None = None  # set on a copied stream (ffmpeg would tag HEVC hev1)

    @classmethod
    def for_source(cls, info: MediaInfo, *, hevc: bool = False) -> _Plan:
        video: list[str] = []
        sound: list[str] = []
        if not _friendly_codec(info, hevc=hevc):
            allowed = "H.264 or HEVC tagged hvc1" if hevc else "H.264"
            video.append(f"video codec {info.video_codec} (tag {info.codec_tag}) is not {allowed}")
        elif info.pixel_format not in _PLAYABLE_PIXELS:
            video.append(
                f"pixel format {info.pixel_format} ({info.profile}) does not play everywhere; "
                "8-bit 4:2:0 does"
            )
        if info.rotation:
            # Players that ignore the display matrix would show it on its side: turn the
            # pixels upright instead (ffmpeg applies the matrix when it decodes).
            video.append(f"rotated {info.rotation} degrees by its display matrix: turned upright")
        if not info.has_audio:
            audio = "none"
        elif info.audio_codec in _PLAYABLE_AUDIO:
            audio = "copy"
        else:
            audio = "encode"
            sound.append(f"audio codec {info.audio_codec} is not AAC")
        tag = "hvc1" if not video and info.video_codec == "hevc" else None
        return cls(copy_video=not video, audio=audio, reasons=tuple(video + sound), video_tag=tag)

    @property
    def remuxed(self) -> bool:
        return self.copy_video and self.audio != "encode"

    def codec_args(self) -> list[str]:
        args = ["-map", "0:v:0"]
        if self.copy_video:
            args += ["-c:v", "copy"]
            if self.video_tag:
                args += ["-tag:v", self.video_tag]
        else:
            # libx264 with yuv420p needs even dimensions; odd ones would make it refuse the frame.
            args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
            args += ["-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"]
        if self.audio == "none":
            args += ["-an"]
        else:
            args += ["-map", "0:a:0", "-c:a", "copy" if self.audio == "copy" else "aac"]
            if self.audio == "encode":
                args += ["-b:a", "128k"]
        return args


def _friendly_codec(info: MediaInfo, *, hevc: bool) -> bool:
    """H.264; or, where HEVC is allowed, HEVC tagged hvc1 (hev1 keeps its parameter sets in the
    stream, which Apple's players refuse)."""
    if info.video_codec == "h264":
        return True
    return hevc and info.video_codec == "hevc" and info.codec_tag == "hvc1"


def prepare_video(
    source: Path,
    out_dir: Path,
    *,
    ffmpeg: Path,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    hevc: bool = False,
) -> TelegramVideo:
    """Make ``out_dir/<source stem>.telegram.mp4`` (and ``<stem>.thumb.jpg``) from ``source``;
    with ``hevc``, an HEVC source tagged hvc1 is kept too (``<stem>.telegram-hevc.mp4``).

    An H.264 source with AAC or no audio is only remuxed (``-c copy``) into MP4 with
    ``+faststart``; any other video codec is re-encoded with libx264, any other audio codec with
    AAC, each stream independently. An existing output that is valid and not older than the
    source is reused, so a retried job does not redo the work.

    Raises TikrelayError: FORMAT_NOT_FOUND when the source is unreadable or has no video stream,
    UNKNOWN (with the end of ffmpeg's error output) when ffmpeg fails, TIMEOUT when it runs longer
    than ``timeout`` seconds.
    """
    info = _probe_source(source)
    plan = _Plan.for_source(info, hevc=hevc)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept_hevc = plan.copy_video and info.video_codec == "hevc"
    target = out_dir / f"{source.stem}.telegram{'-hevc' if kept_hevc else ''}.mp4"
    made = _reusable(target, source, want_audio=info.has_audio, hevc=kept_hevc)
    if made is None:
        args = ["-i", file_arg(source), *plan.codec_args(), "-movflags", "+faststart", "-f", "mp4"]
        what = f"converting {source.name}"
        checked: list[MediaInfo] = []

        def convert(tmp: Path) -> None:
            run_ffmpeg(ffmpeg, args, tmp, timeout=timeout, what=what)
            # Before the rename: the final name only holds good files.
            checked.append(_check_output(tmp, source, hevc=kept_hevc))

        write_atomically(target, convert)
        made = replace(checked[-1], path=target)
    thumbnail = _thumbnail(target, made, out_dir / f"{target.stem}.thumb.jpg", ffmpeg, timeout)
    return made_video(made, thumbnail, remuxed=plan.remuxed, reasons=plan.reasons)


def made_video(
    made: MediaInfo, thumbnail: Path | None, *, remuxed: bool, reasons: tuple[str, ...]
) -> TelegramVideo:
    """The prepared file as sent: its own dimensions, duration and size."""
    return TelegramVideo(
        path=made.path,
        width=made.width or 0,
        height=made.height or 0,
        duration=made.duration or 0.0,
        thumbnail=thumbnail,
        size=made.size,
        remuxed=remuxed,
        reencoded=not remuxed,
        has_audio=made.has_audio,
        reasons=reasons,
    )


def validate_video(video: TelegramVideo, *, max_bytes: int, hevc: bool = False) -> None:
    """Probe the prepared file again: H.264 video (or, with ``hevc``, HEVC tagged hvc1), AAC or
    no audio, a duration, within ``max_bytes``. Raises TikrelayError (SIZE_LIMIT,
    FORMAT_NOT_FOUND, or UNKNOWN when the file is gone or unreadable, which a new attempt can fix
    by preparing it again)."""
    try:
        info = probe(video.path)
    except (MediaProbeError, OSError) as exc:
        raise TikrelayError(
            ErrorKind.UNKNOWN, f"prepared video {video.path.name} cannot be read: {exc}"
        ) from exc
    problem = playability_problem(info, hevc=hevc)
    if problem is not None:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND,
            f"prepared video {video.path.name} is not playable in Telegram: {problem}",
        )
    if info.size > max_bytes:
        raise TikrelayError(
            ErrorKind.SIZE_LIMIT,
            f"video {video.path.name} is {_megabytes(info.size)}, the limit is "
            f"{_megabytes(max_bytes)} ({info.size} > {max_bytes} bytes); a local Bot API server "
            "raises the limit to 2000 MB",
        )


def _probe_source(source: Path) -> MediaInfo:
    try:
        info = probe(source)
    except (MediaProbeError, OSError) as exc:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, f"{source.name} is not a readable video: {exc}"
        ) from exc
    if not info.has_video:
        found = f"only {info.audio_codec} audio" if info.has_audio else "no streams"
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, f"{source.name} has no video stream ({found})"
        )
    return info


def playability_problem(info: MediaInfo, *, hevc: bool = False) -> str | None:
    if not _friendly_codec(info, hevc=hevc):
        allowed = "h264 or hvc1 hevc" if hevc else "h264"
        return f"video codec is {info.video_codec or 'missing'}, not {allowed}"
    if info.pixel_format not in _PLAYABLE_PIXELS:
        return f"pixel format is {info.pixel_format}, not 8-bit 4:2:0"
    if info.rotation:
        return f"it is rotated {info.rotation}° by its display matrix"
    if info.has_audio and info.audio_codec not in _PLAYABLE_AUDIO:
        return f"audio codec is {info.audio_codec}, not aac"
    if not info.duration or info.duration <= 0:
        return "it has no duration"
    if not info.width or not info.height:
        return "it has no picture size"
    return None


def _reusable(
    target: Path, source: Path, *, want_audio: bool, hevc: bool = False
) -> MediaInfo | None:
    """The existing output, if a previous attempt finished it from this very source."""
    if not is_fresh(target, than=source):
        return None
    try:
        info = probe(target)
    except (MediaProbeError, OSError):
        return None
    if playability_problem(info, hevc=hevc) is not None or info.has_audio != want_audio:
        return None
    return info


def _check_output(made: Path, source: Path, *, hevc: bool = False) -> MediaInfo:
    """What ffmpeg made, probed once: readable, with usable video frames, playable."""
    try:
        info = probe(made)
    except (MediaProbeError, OSError) as exc:
        raise TikrelayError(
            ErrorKind.UNKNOWN, f"ffmpeg converted {source.name} into unreadable output: {exc}"
        ) from exc
    if not info.has_video:
        # ffmpeg drops what it cannot use (e.g. frames before the first keyframe): nothing left.
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, f"the video stream of {source.name} has no usable frames"
        )
    problem = playability_problem(info, hevc=hevc)
    if problem is not None:
        raise TikrelayError(ErrorKind.UNKNOWN, f"ffmpeg converted {source.name} but {problem}")
    return info


def output_info(target: Path) -> MediaInfo:
    try:
        return probe(target)
    except (MediaProbeError, OSError) as exc:  # removed or replaced since the rename
        raise TikrelayError(ErrorKind.UNKNOWN, f"{target.name} cannot be read: {exc}") from exc


def _thumbnail(
    video: Path, info: MediaInfo, target: Path, ffmpeg: Path, timeout: float
) -> Path | None:
    """A JPEG within 320x320 (never upscaled) from a frame near the start; None without frames."""
    if is_fresh(target, than=video) and 0 < target.stat().st_size < THUMBNAIL_MAX_BYTES:
        return target
    offset = min(THUMBNAIL_OFFSET_SECONDS, (info.duration or 0.0) / 4)
    what = f"taking a thumbnail of {video.name}"
    # Fall back to the first frame: a seek past the last decodable frame yields nothing.
    for start in dict.fromkeys((offset, 0.0)):
        # Lower quality only if a very detailed frame comes out too big for Telegram.
        for quality in _THUMBNAIL_QUALITIES:
            args = _thumbnail_args(video, start, quality)
            try:
                write_atomically(
                    target, partial(run_ffmpeg, ffmpeg, args, timeout=timeout, what=what)
                )
            except TikrelayError as exc:
                if exc.kind is ErrorKind.TIMEOUT:
                    raise
                log.info("no thumbnail frame here", video=video.name, start=start, error=str(exc))
                break
            if target.stat().st_size < THUMBNAIL_MAX_BYTES:
                return target
    target.unlink(missing_ok=True)
    log.warning("video has no frame to take a thumbnail from", video=video.name)
    return None


def _thumbnail_args(video: Path, start: float, quality: int) -> list[str]:
    # Full-range 4:2:0 whatever the video's pixel format: what the MJPEG encoder accepts.
    fit = (
        f"scale='min({THUMBNAIL_MAX_SIDE},iw)':'min({THUMBNAIL_MAX_SIDE},ih)'"
        ":force_original_aspect_ratio=decrease:out_range=full,format=yuv420p"
    )
    return [
        *("-ss", f"{start:.3f}", "-i", file_arg(video), "-frames:v", "1", "-an", "-vf", fit),
        *("-c:v", "mjpeg", "-q:v", str(quality), "-f", "image2", "-update", "1"),
    ]


def run_ffmpeg(ffmpeg: Path, args: Sequence[str], out: Path, *, timeout: float, what: str) -> None:
    cmd = [
        str(ffmpeg),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *args,
        file_arg(out),
    ]
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TikrelayError(
            ErrorKind.TIMEOUT, f"ffmpeg {what} did not finish within {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise TikrelayError(ErrorKind.UNKNOWN, f"cannot run ffmpeg {ffmpeg}: {exc}") from exc
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = "\n".join(lines[-_STDERR_LINES:]) or "no error output"
        # ffmpeg exits with its AVERROR, i.e. minus the errno, as a byte.
        full = done.returncode in {-code & 0xFF for code in _DISK_FULL_ERRNOS}
        raise TikrelayError(
            ErrorKind.DISK_FULL if full else ErrorKind.UNKNOWN,
            f"ffmpeg failed {what} (exit code {done.returncode}):\n{tail}",
        )


def file_arg(path: Path) -> str:
    # Absolute, so that a name such as "clip:1.mp4" is never taken for an ffmpeg protocol.
    return str(path.absolute())


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f}".removesuffix(".0") + " MB"


#: Audio kept in a compressed video: enough for speech and music on a phone.
_FIT_AUDIO_BPS = 64_000
#: A one-pass encode lands near its bitrate, not on it: aim this far below the limit, and try
#: once more, lower, if it still does not fit.
_FIT_MARGINS = (0.85, 0.65)
#: The short side is kept at least this long where the source has it.
_FIT_MIN_SHORT_SIDE = 480


def fit_video(
    video: TelegramVideo,
    out_dir: Path,
    *,
    max_bytes: int,
    ffmpeg: Path,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> TelegramVideo:
    """``video`` itself if it fits in ``max_bytes``, else a re-encode that does: a video bitrate
    from the duration and the limit (after the audio's), the duration kept, the short side kept
    down to 480 px where the source has more, the sound kept. Raises SIZE_LIMIT when even that
    cannot fit."""
    if video.size <= max_bytes:
        return video
    duration = max(video.duration, 0.1)
    short = min(video.width, video.height)
    side = min(short, max(_FIT_MIN_SHORT_SIDE, short // 2))
    audio = _FIT_AUDIO_BPS if video.has_audio else 0
    target = out_dir / f"{video.path.stem.removesuffix('.telegram')}.fit.mp4"
    for margin in _FIT_MARGINS:
        video_bps = int(max_bytes * 8 * margin / duration) - audio
        if video_bps < 16_000:
            break
        args = _fit_args(video, video_bps, side)
        what = f"compressing {video.path.name} to {max_bytes} bytes"
        checked: list[MediaInfo] = []

        def convert(
            tmp: Path, args: list[str] = args, what: str = what, checked: list[MediaInfo] = checked
        ) -> None:
            run_ffmpeg(ffmpeg, args, tmp, timeout=timeout, what=what)
            checked.append(_check_output(tmp, video.path))

        write_atomically(target, convert)
        made = replace(checked[-1], path=target)
        if made.size <= max_bytes:
            thumbnail = _thumbnail(
                target, made, out_dir / f"{target.stem}.thumb.jpg", ffmpeg, timeout
            )
            fitted = (
                f"{video.size:,} bytes is over the {max_bytes:,}-byte upload limit: "
                f"re-encoded at {video_bps // 1000} kbit/s video "
                f"({video.size * 8 // max(int(duration), 1) // 1000} kbit/s before)"
            )
            return made_video(made, thumbnail, remuxed=False, reasons=(*video.reasons, fitted))
    raise TikrelayError(
        ErrorKind.SIZE_LIMIT,
        f"video {video.path.name} is {_megabytes(video.size)} and cannot be compressed to fit "
        f"the {_megabytes(max_bytes)} upload limit",
        retryable=False,
    )


def _fit_args(video: TelegramVideo, video_bps: int, side: int) -> list[str]:
    # Scale so that the short side is ``side`` (never up), even dimensions for yuv420p.
    if video.width <= video.height:
        scale = f"scale='min({side},iw)':-2"
    else:
        scale = f"scale=-2:'min({side},ih)'"
    args = ["-i", file_arg(video.path), "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast"]
    args += ["-b:v", str(video_bps), "-maxrate", str(video_bps), "-bufsize", str(2 * video_bps)]
    args += ["-pix_fmt", "yuv420p", "-vf", scale]
    if video.has_audio:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(_FIT_AUDIO_BPS)]
    else:
        args += ["-an"]
    return [*args, "-movflags", "+faststart", "-f", "mp4"]
