"""Wall time of ``tikrelay run --once`` when nothing is new: what cron pays between new posts.

    uv run python bench/run_once_idle.py [--runs 10] [--sources 10]

Every run is a fresh ``python -m tikrelay run --once --config FILE`` process, with the same
interpreter and environment as this script, timed from spawn to exit. Three states, each made by
the real command before the timed runs start:

- **no sources**: a config with one destination and no sources; a first, untimed run creates
  the database, so the timed runs start on a migrated one.
- **sources waiting for a retry**: a config with one destination and ``--sources`` creators
  whose proxy is a closed port on 127.0.0.1. A first, untimed run (told
  ``jobs.retry_base_seconds: 3600`` and ``jobs.drain_wait_seconds: 0``) cannot reach TikTok,
  so every poll job is scheduled for a retry half an hour to an hour away; the timed runs use
  the plain config and find each source's poll already waiting, so nothing is due.
- **polled, nothing new**: what cron pays most often. A config with one destination and two
  creators of the TikTok emulator (three posts each), reached as TikTok is, through the
  emulator's proxy and CA (``network.proxies``, ``network.ca_bundle``), with ``backfill: 0``. A
  first, untimed run sees each creator for the first time (profile and feed) and remembers its
  posts without delivering them; every timed run then polls both creators, reads each feed once
  and finds nothing new.

Telegram and TikTok are the emulators, both served from this process (during a polled run the
TikTok emulator's TLS proxy takes its share of the CPUs too). The bench checks each timed run
against what the emulators received during it: in the first two states no call to Telegram, no
job event and no delivery, exit 0 (or 3, "a source waits for a retry", in the waiting state); in
the polled state exit 0, no delivery and no Telegram call but ``getMe``, and exactly one feed
request per creator and no other request to TikTok. Baselines in the same run, interleaved with
the runs above so that a busy moment hits every row alike: ``python -c pass`` (the interpreter's
own start), ``python -m tikrelay --version`` (the command line without a config or a database)
and ``python -c "import yt_dlp"`` (what any feed read pays first).

What it measures depends on cached bytecode. Python may be told not to write ``.pyc`` files
(``PYTHONDONTWRITEBYTECODE``); uv byte-compiles installed packages (``compile-bytecode`` in
pyproject.toml), but tikrelay's own modules, installed editable from ``src/``, load from
whatever ``__pycache__`` holds, and a module without an up-to-date ``.pyc`` is compiled again on
every start. The bench prints the setting and how many of tikrelay's modules lack one, and
measures the machine as it is. Two more rows, "cached", time the run without sources and the
polled run with the bytecode of every module they import cached: Python may write it, into a
``PYTHONPYCACHEPREFIX`` folder of the bench's own, during one untimed run of each first. That is
what an installed, byte-compiled tikrelay costs.

Target: a median of at most 1.0 s in each state. The last line is machine-readable:
``idle_seconds python=<s> version=<s> no_sources=<s> waiting=<s> cached=<s> polled=<s>
import_ytdlp=<s> polled_cached=<s>`` (medians).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import tikrelay
from tikrelay.config.paths import StatePaths
from tikrelay.sandbox.telegram import TelegramEmulator
from tikrelay.sandbox.tiktok import LoggedRequest, TikTokEmulator, TikTokWorld

TOKEN = "123456:BENCH-IDLE"  # noqa: S105 - a made-up token the emulator accepts
TARGET = 1.0
CREATORS = ("idle_alice", "idle_bob")  # the polled state's, three posts each
FEED_PATH = "/api/creator/item_list/"
#: The order of the last line: the first five as before this bench had a polled state.
LAST_LINE = (
    *("python", "version", "no_sources", "waiting", "cached"),
    *("polled", "import_ytdlp", "polled_cached"),
)
_PYC_HEADER = 16  # magic, flags, source mtime, source size


Check = Callable[[subprocess.CompletedProcess[str]], None]


def succeeded(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{done.args} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@dataclass
class Row:
    name: str
    command: list[str]
    check: Check = succeeded
    env: dict[str, str] | None = None  # None: the bench's own
    seconds: list[float] = field(default_factory=list)


@dataclass
class Traffic:
    """What the emulators received since the last look. Timed runs go one at a time and only
    tikrelay's runs reach the emulators, so each check sees the traffic of its own run."""

    telegram: TelegramEmulator
    world: TikTokWorld
    calls_seen: int = 0
    requests_seen: int = 0

    def take(self) -> tuple[list[str], list[LoggedRequest]]:
        """The Telegram methods called and the TikTok requests made since the last look."""
        calls = [call.method for call in self.telegram.record[self.calls_seen :]]
        requests = self.world.requests()[self.requests_seen :]
        self.calls_seen += len(calls)
        self.requests_seen += len(requests)
        return calls, requests


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_config(path: Path, state: Path, telegram: TelegramEmulator, **extra: Any) -> Path:
    """A config with one destination, a chat of its own in the emulator, and ``extra``."""
    chat = telegram.add_chat("channel", title=path.stem)
    data = {
        "state_dir": str(state),
        "telegram": {"api_url": telegram.url},
        "destinations": {"channel": {"telegram": {"chat_id": chat.id}}},
        **extra,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def tikrelay_run(config: Path) -> list[str]:
    return [sys.executable, "-m", "tikrelay", "run", "--once", "--config", str(config)]


def job_events(state: Path) -> int:
    with sqlite3.connect(StatePaths(state).database_file) as db:
        count: int = db.execute("select count(*) from job_events").fetchone()[0]
    return count


def waiting_polls(state: Path) -> int:
    """Poll jobs waiting for a retry that is not due yet."""
    with sqlite3.connect(StatePaths(state).database_file) as db:
        rows = db.execute(
            "select count(*) from jobs where kind = 'poll' and status = 'PENDING' "
            "and run_at > datetime('now', '+5 minutes')"
        ).fetchone()
    found: int = rows[0]
    return found


def prepare(
    folder: Path, telegram: TelegramEmulator, sources: int, env: dict[str, str]
) -> tuple[Path, Path]:
    """The two configs, each with its state made by a first, untimed run of the real command."""
    empty_state = folder / "no-sources"
    empty = write_config(folder / "no-sources.yaml", empty_state, telegram, sources=[])
    first = subprocess.run(tikrelay_run(empty), env=env, capture_output=True, text=True)
    if first.returncode != 0:
        raise SystemExit(f"the first run without sources failed:\n{first.stdout}{first.stderr}")

    waiting_state = folder / "waiting"
    routes = [{"tiktok": f"@idle_{n:02d}", "to": ["channel"]} for n in range(sources)]
    network = {"proxies": [f"http://127.0.0.1:{closed_port()}"]}
    waiting = write_config(
        folder / "waiting.yaml", waiting_state, telegram, sources=routes, network=network
    )
    setup = write_config(
        folder / "waiting-setup.yaml",
        waiting_state,
        telegram,
        sources=routes,
        network=network,
        jobs={"retry_base_seconds": 3600, "drain_wait_seconds": 0},
    )
    first = subprocess.run(tikrelay_run(setup), env=env, capture_output=True, text=True)
    if first.returncode != 3 or waiting_polls(waiting_state) != sources:
        raise SystemExit(
            f"the first run should leave {sources} polls waiting for a retry (exit 3), got "
            f"{waiting_polls(waiting_state)} (exit {first.returncode}):\n"
            f"{first.stdout}{first.stderr}"
        )
    return empty, waiting


def prepare_polled(
    folder: Path, telegram: TelegramEmulator, tiktok: TikTokEmulator, env: dict[str, str]
) -> Path:
    """The polled state: two creators whose posts a first, untimed run has already seen."""
    ca = folder / "tiktok-ca.pem"
    ca.write_bytes(tiktok.ca_pem)
    polled = write_config(
        folder / "polled.yaml",
        folder / "polled",
        telegram,
        sources=[{"tiktok": f"@{name}", "to": ["channel"], "backfill": 0} for name in CREATORS],
        network={"proxies": [tiktok.proxy_url], "ca_bundle": str(ca)},
    )
    first = subprocess.run(tikrelay_run(polled), env=env, capture_output=True, text=True)
    posts = sum(len(tiktok.world.posts(name)) for name in CREATORS)
    if first.returncode != 0 or f"{posts} older left out" not in first.stdout:
        raise SystemExit(
            f"the first polled run should remember {posts} posts and deliver none "
            f"(exit {first.returncode}):\n{first.stdout}{first.stderr}"
        )
    return polled


def idle_check(state: Path, traffic: Traffic, exit_codes: tuple[int, ...] = (0,)) -> Check:
    """A timed run must change no job, deliver nothing, call nobody and exit as expected."""
    before = job_events(state)

    def check(done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode not in exit_codes or "0 new deliveries" not in done.stdout:
            raise SystemExit(
                f"an idle run did something (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            )
        if (after := job_events(state)) != before:
            raise SystemExit(
                f"an idle run wrote {after - before} job events in {state.name}:\n{done.stdout}"
            )
        calls, requests = traffic.take()
        if calls or requests:
            raise SystemExit(f"an idle run called Telegram {calls} or TikTok {requests}")

    return check


def polled_check(world: TikTokWorld, traffic: Traffic) -> Check:
    """A polled run must read each creator's feed once, ask TikTok for nothing else, deliver
    nothing and exit 0. ``getMe`` is the only Telegram call it may make."""
    sec_uids = sorted(creator.sec_uid for name in CREATORS if (creator := world.creator(name)))

    def check(done: subprocess.CompletedProcess[str]) -> None:
        summary = f"polled {len(CREATORS)} of {len(CREATORS)} sources: 0 new deliveries"
        if done.returncode != 0 or summary not in done.stdout:
            raise SystemExit(
                f"a polled run found something or failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        calls, requests = traffic.take()
        if set(calls) - {"getMe"}:
            raise SystemExit(f"a polled run delivered or changed something in Telegram: {calls}")
        read = sorted(r.query.get("secUid", "") for r in requests if r.path == FEED_PATH)
        if read != sec_uids or len(requests) != len(sec_uids):
            asked = [(r.host, r.path, r.status) for r in requests]
            raise SystemExit(f"a polled run should read each feed once and nothing else: {asked}")

    return check


def stale_bytecode() -> tuple[int, int]:
    """tikrelay's modules without an up-to-date ``.pyc``, and how many modules there are."""
    root = Path(tikrelay.__file__).parent
    sources = sorted(root.rglob("*.py"))
    magic = importlib.util.MAGIC_NUMBER
    stale = 0
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            header = cached.read_bytes()[:_PYC_HEADER]
        except OSError:
            stale += 1
            continue
        stat = source.stat()
        fresh = (
            header[:4] == magic
            and int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF
        )
        stale += not fresh
    return stale, len(sources)


def time_rows(rows: list[Row], runs: int, env: dict[str, str]) -> None:
    """``runs`` rounds, each running every row once in turn."""
    for _ in range(runs):
        for row in rows:
            started = time.perf_counter()
            done = subprocess.run(row.command, env=row.env or env, capture_output=True, text=True)
            row.seconds.append(time.perf_counter() - started)
            row.check(done)


def polled_world() -> TikTokWorld:
    world = TikTokWorld()
    for name in CREATORS:
        world.add_creator(name, videos=3)
    return world


def measure(runs: int, sources: int, env: dict[str, str]) -> dict[str, Row]:
    world = polled_world()
    with (
        tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name,
        TelegramEmulator(TOKEN, files_dir=Path(name) / "telegram").running() as telegram,
        TikTokEmulator(world).running() as tiktok,
    ):
        folder = Path(name)
        empty, waiting = prepare(folder, telegram, sources, env)
        polled = prepare_polled(folder, telegram, tiktok, env)
        cached = {**env, "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        for config in (empty, polled):
            warm = subprocess.run(tikrelay_run(config), env=cached, capture_output=True, text=True)
            if warm.returncode != 0:
                raise SystemExit(f"the run that writes bytecode failed:\n{warm.stderr}")
        traffic = Traffic(telegram, world)
        traffic.take()  # the first runs' traffic: not the timed runs'
        rows = {
            "python": Row("python -c pass", [sys.executable, "-c", "pass"]),
            "version": Row("tikrelay --version", [sys.executable, "-m", "tikrelay", "--version"]),
            "import_ytdlp": Row(
                'python -c "import yt_dlp"', [sys.executable, "-c", "import yt_dlp"]
            ),
            "no_sources": Row(
                "run --once, no sources",
                tikrelay_run(empty),
                idle_check(folder / "no-sources", traffic),
            ),
            "waiting": Row(
                f"run --once, {sources} sources waiting",
                tikrelay_run(waiting),
                # Exit 3 says a source waits for a retry: true, and what cron should hear.
                idle_check(folder / "waiting", traffic, exit_codes=(0, 3)),
            ),
            "cached": Row(
                "run --once, no sources, cached",
                tikrelay_run(empty),
                idle_check(folder / "no-sources", traffic),
                env=cached,
            ),
            "polled": Row(
                f"run --once, {len(CREATORS)} polled, none new",
                tikrelay_run(polled),
                polled_check(world, traffic),
            ),
            "polled_cached": Row(
                f"run --once, {len(CREATORS)} polled, cached",
                tikrelay_run(polled),
                polled_check(world, traffic),
                env=cached,
            ),
        }
        time_rows(list(rows.values()), runs, env)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command")
    parser.add_argument("--sources", type=int, default=10, help="sources waiting for a retry")
    args = parser.parse_args()
    if args.runs < 1 or args.sources < 1:
        parser.error("--runs and --sources must be at least 1")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    stale, modules = stale_bytecode()
    no_pyc = os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset"
    print(
        f"Python {sys.version.split()[0]} on {os.cpu_count()} CPUs; "
        f"PYTHONDONTWRITEBYTECODE={no_pyc}; "
        f"{stale} of {modules} tikrelay modules have no up-to-date .pyc"
    )
    rows = measure(args.runs, args.sources, env)
    medians = {key: statistics.median(row.seconds) for key, row in rows.items()}
    print(f"{'command':<34} {'median s':>9} {'max s':>7} {'- python s':>11}")
    for key, row in rows.items():
        median = medians[key]
        extra = median - medians["python"]
        print(f"{row.name:<34} {median:>9.3f} {max(row.seconds):>7.3f} {extra:>11.3f}")
    states = (("nothing due", ("no_sources", "waiting")), ("nothing new", ("polled",)))
    for label, keys in states:
        met = all(medians[key] <= TARGET for key in keys)
        print(f"target: median <= {TARGET:.1f} s with {label}: {'met' if met else 'missed'}")
    print("idle_seconds " + " ".join(f"{key}={medians[key]:.3f}" for key in LAST_LINE))


if __name__ == "__main__":
    main()
