"""Time to fit an over-limit video under Telegram's upload limit, against plain ffmpeg running
the very same command lines.

    uv run python bench/size_fit.py [--seconds 4] [--limit-mb 50] [--rounds 3]

The input is a noisy 540x960 H.264/AAC clip made with the bundled ffmpeg (``testsrc2`` with
temporal noise, x264 ``ultrafast`` at CRF 10: about 59 MB for 4 s at 30 fps), over the cloud
Bot API's 50 MiB (52,428,800 bytes, what ``upload_limit`` gives the reposter), so that it has to
be re-encoded.

- **tikrelay**: what the reposter does with a downloaded video that is too big, into a fresh
  folder each round (so nothing is reused): ``prepare_video`` (a probe, a ``-c copy`` remux into
  MP4 with ``+faststart``, a probe of the result, a thumbnail), then ``fit_video`` with the limit
  (a bitrate from the duration and the limit, the short side scaled to 480 px, libx264
  ``veryfast``, the probes before and after the rename, the thumbnail of the result).
- **ffmpeg**: the same ffmpeg command lines, argument for argument, run one after another with
  ``subprocess.run`` from this process, each writing to a fresh file. They are recorded once,
  before the timed rounds, by running tikrelay against a tiny shell script in place of ffmpeg
  that appends its argv to a log and execs the real binary; that run is untimed and its output
  folder is where the recorded inputs (the remuxed copy, the fitted file) live. The ratio
  tikrelay / ffmpeg is what tikrelay adds around the encoder: PyAV probes, renames, Python.

Each round runs both, in turn (which goes first alternates, so that neither always meets a
warmer or busier machine); the figures are medians over ``--rounds``: wall time, and CPU time
of this process and of its children (ffmpeg, read from ``RUSAGE_CHILDREN``), since a shared
machine moves wall time more than CPU time. Checks: tikrelay's result is H.264/AAC within the
limit and the duration of the input (within 0.2 s), and the plain encode's output is as large
as tikrelay's (x264 is deterministic for the same arguments). Target: tikrelay within 1.05x the
plain ffmpeg. The last line is machine-readable:
``seconds tikrelay=<s> ffmpeg=<s> ratio=<tikrelay/ffmpeg> cpu_ratio=<tikrelay/ffmpeg>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.media.probe import probe
from tikrelay.media.video import TelegramVideo, fit_video, prepare_video

WIDTH, HEIGHT, FPS = 540, 960, 30
MIB = 1024 * 1024
TARGET = 1.05
_END = "--end-of-call--"  # closes one call's argv in the log; ffmpeg never takes it


@dataclass(frozen=True)
class Timed:
    wall: float
    own_cpu: float  # this process: Python, PyAV probes
    ffmpeg_cpu: float  # its children


@dataclass(frozen=True)
class Recorded:
    """The ffmpeg command lines tikrelay ran, without the binary, in order."""

    prepare: list[list[str]]
    fit: list[list[str]]
    fitted: TelegramVideo


def make_input(folder: Path, seconds: float, noise: int) -> Path:
    clip = folder / "clip.mp4"
    picture = f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={seconds},noise=alls={noise}:allf=t"
    args = ["-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", f"sine=frequency=440:d={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "4", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart"]
    ffmpeg_run([str(ffmpeg_path()), "-nostdin", "-loglevel", "error", "-y", *args, str(clip)])
    return clip


def ffmpeg_run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def recording_ffmpeg(folder: Path, real: Path) -> tuple[Path, Path]:
    """A stand-in for ffmpeg that logs its argv (NUL-separated) and execs the real one."""
    log = folder / "ffmpeg-calls.log"
    script = folder / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        f"{{ printf '%s\\0' \"$@\"; printf '%s\\0' {_END}; }} >> {shlex.quote(str(log))}\n"
        f'exec {shlex.quote(str(real))} "$@"\n'
    )
    script.chmod(0o755)
    return script, log


def read_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    calls: list[list[str]] = [[]]
    for arg in log.read_text().split("\0")[:-1]:
        if arg == _END:
            calls.append([])
        else:
            calls[-1].append(arg)
    return calls[:-1]


def tikrelay(source: Path, out: Path, limit: int, ffmpeg: Path) -> tuple[TelegramVideo, float]:
    """The reposter's steps; the result and the seconds ``prepare_video`` took."""
    started = time.perf_counter()
    video = prepare_video(source, out, ffmpeg=ffmpeg)
    prepared = time.perf_counter() - started
    return fit_video(video, out, max_bytes=limit, ffmpeg=ffmpeg), prepared


