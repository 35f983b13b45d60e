"""Peak memory of the process that sends a 1.5 GB video to a local Bot API server, against the
same process doing everything but the send.

    uv run python bench/local_upload.py [--size-gb 1.5] [--rounds 3] [--multipart] [--keep]

With ``telegram.local_mode`` tikrelay may send videos of up to 2000 MB, so the sender must never
hold a whole file in memory. The Bot API emulator runs in this process in local mode (``file://``
inputs accepted, a 2000 MB limit); what is measured runs in fresh child processes, so that the
emulator's own memory is not counted:

- **upload**: a child that imports the sender, builds it as the reposter does
  (``Clients(Settings(...)).telegram``: ``TelegramSender`` with ``local_mode`` and a
  ``FloodPacer``), opens it (``getMe``) and calls ``send_video`` once with the big file and a
  thumbnail.
- **baseline**: the same child without the ``send_video`` call: imports, settings, sender,
  ``getMe``.

Peak RSS is each child's ``VmHWM`` (the high-water mark of its resident memory since it
started), read by the child itself as it ends; not ``ru_maxrss``, which on Linux a child started
by vfork + exec inherits from its parent, so that every child would report this process's peak
(see ``peak_rss``). The difference between the two children is what the send costs. The
throughput is the file's size over the time ``send_video`` took; in local mode the sender names
the file by path and the server reads it (the emulator hashes all of it, as a local Bot API
server copies it), so that figure is the server's, not the sender's.

``--multipart`` adds a third child that sends the same file as a normal upload (a multipart body
streamed over HTTP, what the cloud Bot API gets) to a second emulator without local mode whose
upload limit is raised to fit it, so the streaming path is measured too; the emulator writes the
whole body to disk, so it needs the file's size free on the temp disk.

The file is a real, short MP4 (540x960 H.264/AAC, 3 s, ``+faststart``) followed by one MP4
``free`` box that pads it to ``--size-gb`` (decimal GB): still a valid MP4 that probes as a 3 s
video, and sparse on disk, so making it costs neither time nor space. It lives in a temporary
folder that goes at the end unless ``--keep``. Target: peak RSS of the upload child at most
150 MB. The last line is machine-readable:
``peak_rss_mb upload=<MB> baseline=<MB> delta=<MB> gb_per_s=<GB/s> [multipart=<MB>]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tikrelay.sandbox.telegram import TelegramEmulator

TOKEN = "123456:BENCH-UPLOAD"  # noqa: S105 - a made-up token the emulator accepts
TARGET_MB = 150.0
CLIP_SECONDS = 3
WIDTH, HEIGHT = 540, 960
MB = 1000 * 1000
GB = 1000 * MB


# -- the measured child: imports only what the sending process imports ---------------------------


async def child(mode: str, url: str, chat_id: int, video: Path, thumbnail: Path) -> dict[str, Any]:
    from tikrelay.config.settings import Settings
    from tikrelay.destinations.telegram import ChatTarget
    from tikrelay.reposter.clients import Clients

    settings = Settings(
        state_dir=video.parent / "state",
        telegram={"api_url": url, "local_mode": mode != "multipart", "bot_token": TOKEN},
    )
    result: dict[str, Any] = {"seconds": 0.0}
    async with Clients(settings).telegram as sender:
        if mode != "baseline":
            started = time.perf_counter()
            await sender.send_video(
                ChatTarget(chat_id),
                video,
                width=WIDTH,
                height=HEIGHT,
                duration=CLIP_SECONDS,
                thumbnail=thumbnail,
                caption=f"bench {mode}",
            )
            result["seconds"] = time.perf_counter() - started
    result["peak_kib"] = peak_rss()
    return result


def peak_rss() -> int:
    """This process's peak resident set since it started, in KiB: ``VmHWM``, the high-water mark
    of its own address space. Not ``ru_maxrss``: Linux carries the address space a process had
    before ``execve`` into it, and a child that Python's subprocess starts (vfork, then exec)
    had its parent's, so ``ru_maxrss`` (and ``wait4``'s) would read the bench's own peak."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


# -- the bench --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    peak_mb: float  # the child's VmHWM, in MB
    seconds: float  # how long send_video took (0 for the baseline)


