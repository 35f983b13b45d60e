"""Notifications end to end: ``tikrelay run --once`` (cron) against the TikTok and Telegram
emulators, an SMTP server with STARTTLS and a login, and an HTTP server behind an Apprise json://
URL. A failing source is told once per incident on every channel, "recovered" when it works
again; the daily summary comes at its time (the program's clock moved by the test) with the day's
counts; no secret ever reaches a log, the database or a message."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.jobs_db import FakeClock
from tests.support.relayed import TOKEN, Relayed
from tests.support.smtp import SmtpServer, smtp_server
from tikrelay.config import load_settings
from tikrelay.runtime.app import Runtime
from tikrelay.sandbox.tiktok.faults import Fault, FaultKind
from tikrelay.store import incidents_sql

PASSWORD = "smtp-Pa55-never-shown"
HOOK_SECRET = "apprise-hook-secret-42"
FROM = "tikrelay@example.org"


class Hook:
    """An HTTP server that keeps the JSON bodies posted to it (Apprise's json:// target)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def titles(self) -> list[str]:
        return [str(body["title"]) for body in self.bodies]


@pytest.fixture
def hook() -> Iterator[Hook]:
    found = Hook()
    found.thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    with smtp_server("starttls", user=FROM, password=PASSWORD) as server:
        yield server


def notify_with_every_channel(
    relayed: Relayed, mail: SmtpServer, hook: Hook, admins: int, **more: Any
) -> None:
    assert mail.ca is not None
    ca = relayed.folder / "smtp-ca.pem"
    mail.ca.cert_pem.write_to_path(str(ca))
    relayed.extra = {
        "notify": {
            "telegram_chat_id": admins,
            "email": {
                "smtp_url": f"smtp://127.0.0.1:{mail.port}",
                "from": FROM,
                "to": ["admin@example.org"],
                "ca_bundle": str(ca),  # the test's CA signed the SMTP server's certificate
            },
            "apprise": [f"json://relay:{HOOK_SECRET}@127.0.0.1:{hook.port}/hook"],
            "tz": "UTC",
            **more,
        },
        # One attempt per run: each cron run polls the source again.
        "jobs": {"kinds": {"poll": {"max_attempts": 1}}},
    }
    relayed.env = {"TIKRELAY_SMTP_PASSWORD": PASSWORD}


def texts(relayed: Relayed, chat: int) -> list[str]:
    return [str(m.get("text", "")) for m in relayed.telegram.messages(chat)]


def database_dump(relayed: Relayed) -> str:
    with sqlite3.connect(relayed.folder / "state" / "tikrelay.sqlite3") as conn:
        return "\n".join(conn.iterdump())


def test_a_failing_source_is_told_once_and_its_recovery_too(
    relayed: Relayed, mail: SmtpServer, hook: Hook
) -> None:
    world, telegram = relayed.world, relayed.telegram
    clips = telegram.add_chat("channel", title="Clips", username="clips")
    admins = telegram.add_chat("group", title="Admins")
    world.add_creator("alice", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": clips.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    notify_with_every_channel(relayed, mail, hook, admins.id, source_failing_hours=0)
    world.inject("/@alice", Fault(FaultKind.STATUS, status=503), count=None)
    runs = []

    first = relayed.run()
    runs.append(first)
    assert first.returncode == 3, first.stdout + first.stderr
    [told] = texts(relayed, admins.id)
    assert told.startswith("TikTok source @alice is failing\n\n")
    assert "TikTok source @alice has failed since " in told
    assert " UTC (0 min): " in told
    [email] = mail.wait_for(1)
    assert email.tls
    assert email.login == FROM
    assert email.message["Subject"] == "tikrelay: TikTok source @alice is failing"
    assert "TikTok source @alice has failed since" in email.message.get_content()
    assert hook.titles() == ["TikTok source @alice is failing"]
    assert "has failed since" in hook.bodies[0]["message"]

    second = relayed.run()  # the same incident: polled again, failing again, told nothing
    runs.append(second)
    assert second.returncode == 3, second.stdout + second.stderr
    assert "source tiktok:@alice failed" in second.stdout
    assert len(texts(relayed, admins.id)) == 1
    assert len(mail.received) == 1
    assert len(hook.bodies) == 1

    world.clear_faults()
    third = relayed.run()
    runs.append(third)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "1 delivered" in third.stdout
    recovered = texts(relayed, admins.id)[1]
    assert recovered.startswith("TikTok source @alice recovered\n\n")
    assert "works again since" in recovered
    assert mail.wait_for(2)[1].message["Subject"] == "tikrelay: TikTok source @alice recovered"
    assert hook.titles()[1] == "TikTok source @alice recovered"
    assert len(telegram.messages(clips.id)) == 1

    fourth = relayed.run()  # working, nothing new: nothing to tell
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert len(texts(relayed, admins.id)) == 2
    assert len(hook.bodies) == 2

    # No secret anywhere: the command's output, the database, the messages.
    said = [r.stdout + r.stderr for r in [*runs, fourth]]
    sent = [*texts(relayed, admins.id), *(json.dumps(b) for b in hook.bodies)]
    sent += [r.message.as_string() for r in mail.received]
    everything = "\n".join([*said, database_dump(relayed), *sent])
    for secret in (PASSWORD, HOOK_SECRET, TOKEN):
        assert secret not in everything
    timeline = relayed.newest_timeline("notify")
    assert "NOTIFIED" in timeline
    assert HOOK_SECRET not in timeline


def test_the_daily_summary_comes_at_its_time_with_the_days_counts(
    relayed: Relayed, mail: SmtpServer, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, telegram = relayed.world, relayed.telegram
    clips = telegram.add_chat("channel", title="Clips", username="clips")
    news = telegram.add_chat("channel", title="News", username="news")
    admins = telegram.add_chat("group", title="Admins")
    world.add_creator("alice", videos=2)
    world.add_creator("bob", videos=1)
    relayed.destinations = {
        "clips": {"telegram": {"chat_id": clips.id}},
        "news": {"telegram": {"chat_id": news.id}},
    }
    relayed.sources = [
        {"tiktok": "@alice", "to": ["clips"]},
        {"tiktok": "@bob", "to": ["clips", "news"]},
    ]
    start = datetime.now(UTC)
    at = (start + timedelta(hours=3)).replace(second=0, microsecond=0)
    notify_with_every_channel(relayed, mail, hook, admins.id, daily_summary=at.strftime("%H:%M"))
    run = relayed.run()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 delivered" in run.stdout
    assert texts(relayed, admins.id) == []  # not its time yet

    # The program in this process, as ``serve`` runs it, on a clock the test moves.
    for name, value in {**relayed.env, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(relayed.config)
    clock = FakeClock(start)
    with Runtime.open(settings, config_file=relayed.config) as runtime:
        assert runtime.reposter is not None
        runtime.queue.clock = clock
        # An incident of a source removed since: nothing will end it, nobody needs it listed.
        with runtime.queue.transaction() as conn:
            incidents_sql.record_failure(
                conn, "source:tiktok:@gone", "source", "tiktok:@gone", "HTTP 404", start
            )
        runtime.reposter.notifier.schedule(random.Random(1))
        runtime.work(drain=True)  # a minute early: nothing
        assert texts(relayed, admins.id) == []
        clock.now = at + timedelta(minutes=1)
        runtime.work(drain=True)
        runtime.work(drain=True)  # the next day's is not due yet: sent once
    [summary] = texts(relayed, admins.id)
    assert summary.startswith("daily summary\n\nFrom ")
    lines = summary.splitlines()
    assert "Delivered: 4." in lines
    assert "  TikTok source @alice: 2" in lines
    assert "  TikTok source @bob: 2" in lines
    assert "  clips: 3" in lines
    assert "  news: 1" in lines
    assert "  none" in lines  # no failures
    assert not any("@gone" in line for line in lines)  # closed, not listed
    queue = next(line for line in lines if line.startswith("Queue: "))
    assert " completed" in queue
    assert "failed" not in queue
    assert mail.wait_for(1)[0].message["Subject"] == "tikrelay: daily summary"
    assert hook.titles() == ["daily summary"]
    assert "Delivered: 4." in hook.bodies[0]["message"]
