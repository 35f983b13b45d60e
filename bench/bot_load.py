"""The interactive bot under load: 100 people send TikTok links at the same moment, with Telegram's
flood limits on and the CDN throttled; then 100 others ask for the same posts again.

    uv run python bench/bot_load.py [--users 100] [--posts 10] [--seconds-per-video 1.0]
                                    [--repeat-per-second 5]

Both emulators run in this process; the real ``python -m tikrelay bot`` runs in a fresh one with
a fresh state folder (SQLite) and its default settings, except ``bot.limits.global_active``,
raised to ``--users`` so that nobody is told "I am very busy" (the default, 50, would turn half of
the first wave away, which is that limit's purpose, not what is measured here). ``TIKRELAY_*``
variables in the environment reach the bot, which is how a setting is tried (the bench prints
them). The Telegram emulator enforces Telegram's flood limits (a burst of 3 then one message a
second per chat, 30 a second per bot), which are also the bot's own default pace; the TikTok
emulator's CDN sends each clip (about 50 kB) at a rate that makes one download take
``--seconds-per-video``, per connection.

- **first wave**: ``--users`` people, each in a private chat with the bot, send one link at the
  same moment; the links are ``--posts`` distinct posts shared round-robin (10 people per post by
  default: a crowd at once is a few posts going round, and the wave then holds downloads and
  uploads as well as answers by file id). Time to media, per person: from just before the bench
  injected the message to the moment the emulator had posted the accepted ``sendVideo`` in that
  chat.
- **second wave**: as many other people send the same links again, one every
  ``1 / --repeat-per-second`` s (0: all at once). Each must be answered by file id: no request to
  TikTok at all and no upload, or the bench fails. Update received to sendVideo, per person: from
  the moment the emulator's getUpdates handed that update to the bot to the moment the bot's
  ``sendVideo`` for that chat reached the emulator. The bench sees both moments inside the
  emulator: it wraps the emulator's update queue and call record, in this process only; nothing
  is added to the emulator. 5 a second by default: each answer costs the bot three calls its
  pacer counts (the 👀 reaction, the video, the reaction taken away), so 10 a second would use
  Telegram's whole 30 a second per bot, and 100 at once cannot be answered in less than 10 s.

Each wave's time is also split into steps by the bot's own timeline (its database: the
``bot_updates`` row, the jobs' start times, the TELEGRAM_SEND stage), to show where it goes; the
first wave is set beside its floor, the larger of the paced calls at 30 a second and the downloads
three at a time. Peak RSS is the bot process's ``VmHWM`` (its resident high-water mark; ffmpeg,
a child, is not in it), read when the bot is ready and again before it is stopped. 429 answers are
counted over the whole run. Target: 0 x 429 and answers by file id with a p95 of at most 50 ms.
The last line is machine-readable:
``bot_load users=<n> p50_s=<s> p95_s=<s> max_s=<s> retry_after=<429s> rss_mb=<MB>
file_id_p50_ms=<ms> file_id_p95_ms=<ms>``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tikrelay.sandbox.telegram import TelegramEmulator
    from tikrelay.sandbox.telegram.world import CallRecord, Chat
    from tikrelay.sandbox.tiktok import Post, TikTokEmulator, TikTokWorld

TOKEN = "123456:BENCH-BOT"  # noqa: S105 - a made-up token the emulator accepts
TARGET_MS = 50.0
WAVE_SECONDS = 600.0  # a wave that takes longer than this has hung
DOWNLOADS = 3  # delivery.downloads, the default
PACED = ("sendMessage", "sendVideo", "setMessageReaction")  # what the bot's pacer counts


# -- watching the Telegram emulator ---------------------------------------------------------------


@dataclass
class Watch:
    """When the emulator handed each update to the bot, and when it had answered each call."""

    handed: dict[int, float] = field(default_factory=dict)  # update_id -> time.time()
    answered: dict[int, float] = field(default_factory=dict)  # id(CallRecord) -> time.time()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, telegram: TelegramEmulator) -> None:
        """Wrap the emulator's update queue and call record (instances only, this process only).

        getUpdates answers what ``queue.get`` returns; a call is recorded right after its
        handler ran (a message is in its chat by then) and before the answer goes out."""
        queue, world = telegram.env.queue, telegram.env.world
        get, add_record = queue.get, world.add_record

        async def get_stamped(offset: int | None, limit: int, wait: float) -> list[dict[str, Any]]:
            found = await get(offset, limit, wait)
            now = time.time()
            with self.lock:
                for update in found:
                    self.handed.setdefault(update["update_id"], now)
            return found

        def add_stamped(record: CallRecord) -> None:
            now = time.time()
            with self.lock:
                self.answered[id(record)] = now
            add_record(record)

        queue.get = get_stamped  # type: ignore[method-assign]
        world.add_record = add_stamped  # type: ignore[method-assign]

    def done_at(self, record: CallRecord) -> float:
        with self.lock:
            return self.answered.get(id(record), record.time)


@dataclass
class Asked:
    """One person's link: who, which post, when it was sent and its update."""

    chat_id: int
    post: Post
    sent: float
    update_id: int


