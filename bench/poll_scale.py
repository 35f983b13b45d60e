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

Then ``tikrelay serve`` for one simulated interval: ``--serve-creators`` creators (1,000)
polled every ``--every-minutes`` (1), seeded the same way, run for the spread of the first polls
(at most ``START_RATE``, ten, a second and one interval), one more interval and its jitter, then
stopped with SIGTERM. Measured: its CPU and peak RSS, each poll's start (from its job's
``started_at``) counted in windows of ten seconds against N per interval, polls per creator, feed
requests per poll, and the jobs table's rows at the end. It must poll every creator and never
burst: no window above twice the expected rate (or twice ``START_RATE`` while the first polls
spread).

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
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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
#: serve's first polls go at most this many a second (``reposter.jobs.START_RATE``).
START_RATE_OF_BENCH = 10


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


@dataclass
class Prepared:
    """The emulator's process with N creators, the Telegram emulator, and the state a first run
    leaves, with the config to run tikrelay with."""

    emulator: subprocess.Popen[str]
    control: Any  # EmulatorControl
    telegram: Any  # TelegramEmulator
    config: Path
    state: Path
    env: dict[str, str]


@contextmanager
def prepared(creators: int, posts: int, folder: Path, **source: Any) -> Iterator[Prepared]:
    """The world of ``creators`` served by an emulator of its own, and the state seeded;
    ``source``: more keys of each source (``every_minutes``)."""
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
                "bot": {"enabled": False},
                "destinations": {"channel": {"telegram": {"chat_id": chat.id}}},
                "sources": [
                    {"tiktok": f"@{name}", "to": ["channel"], **source} for name in listing
                ],
                "network": {"proxies": [address["proxy"]], "ca_bundle": str(folder / "ca.pem")},
            }
            config.write_text(yaml.safe_dump(data), encoding="utf-8")
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
            seed_state(config, listing, env)
            control = EmulatorControl(address["control"])
            control.call("DELETE", "/requests")
            yield Prepared(emulator, control, telegram, config, state, env)
    finally:
        if emulator.stdin is not None:
            emulator.stdin.close()
        emulator.wait(timeout=60)


def measure(creators: int, posts: int, folder: Path) -> Result:
    with prepared(creators, posts, folder) as ready:
        jobs_before, events_before, bytes_before = counted(ready.state)
        emulator_before = process_cpu(ready.emulator.pid)
        seconds, cpu, rss, output = timed(
            tikrelay("run", "--once", "--config", str(ready.config)), ready.env
        )
        emulator_cpu = process_cpu(ready.emulator.pid) - emulator_before
        summary = f"polled {creators} of {creators} sources: 0 new deliveries"
        if summary not in output:
            raise SystemExit(
                f"the run did not poll every creator or found something:\n{output[-2000:]}"
            )
        calls = {call.method for call in ready.telegram.record}
        if calls - {"getMe"}:
            raise SystemExit(f"the run changed something in Telegram: {sorted(calls)}")
        requests = ready.control.requests()
        feeds = [r for r in requests if r["path"] == FEED_PATH]
        jobs_after, events_after, bytes_after = counted(ready.state)
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


@dataclass
class Served:
    creators: int
    every_minutes: float
    seconds: float  # how long serve ran
    cpu_seconds: float
    rss_mb: float
    polls: list[float]  # each poll's start, seconds after serve started
    per_creator: Counter[str]  # polls of each source
    feed_requests: int
    other_requests: int
    jobs: int  # rows in the jobs table at the end
    events: int


def serve_interval(creators: int, posts: int, every_minutes: float, folder: Path) -> Served:
    """``tikrelay serve`` with every creator polled every ``every_minutes``: the first polls
    spread (``START_RATE`` a second at most, one interval at most), then one more interval; the
    polls' start times are read from their jobs afterwards."""
    from tikrelay.reposter.jobs import START_RATE

    interval = every_minutes * 60
    spread = min(interval, creators / START_RATE)
    # The spread, one interval and its jitter (a tenth), and a few seconds to start.
    duration = spread + interval * 1.1 + 5
    with prepared(creators, posts, folder, every_minutes=every_minutes) as ready:
        started = time.perf_counter()
        process = subprocess.Popen(
            tikrelay("serve", "--config", str(ready.config)),
            env=ready.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        began = datetime.now(UTC)
        time.sleep(duration)
        process.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"serve exited {os.waitstatus_to_exitcode(status)}")
        requests = ready.control.requests()
        feeds = sum(1 for r in requests if r["path"] == FEED_PATH)
        from tikrelay.config.paths import StatePaths

        database = StatePaths(ready.state).database_file
        with sqlite3.connect(database) as db:
            started_polls = "select started_at, payload from jobs where kind = 'poll'"
            rows = db.execute(f"{started_polls} and started_at is not null").fetchall()
            jobs = int(db.execute("select count(*) from jobs").fetchone()[0])
            events = int(db.execute("select count(*) from job_events").fetchone()[0])
    polls, per_creator = [], Counter[str]()
    for at, payload in rows:
        moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
        polls.append((moment - began).total_seconds())
        per_creator[json.loads(payload)["source"]] += 1
    return Served(
        creators=creators,
        every_minutes=every_minutes,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,
        polls=sorted(polls),
        per_creator=per_creator,
        feed_requests=feeds,
        other_requests=len(requests) - feeds,
        jobs=jobs,
        events=events,
    )


def report_serve(served: Served) -> None:
    """Polls per second through the run, in windows of 10 s, against N / interval."""
    interval = served.every_minutes * 60
    expected = served.creators / interval
    windows = Counter(int(at // 10) for at in served.polls if at >= 0)
    rates = [windows.get(n, 0) / 10 for n in range(int(served.seconds // 10))]
    steady = rates[1:-1] or rates
    polled = sorted(Counter(served.per_creator.values()).items())
    print(
        f"serve, {served.creators} creators every {served.every_minutes:g} min: ran "
        f"{served.seconds:.0f} s, {len(served.polls)} polls ({expected:.1f}/s expected once "
        f"spread), per 10 s window {min(steady):.1f}-{max(steady):.1f}/s "
        f"(mean {statistics.mean(steady):.1f}/s); polls per creator {dict(polled)}; "
        f"cpu {served.cpu_seconds:.1f} s, peak RSS {served.rss_mb:.0f} MB; "
        f"{served.feed_requests / max(1, len(served.polls)):.2f} feed requests per poll, "
        f"{served.other_requests} other requests; jobs table {served.jobs} rows, "
        f"{served.events} events"
    )
    burst = max(rates) if rates else 0.0
    calm = burst <= 2 * max(expected, START_RATE_OF_BENCH)
    every = all(n >= 1 for n in served.per_creator.values()) and len(served.per_creator) == (
        served.creators
    )
    print(
        f"target: spread, not a burst (no 10 s window above twice the expected rate) and every "
        f"creator polled: {'met' if calm and every else 'missed'} (highest window {burst:.1f}/s)"
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
    parser.add_argument(
        "--serve-creators", type=int, default=1000, help="creators of the serve run (0: none)"
    )
    parser.add_argument(
        "--every-minutes", type=float, default=1.0, help="their poll interval under serve"
    )
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
        if args.serve_creators > 0:
            served = serve_interval(
                args.serve_creators, args.posts, args.every_minutes, Path(name) / "serve"
            )
            report_serve(served)
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
