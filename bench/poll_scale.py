"""Polling at scale: one ``tikrelay run --once`` that polls N creators whose feeds hold nothing new.

    uv run python bench/poll_scale.py [--creators 100,1000,10000] [--posts 3]

For each N, the emulated TikTok runs in a process of its own (``--emulator`` mode of this file),
with N creators of ``--posts`` posts each, so that its CPU is not counted as the product's. The
state is what earlier runs leave: every creator resolved (its secUid known) and its posts seen.
A first run of the real command over 100,000 profile pages would take most of an hour, so this
state is written through the reposter's own store functions (``ensure_source``,
``set_native_id``, ``record_listing``) after ``tikrelay db upgrade`` made the database.

Then one timed ``python -m tikrelay run --once --config FILE`` (the real command, the config
listing the N creators, the emulator as proxy and CA) polls every creator. Measured, from the
spawn to the exit of that one process: wall seconds, its CPU seconds (user + system, from
``wait4``), its peak RSS, the feed requests the emulator received per creator and any other
request it received (there must be none), and what the database grew by (rows of ``jobs`` and
``job_events``, bytes of the database files). Every run must exit 0 and say "0 new deliveries";
the Telegram emulator must receive nothing but ``getMe``.

Baseline in the same process: ``python -c "import yt_dlp"`` (what any feed read pays first) and
``python -m tikrelay --version`` (the command line alone).

Targets on a 2-core machine: 10,000 creators in at most 120 s with at most 300 MB peak RSS, 1,000
in at most 15 s, exactly one feed request per creator. The last line reads, for the largest N,
``poll_scale creators=<N> seconds=<s> cpu_seconds=<s> rss_mb=<m> requests_per_creator=<r>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

TOKEN = "123456:BENCH-POLL-SCALE"  # noqa: S105 - a made-up token the emulator accepts
FEED_PATH = "/api/creator/item_list/"
#: The emulated world's clock: posts keep their ids whatever the day the bench runs.
WORLD_TIME = 1_790_000_000.0
TARGETS = {1_000: 15.0, 10_000: 120.0}
RSS_TARGET_MB = 300


# -- the emulator's process ---------------------------------------------------------------------


def serve_emulator(creators: int, posts: int, folder: Path) -> None:
    """Build the world, write what the bench needs, serve until stdin closes."""
    from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

    # Four sets of media files shared in turn: a world of 30,000 posts without 30,000 ffmpeg runs.
    world = TikTokWorld(media_variants=4, clock=lambda: WORLD_TIME)
    for n in range(creators):
        world.add_creator(creator_name(n), videos=posts)
    listing = {}
    for n in range(creators):
        name = creator_name(n)
        found = world.creator(name)
        assert found is not None
        listing[name] = {"sec_uid": found.sec_uid, "posts": [p.id for p in world.posts(name)]}
    (folder / "creators.json").write_text(json.dumps(listing), encoding="utf-8")
    with TikTokEmulator(world).running() as emulator:
        (folder / "ca.pem").write_bytes(emulator.ca_pem)
        print(json.dumps({"proxy": emulator.proxy_url, "control": emulator.control_url}))
        sys.stdout.flush()
        sys.stdin.read()


def creator_name(n: int) -> str:
    return f"scale_{n:05d}"


# -- the bench's process ------------------------------------------------------------------------


@dataclass
class Result:
    creators: int
    seconds: float
    cpu_seconds: float
    rss_mb: float
    requests_per_creator: float
    other_requests: int
    emulator_cpu_seconds: float
    jobs: int
    events: int
    db_bytes: int


def tikrelay(*args: str) -> list[str]:
    return [sys.executable, "-m", "tikrelay", *args]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one process, and what it printed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{output[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed_state(config: Path, listing: dict[str, Any], env: dict[str, str]) -> None:
    """The state a first run leaves: the database made by the real command, then each creator
    resolved and its posts seen, written by the reposter's store functions."""
    subprocess.run(tikrelay("db", "upgrade", "--config", str(config)), env=env, check=True)
    from tikrelay.config.loader import load_settings
    from tikrelay.sources.refs import SITE
    from tikrelay.store import open_queue
    from tikrelay.store import relay as sql

    settings = load_settings(config)
    queue = open_queue(settings, pool_size=1)
    now = datetime.now(UTC)
    try:
        with queue.transaction() as conn:
            for name, creator in listing.items():
                row = sql.ensure_source(conn, f"{SITE}:@{name}", SITE, name, now)
                sql.set_native_id(conn, row.id, creator["sec_uid"])
                sql.record_listing(conn, row.id, [f"{SITE}:{p}" for p in creator["posts"]], now)
    finally:
        queue.engine.dispose()


def counted(state: Path) -> tuple[int, int, int]:
    from tikrelay.config.paths import StatePaths

    database = StatePaths(state).database_file
    with sqlite3.connect(database) as db:
        jobs = db.execute("select count(*) from jobs").fetchone()[0]
        events = db.execute("select count(*) from job_events").fetchone()[0]
    size = sum(p.stat().st_size for p in database.parent.glob(f"{database.name}*"))
    return int(jobs), int(events), size