@dataclass(frozen=True)
class Figures:
    values: list[float]  # per person, sorted: seconds, or ms for the steps

    def at(self, share: float) -> float:
        """The nearest-rank percentile."""
        index = max(0, math.ceil(share * len(self.values)) - 1)
        return self.values[index]

    @property
    def line(self) -> str:
        s = self.values
        return (
            f"p50 {self.at(0.5):.3f} s, p95 {self.at(0.95):.3f} s, max {s[-1]:.3f} s "
            f"(min {s[0]:.3f} s, mean {statistics.fmean(s):.3f} s, n={len(s)})"
        )


# -- the worlds -----------------------------------------------------------------------------------


def populate(world: TikTokWorld, count: int) -> list[Post]:
    """``count`` video posts of ten creators, an hour apart."""
    now = int(time.time())
    posts = []
    creators = [f"load_{c:02d}" for c in range(min(10, count))]
    for name in creators:
        world.add_creator(name)
    for index in range(count):
        name = creators[index % len(creators)]
        at = now - (count - index) * 3600
        posts.append(world.add_video(name, desc=f"{name} clip {index + 1}", at=at))
    return posts


def people(telegram: TelegramEmulator, count: int, prefix: str) -> list[Chat]:
    chats = []
    for index in range(count):
        person = telegram.add_user(f"{prefix} {index + 1}")
        chats.append(telegram.add_chat("private", person=person))
    return chats


def write_config(folder: Path, tiktok: TikTokEmulator, telegram_url: str, users: int) -> Path:
    import yaml

    ca = folder / "tiktok-ca.pem"
    ca.write_bytes(tiktok.ca_pem)
    data: dict[str, Any] = {
        "state_dir": str(folder / "state"),
        "telegram": {"api_url": telegram_url},  # the default pace: Telegram's limits
        "network": {"proxies": [tiktok.proxy_url], "ca_bundle": str(ca)},
        "bot": {"limits": {"global_active": max(50, users)}},
    }
    path = folder / "tikrelay.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@contextmanager
