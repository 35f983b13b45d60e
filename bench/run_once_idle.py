"""Wall time of ``tikrelay run --once`` when nothing is due: what cron pays between new posts.

    uv run python bench/run_once_idle.py [--runs 10] [--sources 10]

Every run is a fresh ``python -m tikrelay run --once --config FILE`` process, with the same
interpreter and environment as this script, timed from spawn to exit. Two states, each made by
the real command before the timed runs start:

- **no sources**: a config with one destination and no sources; a first, untimed run creates
  the database, so the timed runs start on a migrated one.
- **sources waiting for a retry**: a config with one destination and ``--sources`` creators
  whose proxy is a closed port on 127.0.0.1. A first, untimed run (told
  ``jobs.retry_base_seconds: 3600`` and ``jobs.drain_wait_seconds: 0``) cannot reach TikTok,
  so every poll job is scheduled for a retry half an hour to an hour away; the timed runs use
  the plain config and find each source's poll already waiting, so nothing is due.

Telegram is the Bot API emulator, needed by the first runs only; the bench checks that no timed
run called it, wrote a job event or delivered anything, and that each exited 0 (or 3, "a source
waits for a retry", in the waiting state). Baselines in the same run, interleaved with the runs
above so that a busy moment hits every row alike: ``python -c pass`` (the interpreter's own
start) and ``python -m tikrelay --version`` (the command line without a config or a database).

What it measures depends on cached bytecode. Python may be told not to write ``.pyc`` files
(``PYTHONDONTWRITEBYTECODE``); uv byte-compiles installed packages (``compile-bytecode`` in
pyproject.toml), but tikrelay's own modules, installed editable from ``src/``, load from
whatever ``__pycache__`` holds, and a module without an up-to-date ``.pyc`` is compiled again on
every start. The bench prints the setting and how many of tikrelay's modules lack one, and
measures the machine as it is. One more row, "cached", times the run without sources with the
bytecode of every module it imports cached: Python may write it, into a ``PYTHONPYCACHEPREFIX``
folder of the bench's own, during one untimed run first. That is what an installed,
byte-compiled tikrelay costs.

Target: a median of at most 1.0 s in both states. The last line is machine-readable:
``idle_seconds python=<s> version=<s> no_sources=<s> waiting=<s> cached=<s>`` (medians).
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

TOKEN = "123456:BENCH-IDLE"  # noqa: S105 - a made-up token the emulator accepts
TARGET = 1.0
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


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_config(path: Path, state: Path, telegram: TelegramEmulator, **extra: Any) -> Path:
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


def idle_check(state: Path, exit_codes: tuple[int, ...] = (0,)) -> Check:
    """A timed run must change no job, deliver nothing and exit as expected."""
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


def measure(runs: int, sources: int, env: dict[str, str]) -> dict[str, Row]:
    with (
        tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name,
        TelegramEmulator(TOKEN, files_dir=Path(name) / "telegram").running() as telegram,
    ):
        folder = Path(name)
        empty, waiting = prepare(folder, telegram, sources, env)
        cached = {**env, "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        warm = subprocess.run(tikrelay_run(empty), env=cached, capture_output=True, text=True)
        if warm.returncode != 0:
            raise SystemExit(f"the run that writes bytecode failed:\n{warm.stderr}")
        calls = len(telegram.record)
        rows = {
            "python": Row("python -c pass", [sys.executable, "-c", "pass"]),
            "version": Row("tikrelay --version", [sys.executable, "-m", "tikrelay", "--version"]),
            "no_sources": Row(
                "run --once, no sources", tikrelay_run(empty), idle_check(folder / "no-sources")
            ),
            "waiting": Row(
                f"run --once, {sources} sources waiting",
                tikrelay_run(waiting),
                # Exit 3 says a source waits for a retry: true, and what cron should hear.
                idle_check(folder / "waiting", exit_codes=(0, 3)),
            ),
            "cached": Row(
                "run --once, no sources, cached",
                tikrelay_run(empty),
                idle_check(folder / "no-sources"),
                env=cached,
            ),
        }
        time_rows(list(rows.values()), runs, env)
        if len(telegram.record) != calls:
            raise SystemExit("an idle run called Telegram")
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
    print(f"{'command':<32} {'median s':>9} {'max s':>7} {'- python s':>11}")
    for key, row in rows.items():
        median = medians[key]
        extra = median - medians["python"]
        print(f"{row.name:<32} {median:>9.3f} {max(row.seconds):>7.3f} {extra:>11.3f}")
    met = medians["no_sources"] <= TARGET and medians["waiting"] <= TARGET
    print(f"target: median <= {TARGET:.1f} s with nothing due: {'met' if met else 'missed'}")
    print("idle_seconds " + " ".join(f"{key}={value:.3f}" for key, value in medians.items()))


if __name__ == "__main__":
    main()