def make_video(folder: Path, size: int) -> tuple[Path, Path]:
    """A short real MP4 padded with a ``free`` box to ``size`` bytes (sparse), and a thumbnail."""
    from tikrelay.media.ffmpeg import ffmpeg_path

    ffmpeg = [str(ffmpeg_path()), "-nostdin", "-loglevel", "error", "-y"]
    clip = folder / "big.mp4"
    picture = f"testsrc2=s={WIDTH}x{HEIGHT}:r=30:d={CLIP_SECONDS}"
    sound = f"sine=frequency=440:d={CLIP_SECONDS}"
    args = ["-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", sound, "-c:v", "libx264"]
    args += ["-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    subprocess.run([*ffmpeg, *args, "-movflags", "+faststart", str(clip)], check=True)
    thumbnail = folder / "thumb.jpg"
    args = ["-i", str(clip), "-frames:v", "1", "-vf", "scale=180:320", "-q:v", "5"]
    subprocess.run([*ffmpeg, *args, str(thumbnail)], check=True)
    pad = size - clip.stat().st_size
    if pad < 16:
        raise SystemExit(f"--size-gb is smaller than the {clip.stat().st_size:,}-byte clip")
    with clip.open("ab") as out:
        # A box's 32-bit size, or 1 and a 64-bit size after the type for 4 GiB and more.
        fits = pad < 2**32
        out.write(
            struct.pack(">I4s", pad, b"free") if fits else struct.pack(">I4sQ", 1, b"free", pad)
        )
    os.truncate(clip, size)  # the rest of the box: a hole, read back as zeros
    return clip, thumbnail


def check_video(video: Path, size: int) -> None:
    from tikrelay.media.probe import probe

    info = probe(video)
    if info.video_codec != "h264" or abs((info.duration or 0) - CLIP_SECONDS) > 0.2:
        raise SystemExit(f"the padded file does not probe as the clip: {info}")
    if info.size != size:
        raise SystemExit(f"the padded file has {info.size:,} bytes, not {size:,}")


def spawn(mode: str, url: str, chat_id: int, video: Path, thumbnail: Path) -> Run:
    """One child; its peak RSS as it reports it (``VmHWM``, see ``peak_rss``)."""
    command = [sys.executable, __file__, "--child", mode, "--url", url, "--chat", str(chat_id)]
    command += ["--video", str(video), "--thumbnail", str(thumbnail)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} child failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(result["peak_kib"] * 1024 / MB, float(result["seconds"]))


def check_sent(emulator: TelegramEmulator, chat_id: int, size: int, mode: str) -> None:
    """The last sendVideo to the chat was accepted and carried the whole file."""
    calls = [r for r in emulator.calls("sendVideo") if r.chat_id == chat_id]
    if not calls or calls[-1].status != 200:
        raise SystemExit(f"the {mode} sendVideo was not accepted: {calls[-1:] or 'no call'}")
    files = {f.part: f for f in calls[-1].files}
    got = files.get("video")
    source = "upload" if mode == "multipart" else "local"
    if got is None or got.size != size or got.source != source:
        raise SystemExit(f"the {mode} sendVideo carried {got}, not {size:,} bytes ({source})")


def free_space_needed(size: int, multipart: bool) -> int:
    # The padded file takes almost nothing; a multipart upload is written out whole by the
    # emulator (its temporary part, then moved into its store).
    return (size if multipart else 0) + 200 * MB


def measure(size: int, rounds: int, multipart: bool, keep: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tikrelay-bench-"))
    try:
        free = shutil.disk_usage(folder).free
        if free < free_space_needed(size, multipart):
            raise SystemExit(f"{free / GB:.1f} GB free in {folder.parent}: not enough")
        video, thumbnail = make_video(folder, size)
        check_video(video, size)
        allocated = os.stat(video).st_blocks * 512
        print(
            f"{video.name}: {size / GB:.2f} GB ({size:,} bytes, {allocated / MB:.1f} MB on disk): "
            f"a {CLIP_SECONDS} s {WIDTH}x{HEIGHT} MP4 padded by a free box"
        )
        rows = run_rounds(folder, video, thumbnail, size, rounds, multipart)
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    report(rows, size)


def run_rounds(
    folder: Path, video: Path, thumbnail: Path, size: int, rounds: int, multipart: bool
) -> list[dict[str, Run]]:
    from tikrelay.sandbox.telegram import TelegramEmulator

    local = TelegramEmulator(TOKEN, files_dir=folder / "telegram-local", local_mode=True)
    cloud = TelegramEmulator(TOKEN, files_dir=folder / "telegram-cloud", upload_limit=size + MB)
    print(
        f"{'round':>5} {'baseline MB':>12} {'upload MB':>10} {'delta MB':>9} {'send s':>7} "
        f"{'GB/s':>6}" + (f" | {'multipart MB':>12} {'send s':>7} {'GB/s':>6}" if multipart else "")
    )
    rows: list[dict[str, Run]] = []
    with local.running() as server, cloud.running() as streamed:
        channel = server.add_chat("channel", title="Bench").id
        streamed_channel = streamed.add_chat("channel", title="Bench").id
        for index in range(rounds):
            row = {
                "baseline": spawn("baseline", server.url, channel, video, thumbnail),
                "upload": spawn("upload", server.url, channel, video, thumbnail),
            }
            check_sent(server, channel, size, "upload")
            line = (
                f"{index + 1:>5} {row['baseline'].peak_mb:>12.1f} {row['upload'].peak_mb:>10.1f} "
                f"{row['upload'].peak_mb - row['baseline'].peak_mb:>9.1f} "
                f"{row['upload'].seconds:>7.2f} {size / GB / row['upload'].seconds:>6.2f}"
            )
            if multipart:
                row["multipart"] = spawn(
                    "multipart", streamed.url, streamed_channel, video, thumbnail
                )
                check_sent(streamed, streamed_channel, size, "multipart")
                streamed.env.files.remove_all()  # the emulator's copy: 1.5 GB of real disk
                sent = row["multipart"]
                rate = size / GB / sent.seconds
                line += f" | {sent.peak_mb:>12.1f} {sent.seconds:>7.2f} {rate:>6.2f}"
            rows.append(row)
            print(line, flush=True)
    return rows


def report(rows: list[dict[str, Run]], size: int) -> None:
    def median(mode: str, seconds: bool = False) -> float:
        return statistics.median(r[mode].seconds if seconds else r[mode].peak_mb for r in rows)

    upload, baseline = median("upload"), median("baseline")
    rate = size / GB / median("upload", seconds=True)
    verdict = "met" if upload <= TARGET_MB else "missed"
    print(
        f"median peak RSS: upload {upload:.1f} MB, baseline (no send) {baseline:.1f} MB, "
        f"the send adds {upload - baseline:.1f} MB (target upload <= {TARGET_MB:g} MB: {verdict})"
    )
    print(
        f"median send_video of {size / GB:.2f} GB in local mode: "
        f"{median('upload', seconds=True):.2f} s, {rate:.2f} GB/s (the server reading the file)"
    )
    last = (
        f"peak_rss_mb upload={upload:.1f} baseline={baseline:.1f} delta={upload - baseline:.1f} "
        f"gb_per_s={rate:.2f}"
    )
    if "multipart" in rows[0]:
        streamed = median("multipart")
        streamed_rate = size / GB / median("multipart", seconds=True)
        print(
            f"median multipart upload (no local mode): peak RSS {streamed:.1f} MB "
            f"({streamed - baseline:+.1f} MB over the baseline), {streamed_rate:.2f} GB/s"
        )
        last += f" multipart={streamed:.1f}"
    print(last)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.5, help="the video's size, decimal GB")
    parser.add_argument("--rounds", type=int, default=3, help="baseline and upload, in turn")
    parser.add_argument(
        "--multipart", action="store_true", help="also stream it as a multipart upload"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    # The measured child's own arguments (see child).
    parser.add_argument(
        "--child", choices=("baseline", "upload", "multipart"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--chat", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--thumbnail", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        result = asyncio.run(child(args.child, args.url, args.chat, args.video, args.thumbnail))
        print(json.dumps(result))
        return
    if args.rounds < 1 or args.size_gb <= 0:
        parser.error("--rounds must be at least 1 and --size-gb above 0")
    measure(round(args.size_gb * GB), args.rounds, args.multipart, args.keep)


if __name__ == "__main__":
    main()