def measure(creators: int, posts: int, folder: Path) -> Result:
    from tikrelay.sandbox.telegram import TelegramEmulator
    from tikrelay.sandbox.tiktok.control import EmulatorControl

    folder.mkdir(parents=True)
    emulator = subprocess.Popen(
        [sys.executable, __file__, "--emulator", str(creators), "--posts", str(posts)],
        cwd=folder,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        address = json.loads(emulator.stdout.readline())
        listing = json.loads((folder / "creators.json").read_text(encoding="utf-8"))
        with TelegramEmulator(TOKEN, files_dir=folder / "telegram").running() as telegram:
            chat = telegram.add_chat("channel", title="poll scale")
            state = folder / "state"
            config = folder / "tikrelay.yaml"
            data = {
                "state_dir": str(state),
                "telegram": {"api_url": telegram.url},
                "destinations": {"channel": {"telegram": {"chat_id": chat.id}}},
                "sources": [{"tiktok": f"@{name}", "to": ["channel"]} for name in listing],
                "network": {"proxies": [address["proxy"]], "ca_bundle": str(folder / "ca.pem")},
            }
            config.write_text(yaml.safe_dump(data), encoding="utf-8")
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
            seed_state(config, listing, env)
            jobs_before, events_before, bytes_before = counted(state)
            control = EmulatorControl(address["control"])
            control.call("DELETE", "/requests")
            emulator_before = process_cpu(emulator.pid)
            seconds, cpu, rss, output = timed(
                tikrelay("run", "--once", "--config", str(config)), env
            )
            emulator_cpu = process_cpu(emulator.pid) - emulator_before
            summary = f"polled {creators} of {creators} sources: 0 new deliveries"
            if summary not in output:
                raise SystemExit(
                    f"the run did not poll every creator or found something:\n{output[-2000:]}"
                )
            calls = {call.method for call in telegram.record}
            if calls - {"getMe"}:
                raise SystemExit(f"the run changed something in Telegram: {sorted(calls)}")
            requests = control.requests()
            feeds = [r for r in requests if r["path"] == FEED_PATH]
            jobs_after, events_after, bytes_after = counted(state)
    finally:
        if emulator.stdin is not None:
            emulator.stdin.close()
        emulator.wait(timeout=60)
    return Result(
        creators=creators,
        seconds=seconds,
        cpu_seconds=cpu,
        rss_mb=rss,
        requests_per_creator=len(feeds) / creators,
        other_requests=len(requests) - len(feeds),
        emulator_cpu_seconds=emulator_cpu,
        jobs=jobs_after - jobs_before,
        events=events_after - events_before,
        db_bytes=bytes_after - bytes_before,
    )


def baseline(command: list[str]) -> float:
    best = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best.append(time.perf_counter() - started)
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--creators", default="100,1000,10000", help="comma-separated Ns")
    parser.add_argument("--posts", type=int, default=3, help="posts in each creator's feed")
    parser.add_argument("--emulator", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emulator is not None:
        serve_emulator(args.emulator, args.posts, Path.cwd())
        return
    sizes = sorted({int(n) for n in args.creators.split(",")})
    if not sizes or sizes[0] < 1 or args.posts < 1:
        parser.error("--creators and --posts must be at least 1")
    import_ytdlp = baseline([sys.executable, "-c", "import yt_dlp"])
    version = baseline(tikrelay("--version"))
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPUs")
    print(f"baseline: import yt_dlp {import_ytdlp:.2f} s, tikrelay --version {version:.2f} s")
    results = []
    with tempfile.TemporaryDirectory(prefix="tikrelay-poll-scale-") as name:
        for creators in sizes:
            result = measure(creators, args.posts, Path(name) / str(creators))
            results.append(result)
            per = result.seconds / creators * 1000
            print(
                f"{creators:>6} creators: {result.seconds:6.1f} s ({per:.1f} ms each, "
                f"{result.seconds / import_ytdlp:.0f}x import yt_dlp), "
                f"cpu {result.cpu_seconds:.1f} s "
                f"(the emulator's {result.emulator_cpu_seconds:.1f} s apart), "
                f"peak RSS {result.rss_mb:.0f} MB, {result.requests_per_creator:.2f} feed requests "
                f"per creator, {result.other_requests} other requests; database +{result.jobs} "
                f"jobs, +{result.events} events, {result.db_bytes / 1e6:+.1f} MB"
            )
    for result in results:
        target = TARGETS.get(result.creators)
        if target is not None:
            met = result.seconds <= target and result.requests_per_creator == 1
            if result.creators == max(TARGETS):
                met = met and result.rss_mb <= RSS_TARGET_MB
            print(
                f"target: {result.creators} creators in <= {target:.0f} s"
                + (f", <= {RSS_TARGET_MB} MB" if result.creators == max(TARGETS) else "")
                + f", one feed request each: {'met' if met else 'missed'}"
            )
    last = results[-1]
    print(
        f"poll_scale creators={last.creators} seconds={last.seconds:.1f} "
        f"cpu_seconds={last.cpu_seconds:.1f} rss_mb={last.rss_mb:.0f} "
        f"requests_per_creator={last.requests_per_creator:.2f}"
    )


if __name__ == "__main__":
    main()
