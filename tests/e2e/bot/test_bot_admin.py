"""Admin commands from Telegram: only `telegram.admins` get answers with figures; maintenance
mode turns new requests away politely, and is shared through the database."""

from __future__ import annotations

import os
import signal

from PIL import Image
from sqlalchemy import func, select

from tests.support.bot import bot_replies
from tests.support.processes import running_bot, wait_until
from tests.support.relayed import FAST, Relayed
from tikrelay.config import load_settings
from tikrelay.store import open_engine
from tikrelay.store.tables import deliveries


def test_admin_commands_answer_admins_and_refuse_everyone_else(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    boss = telegram.add_user("Boss")
    guest = telegram.add_user("Guest")
    boss_chat = telegram.add_chat("private", person=boss)
    guest_chat = telegram.add_chat("private", person=guest)
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice")
    post = world.add_video("alice", desc="wanted")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    relayed.extra = {"telegram": {"api_url": telegram.url, "admins": [boss.id]}}
    for command, args in [
        ("health", ""),
        ("job", "999999"),
        ("retry", "soon"),
        ("pause", "@alice"),
        ("maintenance", "on"),
    ]:
        telegram.user_command(boss_chat.id, command, args)
    telegram.user_command(guest_chat.id, "health")
    telegram.user_command(guest_chat.id, "maintenance", "off")

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, boss_chat.id)) == 5, 60, proc)
        wait_until(lambda: len(bot_replies(relayed, guest_chat.id)) == 2, 60, proc)
        # Maintenance is on: a link gets a polite refusal, and nothing is fetched.
        telegram.user_message(guest_chat.id, post.url)
        wait_until(lambda: len(bot_replies(relayed, guest_chat.id)) == 3, 60, proc)
        telegram.user_command(boss_chat.id, "maintenance", "off")
        wait_until(lambda: len(bot_replies(relayed, boss_chat.id)) == 6, 60, proc)
        telegram.user_message(guest_chat.id, post.url)
        wait_until(lambda: any("video" in m for m in telegram.messages(guest_chat.id)), 60, proc)

    health, job, retry, pause, on, off = bot_replies(relayed, boss_chat.id)
    assert health.startswith("Jobs by status:")
    assert "Errors in the last 24 h by kind:" in health
    assert "yt-dlp 20" in health
    assert job == "There is no job 999999."
    assert retry == "Use /retry JOB_ID, such as /retry 42."
    assert pause.startswith("source tiktok:@alice comes from")
    assert pause.endswith("change it there")
    assert on == "Maintenance mode is on: new requests get a polite refusal."
    assert off == "Maintenance mode is off: requests are answered again."
    refused, refused_too, maintenance = bot_replies(relayed, guest_chat.id)
    assert refused == refused_too == "This command is for the bot's admins."
    assert maintenance.startswith("I am being serviced right now")
    assert "Jobs by status" not in "".join(bot_replies(relayed, guest_chat.id))


def recorded_deliveries(relayed: Relayed) -> int:
    engine = open_engine(load_settings(relayed.config))
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(deliveries)).scalar_one())
    finally:
        engine.dispose()