def record(source: Path, folder: Path, limit: int, real: Path) -> Recorded:
    """One untimed tikrelay run through the recording stand-in."""
    stand_in, log = recording_ffmpeg(folder, real)
    out = folder / "recorded"
    video = prepare_video(source, out, ffmpeg=stand_in)
    prepare = read_calls(log)
    fitted = fit_video(video, out, max_bytes=limit, ffmpeg=stand_in)
    calls = read_calls(log)
    if len(calls) == len(prepare):
        raise SystemExit(f"tikrelay ran no size-fit encode (ffmpeg calls: {len(calls)})")
    return Recorded(prepare, calls[len(prepare) :], fitted)


def replay(calls: list[list[str]], out: Path, real: Path) -> Path | None:
    """Run each recorded command line with a fresh output (its last argument); the output of
    the last encode (the last ``libx264`` call)."""
    encoded = None
    for index, call in enumerate(calls):
        made = out / f"plain-{index}"  # each call names its format (-f mp4, -f image2)
        ffmpeg_run([str(real), *call[:-1], str(made)])
        if "libx264" in call:
            encoded = made
    return encoded


def timed(work: Callable[[], object]) -> Timed:
    own, children = _cpu()
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    own_after, children_after = _cpu()
    return Timed(wall, own_after - own, children_after - children)


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def check(fitted: TelegramVideo, limit: int, seconds: float) -> None:
    info = probe(fitted.path)
    duration = info.duration or 0.0
    if (info.video_codec, info.audio_codec) != ("h264", "aac") or abs(duration - seconds) > 0.2:
        raise SystemExit(f"{fitted.path.name}: {info.video_codec}/{info.audio_codec}, {duration}")
    if info.size > limit:
        raise SystemExit(f"{fitted.path.name} is {info.size:,} bytes, over {limit:,}")


def measure(seconds: float, noise: int, limit: int, rounds: int) -> None:
    real = ffmpeg_path()
    with tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name:
        folder = Path(name)
        source = make_input(folder, seconds, noise)
        size = source.stat().st_size
        if size <= limit:
            raise SystemExit(
                f"the clip is {size:,} bytes, within the {limit:,}-byte limit: nothing to fit; "
                "pass a lower --limit-mb or a longer --seconds"
            )
        recorded = record(source, folder, limit, real)
        encodes = sum("libx264" in call for call in recorded.fit)
        fitted = recorded.fitted
        print(
            f"input: {WIDTH}x{HEIGHT} H.264/AAC, {seconds:g} s at {FPS} fps, {size / MIB:.1f} MiB "
            f"({size:,} bytes); limit {limit / MIB:g} MiB ({limit:,} bytes)"
        )
        print(
            f"tikrelay ran ffmpeg {len(recorded.prepare)} times to prepare and "
            f"{len(recorded.fit)} to fit ({encodes} encode(s)): {fitted.width}x{fitted.height}, "
            f"{fitted.size / MIB:.1f} MiB"
        )
        print("the fit encode: ffmpeg " + " ".join(_show(recorded.fit[0])))
        print(
            f"{'round':>5} {'tikrelay s':>11} {'ffmpeg s':>9} {'ratio':>6} | "
            f"{'prepare':>7} {'fit':>6} | {'CPU tikrelay':>12} {'CPU ffmpeg':>10}"
        )
        results: list[tuple[Timed, Timed, float]] = []
        for index in range(rounds):
            here = folder / f"round-{index + 1}"
            (here / "plain").mkdir(parents=True)
            made: list[tuple[TelegramVideo, float]] = []
            plain_made: list[Path | None] = []

            def ours(here: Path = here, made: list[tuple[TelegramVideo, float]] = made) -> None:
                made.append(tikrelay(source, here / "tikrelay", limit, real))

            def plain(here: Path = here, got: list[Path | None] = plain_made) -> None:
                got.append(replay([*recorded.prepare, *recorded.fit], here / "plain", real))

            if index % 2:
                baseline, mine = timed(plain), timed(ours)
            else:
                mine, baseline = timed(ours), timed(plain)
            ours_video, prepare_s = made[0]
            check(ours_video, limit, seconds)
            plain_out = plain_made[0]
            plain_size = plain_out.stat().st_size if plain_out else 0
            # x264's rate control with threads is deterministic only to a few kB.
            if abs(plain_size - ours_video.size) > ours_video.size / 100:
                raise SystemExit(
                    f"plain encode made {plain_size:,} bytes, tikrelay {ours_video.size:,}"
                )
            results.append((mine, baseline, prepare_s))
            print(
                f"{index + 1:>5} {mine.wall:>11.2f} {baseline.wall:>9.2f} "
                f"{mine.wall / baseline.wall:>6.2f} | {prepare_s:>7.2f} "
                f"{mine.wall - prepare_s:>6.2f} | {mine.own_cpu + mine.ffmpeg_cpu:>12.2f} "
                f"{baseline.own_cpu + baseline.ffmpeg_cpu:>10.2f}",
                flush=True,
            )
    report(results)


