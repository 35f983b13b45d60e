"""Posts per minute to one channel under Telegram's flood limits, with and without FloodPacer.

    uv run python bench/telegram_flood.py [--posts N]

The Bot API emulator runs with its default flood limits (a burst of 3, then one message a second
per chat, 20 a minute per group or channel, 30 a second per bot) on the real clock. N single-photo
posts go to one channel through ``TelegramSender`` with a ``FloodPacer``; the baseline, in the same
run and at the same time, sends the same posts to a second channel through a sender without a
pacer, which simply waits out every 429 it gets. The best rate the limits allow is worked out from
the numbers alone: the burst, one a second, then each message waits for the one 20 places before
it to leave the rolling minute. With 40 posts the last one can go at 77 s at the earliest, so the
whole run takes about 80 s. The last line is machine-readable:
``posts/min paced=<rate> best=<rate> ratio=<paced/best> paced_429=<n> baseline_429=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tikrelay.config.logging import configure_logging
from tikrelay.destinations.pacer import FloodPacer
from tikrelay.destinations.telegram import ChatTarget, TelegramSender
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.telegram import FloodLimits, TelegramEmulator

TOKEN = "123456:BENCH"  # noqa: S105 - a made-up token the emulator accepts


def best_send_times(limits: FloodLimits, posts: int) -> list[float]:
    """The earliest moment each post may go, from the limits alone (greedy is optimal here)."""
    times: list[float] = []
    tokens, updated = float(limits.chat_burst), 0.0
    for index in range(posts):
        moment = times[-1] if times else 0.0
        if index >= limits.group_per_minute:
            moment = max(moment, times[index - limits.group_per_minute] + 60.0)
        available = min(limits.chat_burst, tokens + (moment - updated) * limits.chat_per_second)
        if available < 1:
            moment += (1 - available) / limits.chat_per_second
            available = 1.0
        tokens, updated = available - 1, moment
        times.append(moment)
    return times


async def post_all(
    emu: TelegramEmulator, photos: list[Path], pacer: FloodPacer | None, title: str
) -> tuple[float, int]:
    """Send every photo as one post; the seconds from the first send to the last answer, and
    how many 429s the channel got."""
    channel = emu.add_chat("channel", title=title)
    target = ChatTarget(channel.id)
    async with TelegramSender(TOKEN, api_url=emu.url, pacer=pacer, max_429_retries=50) as sender:
        started = time.monotonic()
        for index, photo in enumerate(photos):
            await sender.send_photos(target, [photo], f"post {index + 1}")
        elapsed = time.monotonic() - started
    refused = [r for r in emu.calls("sendPhoto") if r.chat_id == channel.id and r.status == 429]
    return elapsed, len(refused)


def per_minute(posts: int, seconds: float) -> float:
    return posts * 60.0 / seconds if seconds > 0 else float("inf")


async def run(posts: int) -> None:
    limits = FloodLimits()
    media = MediaFixtures.at()
    photos = [media.image(index, "jpeg") for index in range(posts)]
    best = best_send_times(limits, posts)[-1]
    print(f"{posts} posts to one channel; limits: {limits}")
    print(f"best possible: last post at {best:.1f} s")
    with tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as folder:
        emu = TelegramEmulator(TOKEN, flood_limits=True, files_dir=Path(folder))
        async with emu:
            pacer = FloodPacer(
                chat_per_second=limits.chat_per_second,
                chat_burst=limits.chat_burst,
                group_per_minute=limits.group_per_minute,
                bot_per_second=limits.bot_per_second,
            )
            (paced, paced_429), (naive, naive_429) = await asyncio.gather(
                post_all(emu, photos, pacer, "Paced"),
                post_all(emu, photos, None, "Baseline"),
            )
    best_rate, paced_rate = per_minute(posts, best), per_minute(posts, paced)
    ratio = paced_rate / best_rate if best_rate != float("inf") else 1.0
    print(f"{'sender':<22} {'seconds':>8} {'posts/min':>10} {'x best':>7} {'429s':>5}")
    rows = [
        ("best the limits allow", best, best_rate, None),
        ("FloodPacer", paced, paced_rate, paced_429),
        ("no pacer (baseline)", naive, per_minute(posts, naive), naive_429),
    ]
    for name, seconds, rate, refused in rows:
        share = rate / best_rate if best_rate != float("inf") else 1.0
        shown = "-" if refused is None else str(refused)
        print(f"{name:<22} {seconds:>8.1f} {rate:>10.1f} {share:>7.2f} {shown:>5}")
    print(
        f"posts/min paced={paced_rate:.1f} best={best_rate:.1f} ratio={ratio:.2f} "
        f"paced_429={paced_429} baseline_429={naive_429}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    args = parser.parse_args()
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    configure_logging(json=True, level=logging.ERROR)  # the baseline's 429 warnings are counted
    asyncio.run(run(args.posts))


if __name__ == "__main__":
    main()
