"""One video of a photo slideshow: the slides in order, each for an equal share of the sound.

Telegram has no "photos with music", so for ``slideshow: video`` the slides become an H.264 +
AAC MP4 that plays inline, checked and returned like a prepared video (:mod:`.video`).

- **Canvas.** A slideshow's slides usually share one size; where they do not, every slide is
  scaled to fit one canvas, its aspect ratio kept, and centred on black bars: never stretched,
  never cropped. The canvas has the first slide's shape, because the first slide is the cover:
  TikTok shows it first, Telegram previews the video by its first frame, and the thumbnail is
  :func:`~tikrelay.media.images.cover_thumbnail` of it, which then has the video's shape. It is
  shrunk to fit 1080x1920 (1920x1080 when the first slide is landscape), never enlarged, and
  its sides are rounded down to even numbers, which 4:2:0 H.264 needs.
- **Timing.** 10 frames a second: the picture changes only at a cut, and x264 spends its time
  per frame, so 25 would cost two and a half times as much for the same look; cuts land within
  0.1 s. Each slide gets an equal share of the sound's frames, and the video lasts as long as
  the sound, but never less than half a second a slide: with very many slides and a very short
  sound, the pictures run on after the sound ends. Without a sound, each slide shows for
  ``seconds_without_sound`` and the video is silent (no audio stream).
- **One ffmpeg run**, streaming: each slide is an input read and decoded once (``-r`` gives
  every picture a one-frame duration whatever its format claims: a HEIC's says a whole second,
  which the concat filter would otherwise honour and so shift every later cut), fitted onto the
  canvas, repeated for its frames (``loop``); the ``concat`` filter joins them; the sound, the
  last input, is copied when it is AAC and encoded to AAC otherwise. The concat demuxer (a list
  file with a duration per picture) is no faster: x264 dominates, and for 10 slides of
  1080x1920 it took 3 % less CPU (bench/slideshow.py). But it reads the slides as one stream, so
  ffmpeg rebuilds the filters whenever a slide's size changes, which, in ffmpeg 9, dropped
  slides (an ``fps`` filter loses its frame) or stretched them; it also needs every slide in one
  codec (a PNG among JPEGs fails). The price of one input per slide: ffmpeg opens them all at
  once, so each slide's fitted picture waits in memory for its turn, about 10 MB a 1080x1920
  slide besides x264's 150 MB (35 slides, TikTok's most: 530 MB, against 300 MB).

Files are written like every other prepared file (temporary name, then a rename), and an output
not older than any slide or the sound, playable, of the expected size, duration and audio, is
reused, so a retried job does not encode again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.files import is_fresh, write_atomically
from tikrelay.media.images import cover_thumbnail, upright_size
from tikrelay.media.probe import MediaInfo, MediaProbeError, probe

# The helpers every prepared video shares: run, checked and described alike.
from tikrelay.media.video import (
    DEFAULT_TIMEOUT_SECONDS,
    TelegramVideo,
    file_arg,
    made_video,
    output_info,
    playability_problem,
    run_ffmpeg,
)

#: Frames a second of a slideshow video (see the module's notes).
FRAME_RATE = 10
#: The canvas fits in this box, turned to match the first slide (1080x1920 or 1920x1080).
CANVAS_SHORT_SIDE = 1080
CANVAS_LONG_SIDE = 1920
#: Below this a slide flashes past unseen: the pictures then outlast a short sound.
_MIN_SLIDE_FRAMES = FRAME_RATE // 2
#: How far a reused video's duration may stray from the planned one (AAC frames, rounding).
_DURATION_SLACK_SECONDS = 0.5
_AUDIO_BITRATE = "128k"


@dataclass(frozen=True)
class _Timing:
    """How many frames each slide is shown for."""

    frames: tuple[int, ...]

    @classmethod
    def share(cls, slides: int, seconds: float) -> _Timing:
        """``seconds`` shared out equally (to the frame) among ``slides``."""
        total = max(round(seconds * FRAME_RATE), slides * _MIN_SLIDE_FRAMES)
        cuts = [index * total // slides for index in range(slides + 1)]
        return cls(tuple(end - start for start, end in itertools.pairwise(cuts)))

    @property
    def seconds(self) -> float:
        return sum(self.frames) / FRAME_RATE


def slideshow_video(
    images: Sequence[Path],
    sound: Path | None,
    out_dir: Path,
    *,
    ffmpeg: Path,
    seconds_without_sound: float = 3.0,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> TelegramVideo:
    """Make ``out_dir/<first slide's stem>.slideshow.mp4`` of ``images`` (and its thumbnail,
    ``<stem>.slideshow.thumb.jpg``, from the first slide): H.264 (8-bit 4:2:0) and AAC in an MP4
    with the index first, the slides in order on one canvas of the first slide's shape (at most
    1080x1920, others letterboxed), each for an equal share of ``sound``, whose length the video
    takes; without ``sound``, ``seconds_without_sound`` a slide and no audio stream.

    Slides are anything both Pillow and ffmpeg read (JPEG, PNG, WebP, HEIC); prepared JPEGs
    (:func:`~tikrelay.media.images.to_jpeg`) are what the reposter passes. An existing output is
    reused when it is not older than any input and matches the plan (see the module's notes).

    Raises TikrelayError: FORMAT_NOT_FOUND when there are no slides, a slide is not a readable
    image, or ``sound`` is not readable audio with a duration; SIZE_LIMIT when a slide has more
    pixels than Pillow will open; UNKNOWN (with the end of ffmpeg's error output) or DISK_FULL
    when ffmpeg fails; TIMEOUT when it runs longer than ``timeout`` seconds.
    """
    if not images:
        message = "a slideshow video needs at least one slide"
        raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, message, retryable=False)
    if not seconds_without_sound > 0:
        raise ValueError(f"seconds_without_sound must be above 0, not {seconds_without_sound}")
    # Every slide's header is read before ffmpeg starts, so that an unreadable one is named.
    sizes = [upright_size(image) for image in images]
    canvas = fit_canvas(*sizes[0])
    heard = _probe_sound(sound) if sound is not None else None
    if heard is not None and heard.duration:
        timing = _Timing.share(len(images), heard.duration)
    else:
        timing = _Timing.share(len(images), len(images) * seconds_without_sound)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = images[0].stem
    target = out_dir / f"{stem}.slideshow.mp4"
    inputs = [*images, *([sound] if sound is not None else [])]
    made = _reusable(target, inputs, canvas, timing, has_audio=heard is not None)
    if made is None:
        args = _ffmpeg_args(images, heard, canvas, timing)
        what = f"making a video of {len(images)} slides ({stem} first)"

        def make(tmp: Path) -> None:
            run_ffmpeg(ffmpeg, args, tmp, timeout=timeout, what=what)
            _check_output(tmp, what, has_audio=heard is not None)

        write_atomically(target, make)
        made = output_info(target)
    thumbnail = cover_thumbnail(images[0], out_dir / f"{stem}.slideshow.thumb.jpg")
    return made_video(made, thumbnail, remuxed=False, reasons=(_reason(timing, heard),))


def fit_canvas(width: int, height: int) -> tuple[int, int]:
    """The canvas for a first slide of ``width`` x ``height``: its shape, shrunk (never
    enlarged) to fit 1080x1920 or 1920x1080 as it is portrait or landscape, even sides."""
    box_w, box_h = (
        (CANVAS_SHORT_SIDE, CANVAS_LONG_SIDE)
        if width <= height
        else (CANVAS_LONG_SIDE, CANVAS_SHORT_SIDE)
    )
    factor = min(1.0, box_w / width, box_h / height)
    return _even(width * factor), _even(height * factor)


def _even(side: float) -> int:
    return max(2, math.floor(side) // 2 * 2)


def _probe_sound(sound: Path) -> MediaInfo:
    try:
        info = probe(sound)
    except (MediaProbeError, OSError) as exc:
        raise TikrelayError(
            ErrorKind.FORMAT_NOT_FOUND, f"{sound.name} is not a readable sound: {exc}"
        ) from exc
    if not info.has_audio:
        raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, f"{sound.name} has no audio stream")
    if not info.duration or info.duration <= 0:
        raise TikrelayError(ErrorKind.FORMAT_NOT_FOUND, f"{sound.name} has no duration")
    return info


def _ffmpeg_args(
    images: Sequence[Path], sound: MediaInfo | None, canvas: tuple[int, int], timing: _Timing
) -> list[str]:
    width, height = canvas
    rate = str(FRAME_RATE)
    args = [arg for image in images for arg in ("-r", rate, "-i", file_arg(image))]
    if sound is not None:
        args += ["-i", file_arg(sound.path)]
    # One frame of each picture (the first of an animation), limited range for H.264, centred.
    fit = (
        f"trim=end_frame=1,scale={width}:{height}:force_original_aspect_ratio=decrease"
        f":force_divisible_by=2:out_range=tv,format=yuv420p"
        f",pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:black,setsar=1"
    )
    chains = [
        f"[{index}:v:0]{fit},loop=loop={frames - 1}:size=1,settb=1/{rate},setpts=N[s{index}]"
        for index, frames in enumerate(timing.frames)
    ]
    slides = len(images)
    joined = "".join(f"[s{index}]" for index in range(slides)) + f"concat=n={slides}:v=1:a=0[v]"
    args += ["-filter_complex", ";".join([*chains, joined]), "-map", "[v]"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-tune", "stillimage"]
    args += ["-pix_fmt", "yuv420p", "-fps_mode", "cfr", "-r", rate]
    if sound is None:
        args += ["-an"]
    elif sound.audio_codec == "aac":
        args += ["-map", f"{slides}:a:0", "-c:a", "copy"]
    else:
        args += ["-map", f"{slides}:a:0", "-c:a", "aac", "-b:a", _AUDIO_BITRATE]
    return [*args, "-t", f"{timing.seconds:.3f}", "-movflags", "+faststart", "-f", "mp4"]


def _reusable(
    target: Path,
    inputs: Sequence[Path],
    canvas: tuple[int, int],
    timing: _Timing,
    *,
    has_audio: bool,
) -> MediaInfo | None:
    """The existing output, if a previous attempt finished it from these very inputs."""
    if not all(is_fresh(target, than=source) for source in inputs):
        return None
    try:
        info = probe(target)
    except (MediaProbeError, OSError):
        return None
    planned = (
        playability_problem(info) is None
        and info.has_audio == has_audio
        and (info.width, info.height) == canvas
        and abs((info.duration or 0.0) - timing.seconds) <= _DURATION_SLACK_SECONDS
    )
    return info if planned else None


def _check_output(made: Path, what: str, *, has_audio: bool) -> None:
    """Before the rename: the final name only ever holds a playable video."""
    try:
        info = probe(made)
    except (MediaProbeError, OSError) as exc:
        raise TikrelayError(ErrorKind.UNKNOWN, f"ffmpeg {what} made unreadable output") from exc
    problem = playability_problem(info)
    if problem is None and info.has_audio != has_audio:
        problem = "its audio stream is missing" if has_audio else "it has an audio stream"
    if problem is not None:
        raise TikrelayError(ErrorKind.UNKNOWN, f"ffmpeg finished {what} but {problem}")


def _reason(timing: _Timing, sound: MediaInfo | None) -> str:
    slides = len(timing.frames)
    each = timing.seconds / slides
    if sound is None:
        return f"{slides} slides made into a silent video, {each:.1f} s each"
    return f"{slides} slides made into a video with the sound, {each:.1f} s each"