def test_stats_give_admins_figures_and_a_chart_and_others_nothing(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    boss, guest = telegram.add_user("Boss"), telegram.add_user("Guest")
    boss_chat = telegram.add_chat("private", person=boss)
    guest_chat = telegram.add_chat("private", person=guest)
    world.add_creator("alice")
    post = world.add_video("alice", desc="counted")
    relayed.extra = {"telegram": {"api_url": telegram.url, "admins": [boss.id]}}
    telegram.user_message(guest_chat.id, post.url)

    with running_bot(relayed) as proc:
        wait_until(lambda: any("video" in m for m in telegram.messages(guest_chat.id)), 60, proc)
        # The delivery is recorded as its job completes, a moment after the video arrived.
        wait_until(lambda: recorded_deliveries(relayed) == 1, 60, proc)
        telegram.user_command(boss_chat.id, "stats")
        telegram.user_command(guest_chat.id, "stats")
        wait_until(lambda: any("photo" in m for m in telegram.messages(boss_chat.id)), 60, proc)
        wait_until(lambda: len(bot_replies(relayed, guest_chat.id)) == 1, 60, proc)
    [figures] = bot_replies(relayed, boss_chat.id)
    assert figures == (
        "Last 30 days: 1 requests, 1 deliveries, up to 2 people a day "
        "(today: 1 requests, 2 people)."
    )
    [chart] = [m for m in telegram.messages(boss_chat.id) if "photo" in m]
    with Image.open(telegram.file_path(chart["photo"][-1]["file_id"])) as image:
        assert image.size == (900, 420)
    assert bot_replies(relayed, guest_chat.id) == ["This command is for the bot's admins."]
    assert not [m for m in telegram.messages(guest_chat.id) if "photo" in m]


def test_a_broadcast_reaches_everyone_who_started_the_bot_across_a_kill(
    relayed: Relayed,
) -> None:
    telegram = relayed.telegram
    boss = telegram.add_user("Boss")
    boss_chat = telegram.add_chat("private", person=boss)
    people = [telegram.add_user(f"Fan {n}") for n in range(6)]
    chats = [telegram.add_chat("private", person=person) for person in people]
    blocked = telegram.add_chat("private", person=telegram.add_user("Gone"), bot_status="kicked")
    relayed.extra = {"telegram": {"api_url": telegram.url, "admins": [boss.id], "flood": FAST}}
    for chat in [*chats, blocked]:
        telegram.user_command(chat.id, "start")
    text = "Big news!\\nSecond line."

    def got_it(chat_id: int) -> int:
        return sum(1 for m in telegram.messages(chat_id) if m.get("text") == text)

    with running_bot(relayed) as proc:
        wait_until(lambda: all(len(bot_replies(relayed, c.id)) == 1 for c in chats), 60, proc)
        for nth in range(1, 100):
            telegram.delay_call("sendMessage", nth=nth, seconds=0.3)
        telegram.user_command(boss_chat.id, "broadcast", text)
        wait_until(lambda: sum(got_it(c.id) for c in chats) >= 2, 60, proc)
        os.kill(proc.pid, signal.SIGKILL)
    telegram.clear_faults()
    with running_bot(relayed) as proc:
        wait_until(lambda: any("done" in r for r in bot_replies(relayed, boss_chat.id)), 120, proc)
    queued, done = bot_replies(relayed, boss_chat.id)
    assert queued.startswith("Broadcast queued as job")
    assert queued.endswith("to 7 people.")
    assert done.endswith("done: sent to 6 of 7 people (1 could not get it).")
    counts = [got_it(c.id) for c in chats]
    assert min(counts) == 1
    assert sum(counts) <= len(chats) + 1  # at most one twice, the one sent as the process died


def test_debug_sends_admins_a_jobs_whole_timeline_as_a_file(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    boss, guest = telegram.add_user("Boss"), telegram.add_user("Guest")
    boss_chat = telegram.add_chat("private", person=boss)
    guest_chat = telegram.add_chat("private", person=guest)
    world.add_creator("alice")
    post = world.add_video("alice", desc="traced")
    relayed.extra = {"telegram": {"api_url": telegram.url, "admins": [boss.id]}}
    telegram.user_message(guest_chat.id, post.url)

    def documents() -> list[dict[str, object]]:
        return [m for m in telegram.messages(boss_chat.id) if "document" in m]

    with running_bot(relayed) as proc:
        wait_until(lambda: any("video" in m for m in telegram.messages(guest_chat.id)), 60, proc)
        request_id = relayed.run(
            "jobs", "list", "--kind", "request", "--config", str(relayed.config)
        )
        job_id = request_id.stdout.splitlines()[1].split()[0]
        telegram.user_command(boss_chat.id, "debug", job_id)
        telegram.user_command(guest_chat.id, "debug", job_id)
        wait_until(lambda: len(documents()) == 1, 60, proc)
        wait_until(lambda: len(bot_replies(relayed, guest_chat.id)) == 1, 60, proc)
    [said] = bot_replies(relayed, boss_chat.id)
    assert said == f"Job {job_id}: request, COMPLETED; its whole timeline follows."
    [document] = documents()
    log = telegram.file_path(document["document"]["file_id"]).read_text()  # type: ignore[index]
    assert log.startswith(f"job {job_id}  kind=request  status=COMPLETED")
    for event in ("JOB_CREATED", "STAGE_STARTED", "TELEGRAM_SEND", "SENT"):
        assert event in log
    assert post.url in log  # the payload, whole
    assert relayed.run("jobs", "show", job_id, "--config", str(relayed.config)).stdout == log
    assert bot_replies(relayed, guest_chat.id) == ["This command is for the bot's admins."]
    assert not [m for m in telegram.messages(guest_chat.id) if "document" in m]


def test_queue_pause_and_resume_a_creator_and_switch_archiving_off(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    boss = telegram.add_user("Boss")
    boss_chat = telegram.add_chat("private", person=boss)
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("bob")
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": channel.id}},
        "vault": {"archive": {"path": str(relayed.folder / "vault")}},
    }
    relayed.extra = {
        "telegram": {"api_url": telegram.url, "admins": [boss.id]},
        "bot": {"archive_to": "vault"},
    }
    added = relayed.run("sources", "add", "@bob", "--to", "clips", "--config", str(relayed.config))
    assert added.returncode == 0, added.stderr
    for command, args in [
        ("queue", ""),
        ("pause", "@bob"),
        ("pause", "@bob"),
        ("resume", "@bob"),
        ("archive_on", ""),
        ("archive_off", ""),
    ]:
        telegram.user_command(boss_chat.id, command, args)

    with running_bot(relayed) as proc:
        wait_until(lambda: len(bot_replies(relayed, boss_chat.id)) == 6, 60, proc)
    queue, paused, again, resumed, on, off = bot_replies(relayed, boss_chat.id)
    # The /queue update itself runs; the admin's next commands wait behind it (one per chat).
    assert queue.splitlines()[0].strip() == "#1 bot_update RUNNING"
    assert "#6 bot_update QUEUED" in queue
    assert paused == "Paused tiktok:@bob: it is not polled until /resume."
    assert again == "tiktok:@bob was paused already."
    assert resumed == "Resumed tiktok:@bob: it is polled again."
    assert on.startswith("Archiving is on")
    assert off == "Archiving is off for this chat."
    listed = relayed.run("sources", "list", "--config", str(relayed.config)).stdout
    [row] = [line.split() for line in listed.splitlines() if "tiktok:@bob" in line]
    assert row[:3] == ["tiktok:@bob", "cli", "no"]  # not paused
