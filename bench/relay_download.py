"""Wall time of ``tikrelay run --once`` delivering 50 throttled TikTok videos to one channel,
against plain yt-dlp downloading the same 50 posts.

    uv run python bench/relay_download.py [--creators 10] [--posts 5] [--seconds-per-video 1.0]
                                          [--rounds 3]

The TikTok emulator serves 10 creators with 5 video posts each, its CDN throttled per connection
so that each clip (about 50 kB) takes ``--seconds-per-video`` to download: downloads, not
start-up, remuxing or Telegram, should decide the time. The Telegram emulator (no flood limits)
has one channel. Both emulators run in this process; what is timed runs in fresh ones.

- **tikrelay**: the real ``python -m tikrelay run --once`` with a fresh state folder and a config
  routing every creator to the channel (``delivery.downloads: 3``, the default). It polls each
  creator, enqueues one deliver job per post and delivers all 50: page, download, remux, send.
  Its ``telegram.flood`` pace is raised to match the emulator, which has no flood limits: at
  Telegram's real 20 messages a minute to one channel, 50 posts take over two minutes whatever
  the downloads do (bench/telegram_flood.py measures that pace).
- **baseline**: one fresh Python process that downloads the same 50 post URLs with yt-dlp's own
  API, through the same proxy with the same CA trust (``compat_opts: no-certifi`` and the combined
  bundle in ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, as tikrelay's
  ``network.ca_bundle`` does) and the format tikrelay asks for
  (``b[format_id!=download][vcodec!=none][acodec!=none]``). Three threads, each with one
  ``YoutubeDL``, take URLs from one queue.

Why three at a time: the throttle is per connection, so the bandwidth either side gets is the
number of parallel downloads times the rate. With the same parallelism as tikrelay's
``delivery.downloads`` the two share one floor, ceil(50 / 3) clips one after another, and the
ratio measures what tikrelay adds around the downloads (polling, its queue, remuxing, sending)
rather than a difference in parallelism. The yt-dlp command line cannot do it itself: it
downloads the URLs it is given one after another (``--concurrent-fragments`` only splits
fragmented formats), hence its Python API in threads.

Each round runs the baseline, then tikrelay, against the same emulators (a new channel, a new
state folder); the figures are the medians over ``--rounds``. Checks: the baseline got every
clean file (sha256); tikrelay exited 0, fetched each video from the CDN once and delivered each
of the 50 posts exactly once (one accepted ``sendVideo`` and one channel message per post).
Target: tikrelay within 1.15x the baseline. The last line is machine-readable:
``seconds tikrelay=<s> ytdlp=<s> ratio=<tikrelay/ytdlp> delivered=<n> send_video=<n>``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import os
import queue
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tikrelay.sandbox.telegram import TelegramEmulator
    from tikrelay.sandbox.tiktok import Post, TikTokEmulator, TikTokWorld

TOKEN = "123456:BENCH-RELAY"  # noqa: S105 - a made-up token the emulator accepts
VIDEO_FORMAT = "b[format_id!=download][vcodec!=none][acodec!=none]"
DOWNLOADS = 3
TARGET = 1.15
# The Telegram emulator runs without flood limits, and tikrelay is told so (see above).
UNLIMITED = {
    "chat_per_second": 1000,
    "chat_burst": 1000,
    "group_per_minute": 100_000,
    "bot_per_second": 1000,
}
_SUMMARY = re.compile(r"(\d+) new deliveries, (\d+) delivered, (\d+) failed")


# -- the baseline's own process: imports yt-dlp and nothing of tikrelay -------------------------


def fetch_all(urls: list[str], out: Path, proxy: str, parallel: int) -> int:
    """Download ``urls`` with ``parallel`` threads of plain yt-dlp; the number that failed."""
    import yt_dlp
    from yt_dlp.utils import DownloadError

    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for url in urls:
        pending.put(url)
    failed: list[str] = []
    options = {
        "proxy": proxy,
        "compat_opts": ["no-certifi"],  # trust SSL_CERT_FILE, which holds the emulator's CA
        "format": VIDEO_FORMAT,
        "outtmpl": str(out / "%(id)s.%(ext)s"),
        "quiet": True,
        "noprogress": True,
    }

    def work() -> None:
        with yt_dlp.YoutubeDL(dict(options)) as ydl:
            while True:
                try:
                    url = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    ydl.download([url])
                except DownloadError as exc:
                    failed.append(f"{url}: {exc}")

    threads = [threading.Thread(target=work) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for line in failed:
        print(line, file=sys.stderr)
    return len(failed)


# -- the bench --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    seconds: float
    delivered: int
    send_video: int
    # tikrelay only, from its job events: start-up, polling until the first download, the
    # downloads and sends, and the summary and exit after the last job.
    phases: tuple[float, float, float, float] | None = None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def populate(world: TikTokWorld, creators: int, posts: int) -> list[Post]:
    """``creators`` x ``posts`` videos, an hour apart, each with a description naming it."""
    made = []
    now = int(time.time())
    for c in range(creators):
        username = f"bench_{c:02d}"
        world.add_creator(username)
        for p in range(posts):
            at = now - (posts - p) * 3600
            made.append(world.add_video(username, desc=f"{username} clip {p + 1}", at=at))
    return made


def trusted_bundle(folder: Path, ca_pem: bytes) -> Path:
    """certifi's CAs plus the emulator's: what tikrelay's ``network.ca_bundle`` trusts."""
    import certifi

    bundle = folder / "trusted.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca_pem)
    return bundle