def _show(call: list[str]) -> list[str]:
    return [Path(arg).name if os.sep in arg else arg for arg in call]


def report(results: list[tuple[Timed, Timed, float]]) -> None:
    def median(pick: Callable[[tuple[Timed, Timed, float]], float]) -> float:
        return statistics.median(pick(row) for row in results)

    ours, plain = median(lambda r: r[0].wall), median(lambda r: r[1].wall)
    ours_ff, plain_ff = median(lambda r: r[0].ffmpeg_cpu), median(lambda r: r[1].ffmpeg_cpu)
    ours_own, plain_own = median(lambda r: r[0].own_cpu), median(lambda r: r[1].own_cpu)
    ours_cpu = median(lambda r: r[0].own_cpu + r[0].ffmpeg_cpu)
    plain_cpu = median(lambda r: r[1].own_cpu + r[1].ffmpeg_cpu)
    ratio, cpu_ratio = ours / plain, ours_cpu / plain_cpu
    verdict = "met" if ratio <= TARGET else "missed"
    print(
        f"median wall: tikrelay {ours:.2f} s (prepare {median(lambda r: r[2]):.2f} s), plain "
        f"ffmpeg {plain:.2f} s, ratio {ratio:.3f} (target <= {TARGET}: {verdict})"
    )
    print(
        f"median CPU:  tikrelay {ours_cpu:.2f} s (ffmpeg {ours_ff:.2f}, Python {ours_own:.2f}), "
        f"plain ffmpeg {plain_cpu:.2f} s (ffmpeg {plain_ff:.2f}, Python {plain_own:.2f}), "
        f"ratio {cpu_ratio:.3f}"
    )
    print(
        f"seconds tikrelay={ours:.2f} ffmpeg={plain:.2f} ratio={ratio:.3f} "
        f"cpu_ratio={cpu_ratio:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the input clip")
    parser.add_argument(
        "--noise", type=int, default=20, help="strength of the temporal noise (ffmpeg's alls)"
    )
    parser.add_argument(
        "--limit-mb", type=float, default=50.0, help="upload limit in MiB (the cloud Bot API's 50)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.limit_mb <= 0 or not 0 <= args.noise <= 100:
        parser.error("--rounds must be at least 1, --seconds and --limit-mb above 0, --noise 0-100")
    measure(args.seconds, args.noise, int(args.limit_mb * MIB), args.rounds)


if __name__ == "__main__":
    main()