def running_bot(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}
    with log.open("wb") as out:
        command = [sys.executable, "-m", "tikrelay", "bot", "--config", str(config)]
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(
    condition: Callable[[], bool], seconds: float, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            raise SystemExit(f"the bot exited with {proc.returncode}; see its log")
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not get there in time")
        time.sleep(0.01)


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` of a live process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise SystemExit("no VmHWM in /proc: peak RSS needs Linux")


# -- the waves ------------------------------------------------------------------------------------


def send_wave(
    telegram: TelegramEmulator, chats: list[Chat], posts: list[Post], per_second: float
) -> list[Asked]:
    """Each chat sends one link, round-robin over ``posts``: all at once, or ``per_second``."""
    asked = []
    started = time.monotonic()
    for index, chat in enumerate(chats):
        if per_second > 0:
            pause = started + index / per_second - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        post = posts[index % len(posts)]
        sent = time.time()
        update = telegram.user_message(chat.id, post.url)
        asked.append(Asked(chat.id, post, sent, update["update_id"]))
    return asked


def videos_for(telegram: TelegramEmulator, asked: list[Asked]) -> dict[int, list[CallRecord]]:
    chats = {a.chat_id for a in asked}
    found: dict[int, list[CallRecord]] = {chat: [] for chat in chats}
    for record in telegram.calls("sendVideo", ok=True):
        if record.chat_id in found:
            found[int(record.chat_id)].append(record)
    return found


def settled(telegram: TelegramEmulator, asked: list[Asked]) -> bool:
    """Every person has a video, and the bot took its 👀 away again (the request is done).
    A text to one of them is a refusal or a failure: the bench stops and says it."""
    chats = {a.chat_id for a in asked}
    said = [r.text for r in telegram.calls("sendMessage") if r.chat_id in chats]
    if said:
        raise SystemExit(f"the bot answered with text instead of a video: {said[0]!r}")
    if not all(videos_for(telegram, asked).values()):
        return False
    cleared = {
        (r.chat_id, tuple(r.message_ids))
        for r in telegram.calls("setMessageReaction", ok=True)
        if r.params.get("reaction") == "[]"
    }
    return len({pair for pair in cleared if pair[0] in chats}) == len(asked)


@dataclass
class WaveResult:
    asked: list[Asked]
    to_seen: Figures  # the message sent -> the bot's 👀 reaction on it
    to_media: Figures  # the message sent -> its video in the chat
    to_send: Figures  # the update handed to the bot -> its sendVideo reached the emulator
    sends: dict[int, float]  # chat -> when its sendVideo reached the emulator
    uploads: int
    by_file_id: int
    tiktok: dict[str, int]  # requests to TikTok: pages, video downloads, all
    calls: Counter[str]  # Telegram calls about the wave's chats, by method ("… refused" too)
    seconds: float  # the first message sent -> the last video in its chat


def measure_wave(
    telegram: TelegramEmulator, world: TikTokWorld, watch: Watch, asked: list[Asked]
) -> WaveResult:
    from tikrelay.sandbox.tiktok.model import VIDEO_HOST, WEB_HOST

    videos = videos_for(telegram, asked)
    twice = {chat: len(found) for chat, found in videos.items() if len(found) != 1}
    if twice:
        raise SystemExit(f"people did not get exactly one video: {twice}")
    media, send, sends = [], [], {}
    for one in asked:
        [record] = videos[one.chat_id]
        media.append(watch.done_at(record) - one.sent)
        send.append(record.time - watch.handed[one.update_id])
        sends[one.chat_id] = record.time
    sent = [r for found in videos.values() for r in found]
    got = world.requests()
    tiktok = {
        "pages": sum(1 for r in got if r.host == WEB_HOST),
        "videos": sum(1 for r in got if r.host == VIDEO_HOST and r.method == "GET"),
        "all": len(got),
    }
    chats = set(sends)
    made = [r for r in telegram.record if r.chat_id in chats]
    seen: dict[int | str, float] = {}
    for r in made:
        if r.method == "setMessageReaction" and r.ok and r.chat_id is not None:
            seen.setdefault(r.chat_id, watch.done_at(r))
    to_seen = [seen[one.chat_id] - one.sent for one in asked]
    calls = Counter(r.method for r in made)
    calls.update(f"{r.method} refused" for r in made if not r.ok)
    return WaveResult(
        asked,
        Figures(sorted(to_seen)),
        Figures(sorted(media)),
        Figures(sorted(send)),
        sends,
        sum(1 for r in sent if any(f.source == "upload" for f in r.files)),
        sum(1 for r in sent if any(f.source == "file_id" for f in r.files)),
        tiktok,
        calls,
        max(watch.done_at(r) for r in sent) - min(a.sent for a in asked),
    )


# -- where the time goes, from the bot's own timeline (its database) ------------------------------

STEPS = (
    "handed to the bot -> update stored (PTB parses it, intake transaction)",
    "update stored -> bot_update job started (claimed)",
    "bot_update started -> request job stored (spam guard, limits, preferences)",
    "request stored -> request job started (👀 reaction, bot_update done, claim)",
    "request started -> TELEGRAM_SEND stage (file ids or page, download, remux)",
    "TELEGRAM_SEND -> sendVideo at the emulator (chat order, intent, probe, pacer)",
)
_MOMENTS = (
    "select u.update_id, u.received_at, b.started_at, r.created_at, j.started_at, "
    "(select min(e.at) from job_events e where e.job_id = r.job_id and e.type = 'STAGE_STARTED' "
    " and json_extract(e.data, '$.stage') = 'TELEGRAM_SEND') "
    "from bot_updates u join jobs b on b.id = u.job_id "
    "join bot_requests r on r.chat_id = u.chat_id join jobs j on j.id = r.job_id"
)


def timeline(database: Path, watch: Watch, wave: WaveResult) -> list[Figures]:
    """Each step between the update and the sendVideo, per person, in ms."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        by_update = {row[0]: row[1:] for row in db.execute(_MOMENTS)}
    spans: list[list[float]] = [[] for _ in STEPS]
    for one in wave.asked:
        row = by_update.get(one.update_id)
        if row is None or None in row:
            raise SystemExit(f"no full timeline in the bot's database for update {one.update_id}")
        moments = [watch.handed[one.update_id], *(_epoch(text) for text in row)]
        moments.append(wave.sends[one.chat_id])
        for index in range(len(STEPS)):
            spans[index].append((moments[index + 1] - moments[index]) * 1000)
    return [Figures(sorted(values)) for values in spans]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# -- the bench ------------------------------------------------------------------------------------


def measure(users: int, post_count: int, seconds_per_video: float, per_second: float) -> None:
    from tikrelay.config.paths import StatePaths
    from tikrelay.sandbox.fixtures import MediaFixtures
    from tikrelay.sandbox.telegram import TelegramEmulator
    from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

    world = TikTokWorld(MediaFixtures.at())
    posts = populate(world, post_count)
    size = statistics.fmean(post.media.clean_size for post in posts)
    rate = round(size / seconds_per_video)
    world.throttle_cdn(rate)
    pace = "all at once" if per_second <= 0 else f"{per_second:g} a second"
    print(
        f"{users} people at once, {len(posts)} posts ({size / 1000:.1f} kB clips, CDN throttled "
        f"to {rate:,} B/s per connection), Telegram's flood limits on; then {users} others ask "
        f"for the same posts again, {pace}",
        flush=True,
    )
    overrides = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("TIKRELAY_"))
    if overrides:
        print(f"the bot's settings changed by the environment: {' '.join(overrides)}")
    with tempfile.TemporaryDirectory(prefix="tikrelay-bench-") as name:
        folder = Path(name)
        watch = Watch()
        telegram_emu = TelegramEmulator(TOKEN, flood_limits=True, files_dir=folder / "telegram")
        watch.attach(telegram_emu)
        with (
            TikTokEmulator(world).running() as tiktok,
            telegram_emu.running() as telegram,
        ):
            first_chats = people(telegram, users, "First")
            again_chats = people(telegram, users, "Again")
            config = write_config(folder, tiktok, telegram.url, users)
            log = folder / "bot.log"
            with running_bot(config, log) as proc:
                wait_until(telegram.env.queue.parked.is_set, 60, proc)
                started_mb = peak_rss_mb(proc.pid)  # the bot ready, nothing asked yet
                world.clear_log()
                first = send_wave(telegram, first_chats, posts, 0)
                wait_until(lambda: settled(telegram, first), WAVE_SECONDS, proc)
                one = measure_wave(telegram, world, watch, first)
                world.clear_log()
                again = send_wave(telegram, again_chats, posts, per_second)
                wait_until(lambda: settled(telegram, again), WAVE_SECONDS, proc)
                two = measure_wave(telegram, world, watch, again)
                rss = (started_mb, peak_rss_mb(proc.pid))
            # The stopped bot's long poll is still parked in the emulator: one more message
            # answers it, so the emulator's loop closes with no request pending.
            telegram.user_message(first_chats[0].id, "bye")
            if proc.returncode != 0:
                raise SystemExit(f"the bot exited with {proc.returncode}:\n{log.read_text()}")
            refused = [r for r in telegram.record if r.status == 429]
            database = StatePaths(folder / "state").database_file
            steps = [timeline(database, watch, wave) for wave in (one, two)]
    downloads = math.ceil(len(posts) / DOWNLOADS) * seconds_per_video
    report(users, [one, two], steps, len(refused), rss, downloads)
    if two.uploads or two.tiktok["all"]:
        raise SystemExit("the second wave was not answered by file id alone")


def paced(wave: WaveResult) -> int:
    """The wave's calls that the bot's pacer counts (sends and reactions), accepted ones."""
    return sum(wave.calls[m] - wave.calls[f"{m} refused"] for m in PACED)


def report(
    users: int,
    waves: list[WaveResult],
    steps: list[list[Figures]],
    refused: int,
    rss: tuple[float, float],
    downloads: float,
) -> None:
    for name, wave in zip(("first wave", "second wave"), waves, strict=True):
        got = wave.tiktok
        calls = ", ".join(f"{method} {n}" for method, n in sorted(wave.calls.items()))
        print(
            f"{name}: {wave.seconds:.2f} s until the last video; TikTok: {got['pages']} page "
            f"reads, {got['videos']} video downloads; sendVideo: {wave.uploads} uploads, "
            f"{wave.by_file_id} by file id; Telegram calls: {calls}"
        )
        print(f"  time to the 👀 reaction:      {wave.to_seen.line}")
        print(f"  time to media:                {wave.to_media.line}")
        print(f"  update received to sendVideo: {wave.to_send.line}")
    print("update handed to the bot -> sendVideo, step by step from the bot's timeline, ms:")
    print(f"  {'step':<78} {'p50':>7} {'p95':>7}  {'p50':>6} {'p95':>6}")
    print(f"  {'':<78} {'first wave':>15}  {'second wave':>13}")
    for index, name in enumerate(STEPS):
        a, b = steps[0][index], steps[1][index]
        print(
            f"  {name:<78} {a.at(0.5):>7.0f} {a.at(0.95):>7.0f}  "
            f"{b.at(0.5):>6.1f} {b.at(0.95):>6.1f}"
        )
    from tikrelay.sandbox.telegram import FloodLimits

    one, two = waves
    per_second = FloodLimits().bot_per_second
    pacing = paced(one) / per_second
    floor = max(pacing, downloads)
    print(
        f"first wave's floor: {paced(one)} paced calls (sends and reactions) at Telegram's "
        f"{per_second} a second take {pacing:.1f} s, the downloads ({DOWNLOADS} at a time) "
        f"{downloads:.1f} s; the last video came at {one.seconds / floor:.2f}x the larger"
    )
    p95_ms = two.to_send.at(0.95) * 1000
    verdict = "met" if p95_ms <= TARGET_MS and refused == 0 else "missed"
    print(
        f"429 answers: {refused}; bot RSS {rss[0]:.1f} MB when ready, peak {rss[1]:.1f} MB; "
        f"file id answers p95 {p95_ms:.1f} ms (target <= {TARGET_MS:g} ms and 0 x 429: {verdict})"
    )
    rss_mb = rss[1]
    media = one.to_media
    print(
        f"bot_load users={users} p50_s={media.at(0.5):.2f} p95_s={media.at(0.95):.2f} "
        f"max_s={media.values[-1]:.2f} retry_after={refused} rss_mb={rss_mb:.1f} "
        f"file_id_p50_ms={two.to_send.at(0.5) * 1000:.1f} file_id_p95_ms={p95_ms:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="people in each wave")
    parser.add_argument("--posts", type=int, default=10, help="distinct posts they share")
    parser.add_argument(
        "--seconds-per-video", type=float, default=1.0, help="download time of one clip"
    )
    parser.add_argument(
        "--repeat-per-second",
        type=float,
        default=5.0,
        help="second wave's arrival rate (0: all at once)",
    )
    args = parser.parse_args()
    if min(args.users, args.posts) < 1 or args.seconds_per_video <= 0:
        parser.error("counts must be at least 1 and --seconds-per-video above 0")
    if args.repeat_per_second < 0:
        parser.error("--repeat-per-second must be 0 or more")
    measure(args.users, min(args.posts, args.users), args.seconds_per_video, args.repeat_per_second)


if __name__ == "__main__":
    main()