def run_baseline(tiktok: TikTokEmulator, posts: list[Post], folder: Path, bundle: Path) -> Timed:
    out = folder / "ytdlp"
    out.mkdir()
    env = {**os.environ}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env[name] = str(bundle)
    command = [sys.executable, __file__, "--fetch", str(out), "--proxy", tiktok.proxy_url]
    command += [post.url for post in posts]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the yt-dlp baseline failed:\n{done.stdout}{done.stderr}")
    got = {path.stem: sha256(path) for path in out.iterdir()}
    wrong = [p.id for p in posts if got.get(p.id) != p.media.clean_sha256]
    if wrong or len(got) != len(posts):
        raise SystemExit(f"the yt-dlp baseline got {len(got)} files; wrong or missing: {wrong}")
    return Timed(seconds, len(got), 0)


def write_config(
    folder: Path,
    tiktok: TikTokEmulator,
    telegram_url: str,
    chat_id: int,
    usernames: list[str],
    ca: Path,
) -> Path:
    import yaml

    data: dict[str, Any] = {
        "state_dir": str(folder / "state"),
        "telegram": {"api_url": telegram_url, "flood": UNLIMITED},
        "network": {"proxies": [tiktok.proxy_url], "ca_bundle": str(ca)},
        "delivery": {"downloads": DOWNLOADS},
        "destinations": {"channel": {"telegram": {"chat_id": chat_id}}},
        "sources": [{"tiktok": f"@{name}", "to": ["channel"]} for name in usernames],
    }
    path = folder / "tikrelay.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run_tikrelay(
    world: TikTokWorld,
    tiktok: TikTokEmulator,
    telegram: TelegramEmulator,
    posts: list[Post],
    folder: Path,
) -> Timed:
    (folder / "tikrelay").mkdir()
    ca = folder / "tiktok-ca.pem"
    ca.write_bytes(tiktok.ca_pem)
    channel = telegram.add_chat("channel", title="Bench")
    usernames = sorted({post.username for post in posts})
    config = write_config(folder / "tikrelay", tiktok, telegram.url, channel.id, usernames, ca)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    command = [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(config)]
    world.clear_log()
    spawned = datetime.now(UTC)
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    exited = datetime.now(UTC)
    summary = _SUMMARY.search(done.stdout)
    if done.returncode != 0 or summary is None:
        raise SystemExit(
            f"tikrelay run --once failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    if (delivered := int(summary[2])) != len(posts):
        raise SystemExit(f"tikrelay delivered {delivered} of {len(posts)}:\n{done.stdout}")
    send_video = check_delivered_once(world, telegram, channel.id, posts)
    return Timed(
        seconds, delivered, send_video, phases(folder / "tikrelay" / "state", spawned, exited)
    )


def check_delivered_once(
    world: TikTokWorld, telegram: TelegramEmulator, chat_id: int, posts: list[Post]
) -> int:
    """Each post fetched once and in the channel once; the accepted ``sendVideo`` calls."""
    from tikrelay.sandbox.tiktok.model import VIDEO_HOST

    videos = [r for r in telegram.calls("sendVideo", ok=True) if r.chat_id == chat_id]
    captions = [(r.caption or "").split("\n")[0] for r in videos]
    messages = [m.get("caption", "").split("\n")[0] for m in telegram.messages(chat_id)]
    wanted = sorted(post.desc for post in posts)
    if sorted(captions) != wanted or sorted(messages) != wanted:
        raise SystemExit(
            f"not every post arrived exactly once: {len(videos)} sendVideo, "
            f"{len(messages)} messages for {len(posts)} posts"
        )
    fetched = [r for r in world.requests(host=VIDEO_HOST) if r.method == "GET" and r.status < 300]
    if len(fetched) != len(posts):
        raise SystemExit(f"tikrelay fetched {len(fetched)} videos for {len(posts)} posts")
    return len(videos)


def phases(state: Path, spawned: datetime, exited: datetime) -> tuple[float, float, float, float]:
    """Where a run's time went, from its job events (stored in UTC)."""
    from tikrelay.config.paths import StatePaths

    with sqlite3.connect(StatePaths(state).database_file) as db:
        first, last = db.execute("select min(at), max(at) from job_events").fetchone()
        (download,) = db.execute(
            "select min(at) from job_events where type = 'STAGE_STARTED' "
            "and json_extract(data, '$.stage') = 'DOWNLOAD'"
        ).fetchone()
    moments = [spawned, *(_utc(text) for text in (first, download, last)), exited]
    spans = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    return spans[0], spans[1], spans[2], spans[3]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--creators", type=int, default=10)
    parser.add_argument("--posts", type=int, default=5, help="video posts per creator")
    parser.add_argument(
        "--seconds-per-video", type=float, default=1.0, help="download time of one clip"
    )
    parser.add_argument("--rounds", type=int, default=3, help="baseline and tikrelay, in turn")
    # The baseline's own process (see fetch_all).
    parser.add_argument("--fetch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--proxy", help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fetch is not None:
        sys.exit(1 if fetch_all(args.urls, args.fetch, args.proxy, DOWNLOADS) else 0)
    if min(args.creators, args.posts, args.rounds) < 1 or args.seconds_per_video <= 0:
        parser.error("counts must be at least 1 and --seconds-per-video above 0")
    measure(args.creators, args.posts, args.seconds_per_video, args.rounds)


def measure(creators: int, per_creator: int, seconds_per_video: float, rounds: int) -> None:
    from tikrelay.sandbox.fixtures import MediaFixtures
    from tikrelay.sandbox.telegram import TelegramEmulator
    from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

    world = TikTokWorld(MediaFixtures.at())
    posts = populate(world, creators, per_creator)
    size = statistics.fmean(post.media.clean_size for post in posts)
    rate = round(size / seconds_per_video)
    world.throttle_cdn(rate)
    floor = math.ceil(len(posts) / DOWNLOADS) * size / rate
    print(
        f"{len(posts)} posts ({creators} creators x {per_creator} videos of {size / 1000:.1f} kB), "
        f"CDN throttled to {rate:,} B/s per connection, {DOWNLOADS} downloads at a time: "
        f"floor {floor:.1f} s"
    )
    print(
        "tikrelay's time by phase, from its job events: start-up until its first job, polls "
        "until the first download, downloads and sends, summary and exit"
    )
    print(
        f"{'round':>5} {'yt-dlp s':>9} {'tikrelay s':>11} {'ratio':>6} | "
        f"{'start':>5} {'polls':>5} {'deliver':>7} {'exit':>5}"
    )
    results: list[tuple[Timed, Timed]] = []
    with tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name:
        folder = Path(name)
        with (
            TikTokEmulator(world).running() as tiktok,
            TelegramEmulator(TOKEN, files_dir=folder / "telegram").running() as telegram,
        ):
            bundle = trusted_bundle(folder, tiktok.ca_pem)
            for index in range(rounds):
                here = folder / f"round-{index + 1}"
                here.mkdir()
                plain = run_baseline(tiktok, posts, here, bundle)
                ours = run_tikrelay(world, tiktok, telegram, posts, here)
                results.append((plain, ours))
                start, polls, deliver, leave = ours.phases or (0.0, 0.0, 0.0, 0.0)
                print(
                    f"{index + 1:>5} {plain.seconds:>9.2f} {ours.seconds:>11.2f} "
                    f"{ours.seconds / plain.seconds:>6.2f} | "
                    f"{start:>5.2f} {polls:>5.2f} {deliver:>7.2f} {leave:>5.2f}",
                    flush=True,
                )
    report(results, floor)


def report(results: list[tuple[Timed, Timed]], floor: float) -> None:
    plain_s = statistics.median(plain.seconds for plain, _ in results)
    ours_s = statistics.median(ours.seconds for _, ours in results)
    ratio = ours_s / plain_s
    verdict = "met" if ratio <= TARGET else "missed"
    delivered = min(ours.delivered for _, ours in results)
    send_video = min(ours.send_video for _, ours in results)
    print(
        f"median: yt-dlp {plain_s:.2f} s, tikrelay {ours_s:.2f} s "
        f"({delivered} posts delivered, {send_video} sendVideo, each post once), "
        f"ratio {ratio:.2f} (target <= {TARGET}: {verdict}); floor {floor:.1f} s"
    )
    print(
        f"seconds tikrelay={ours_s:.2f} ytdlp={plain_s:.2f} ratio={ratio:.2f} "
        f"delivered={delivered} send_video={send_video}"
    )


if __name__ == "__main__":
    main()
