"""Run the emulator as a process: ``python -m tikrelay.sandbox.telegram [options]``.

Prints one JSON line ``{"url": ..., "token": ..., "pid": ...}`` once it listens, then serves until
SIGINT or SIGTERM. Set it up and read it through the control API under ``/_emulator/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tikrelay.sandbox.telegram.emulator import TelegramEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tikrelay.sandbox.telegram")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--upload-limit", type=int, default=None, help="bytes per file")
    parser.add_argument("--local-mode", action="store_true", help="act as a local Bot API server")
    parser.add_argument("--flood-limits", action="store_true", help="enforce flood limits")
    parser.add_argument("--files-dir", type=Path, default=None)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emu = TelegramEmulator(
        args.token,
        host=args.host,
        port=args.port,
        upload_limit=args.upload_limit,
        local_mode=args.local_mode,
        flood_limits=args.flood_limits,
        files_dir=args.files_dir,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with emu:
        print(json.dumps({"url": emu.url, "token": emu.token, "pid": os.getpid()}), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))
    sys.exit(0)


if __name__ == "__main__":
    main()
