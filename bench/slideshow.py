"""Time to make one slideshow video of 10 slides (1080x1920 JPEGs) and a 30 s sound, against
plain ffmpeg command lines with the same settings.

    uv run python bench/slideshow.py [--slides 10] [--seconds 30] [--rounds 3]

- **tikrelay**: ``slideshow_video`` as the reposter calls it, into a fresh folder each round (so
  nothing is reused): it reads every slide's header with Pillow, probes the sound with PyAV,
  runs ffmpeg once, probes the result before renaming it into place, and makes the thumbnail.
- **ffmpeg**: the same ffmpeg command line typed by hand, run from this process with
  ``subprocess.run``: each slide an input (``-r 10``), fitted onto the 1080x1920 canvas and
  repeated for its frames (``loop``), joined by the ``concat`` filter; libx264 ``veryfast``,
  CRF 23, ``-tune stillimage``, 10 frames a second, the AAC sound copied, ``+faststart``. The
  ratio tikrelay / ffmpeg is what tikrelay adds around the encoder.
- **demuxer**: the other way to write it, the concat demuxer (an ``ffconcat`` list with a
  ``duration`` per picture, then ``scale,pad``, the frame rate set on the output), with the
  same encoder settings: the alternative slideshow.py was measured against, printed as its
  share of the filter graph's time. It is only right when every slide has the same size and
  codec, as here: ffmpeg rebuilds the filters at each change of size, which dropped or
  stretched slides in ffmpeg 9, and cannot switch codecs; the filter graph takes any mix.

Slides are gradients with noise (so x264 has real pictures to encode, not flat colour), each
with its own tint; the sound is a sine tone as AAC in M4A. Each round runs the three in turn;
the figures are medians over ``--rounds``, wall time and CPU time (this process and its
children), since a shared machine moves wall time more than CPU time. Checks: every output is
H.264 + AAC of the sound's duration (within 0.2 s). The last line is machine-readable:
``seconds tikrelay=<s> ffmpeg=<s> ratio=<tikrelay/ffmpeg> demuxer=<s>``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.probe import probe
from tikrelay.media.slideshow import FRAME_RATE, slideshow_video

WIDTH, HEIGHT = 1080, 1920
ENCODER = [
    *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-tune", "stillimage"),
    *("-pix_fmt", "yuv420p", "-fps_mode", "cfr", "-r", str(FRAME_RATE)),
]
FIT = (
    f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    f":out_range=tv,format=yuv420p,pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2:black,setsar=1"
)


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float


def make_inputs(folder: Path, slides: int, seconds: float) -> tuple[list[Path], Path]:
    pictures = []
    for index in range(slides):
        base = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
        noise = Image.effect_noise((WIDTH, HEIGHT), 40).convert("RGB")
        tint = Image.new("RGB", (WIDTH, HEIGHT), (index * 70 % 256, index * 130 % 256, 90))
        img = Image.blend(Image.blend(base, noise, 0.3), tint, 0.5)
        ImageDraw.Draw(img).text((100, 100 + index * 60), f"slide {index + 1}", fill="white")
        path = folder / f"slide-{index + 1:02d}.jpg"
        img.save(path, quality=90)
        pictures.append(path)
    sound = folder / "sound.m4a"
    tone = f"sine=frequency=440:duration={seconds}"
    ffmpeg(["-f", "lavfi", "-i", tone, "-c:a", "aac", "-b:a", "128k"], sound)
    return pictures, sound


def ffmpeg(args: list[str], out: Path) -> None:
    cmd = [str(ffmpeg_path()), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*cmd, *args, str(out)], check=True, stdin=subprocess.DEVNULL)


def filter_graph_args(slides: list[Path], sound: Path, seconds: float) -> list[str]:
    """The command line slideshow.py runs, written out by hand."""
    total = round(seconds * FRAME_RATE)
    cuts = [index * total // len(slides) for index in range(len(slides) + 1)]
    args = [arg for slide in slides for arg in ("-r", str(FRAME_RATE), "-i", str(slide))]
    chains = [
        f"[{i}:v:0]trim=end_frame=1,{FIT},loop=loop={cuts[i + 1] - cuts[i] - 1}:size=1"
        f",settb=1/{FRAME_RATE},setpts=N[s{i}]"
        for i in range(len(slides))
    ]
    joined = "".join(f"[s{i}]" for i in range(len(slides))) + f"concat=n={len(slides)}:v=1:a=0[v]"
    args += ["-i", str(sound), "-filter_complex", ";".join([*chains, joined]), "-map", "[v]"]
    args += ["-map", f"{len(slides)}:a:0", *ENCODER, "-c:a", "copy"]
    return [*args, "-t", f"{total / FRAME_RATE:.3f}", "-movflags", "+faststart", "-f", "mp4"]


def demuxer_args(listing: Path, sound: Path, seconds: float) -> list[str]:
    """The concat demuxer's way: one input that reads the pictures one after another."""
    args = ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(sound)]
    args += ["-map", "0:v:0", "-map", "1:a:0", "-vf", FIT]
    args += [*ENCODER, "-c:a", "copy", "-t", f"{seconds:.3f}", "-movflags", "+faststart"]
    return [*args, "-f", "mp4"]


def write_listing(folder: Path, slides: list[Path], seconds: float) -> Path:
    each = seconds / len(slides)
    lines = ["ffconcat version 1.0"]
    for slide in slides:
        lines += [f"file '{slide}'", f"duration {each:.6f}"]
    listing = folder / "slides.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def timed(work: Callable[[], Path], seconds: float) -> Timed:
    """Wall and CPU time of ``work`` (this process and the ffmpeg it waited for), after which
    its output is checked."""
    cpu_before = _cpu()
    started = time.perf_counter()
    made = work()
    wall = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    info = probe(made)
    duration = info.duration or 0.0
    if (info.video_codec, info.audio_codec) != ("h264", "aac") or abs(duration - seconds) > 0.2:
        raise SystemExit(f"{made.name}: {info.video_codec}/{info.audio_codec}, {duration:.2f} s")
    return Timed(wall, cpu)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(count: int, seconds: float, rounds: int) -> None:
    ffmpeg_bin = ffmpeg_path()
    with tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name:
        folder = Path(name)
        slides, sound = make_inputs(folder, count, seconds)
        listing = write_listing(folder, slides, seconds)
        size = sum(slide.stat().st_size for slide in slides)
        print(
            f"{count} slides of {WIDTH}x{HEIGHT} (JPEG, {size / 1e6:.1f} MB), a {seconds:g} s "
            f"AAC sound: {round(seconds * FRAME_RATE)} frames at {FRAME_RATE} fps"
        )
        print(f"{'round':>5} {'tikrelay s':>11} {'ffmpeg s':>9} {'ratio':>6} {'demuxer s':>10}")
        results: list[tuple[Timed, Timed, Timed]] = []
        for index in range(rounds):
            here = folder / f"round-{index + 1}"
            here.mkdir()

            def ours(here: Path = here) -> Path:
                return slideshow_video(slides, sound, here, ffmpeg=ffmpeg_bin).path

            def plain(here: Path = here) -> Path:
                ffmpeg(filter_graph_args(slides, sound, seconds), here / "plain.mp4")
                return here / "plain.mp4"

            def demuxer(here: Path = here) -> Path:
                ffmpeg(demuxer_args(listing, sound, seconds), here / "demuxer.mp4")
                return here / "demuxer.mp4"

            row = (timed(ours, seconds), timed(plain, seconds), timed(demuxer, seconds))
            results.append(row)
            tikrelay, baseline, other = row
            print(
                f"{index + 1:>5} {tikrelay.wall:>11.2f} {baseline.wall:>9.2f} "
                f"{tikrelay.wall / baseline.wall:>6.2f} {other.wall:>10.2f}",
                flush=True,
            )
    report(results)


def report(results: list[tuple[Timed, Timed, Timed]]) -> None:
    def median(column: int, cpu: bool = False) -> float:
        return statistics.median(row[column].cpu if cpu else row[column].wall for row in results)

    ours, plain, demuxer = median(0), median(1), median(2)
    ours_cpu, plain_cpu, demuxer_cpu = median(0, True), median(1, True), median(2, True)
    print(
        f"median wall: tikrelay {ours:.2f} s, plain ffmpeg {plain:.2f} s, ratio "
        f"{ours / plain:.2f}; concat demuxer {demuxer:.2f} s ({demuxer / plain:.2f}x the "
        "filter graph)"
    )
    print(
        f"median CPU:  tikrelay {ours_cpu:.2f} s, plain ffmpeg {plain_cpu:.2f} s, ratio "
        f"{ours_cpu / plain_cpu:.2f}; concat demuxer {demuxer_cpu:.2f} s "
        f"({demuxer_cpu / plain_cpu:.2f}x the filter graph)"
    )
    print(
        f"seconds tikrelay={ours:.2f} ffmpeg={plain:.2f} ratio={ours / plain:.2f} "
        f"demuxer={demuxer:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0, help="the sound's length")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if min(args.slides, args.rounds) < 1 or args.seconds * FRAME_RATE < args.slides:
        parser.error("--slides and --rounds must be at least 1, and the sound long enough")
    measure(args.slides, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
