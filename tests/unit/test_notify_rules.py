"""The rules of incidents and the words of notifications (pure), and the notify settings' checks:
each mistake named by its key, with the fix, and never a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tikrelay.config import load_settings
from tikrelay.config.loader import ConfigError
from tikrelay.domain.errors import ErrorKind
from tikrelay.reposter import notify_texts as texts

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
K = ErrorKind


@pytest.mark.parametrize(
    ("kind", "failing_for", "hours", "told"),
    [
        (K.NETWORK, timedelta(0), 24, False),  # a first network failure: wait and see
        (K.NETWORK, timedelta(hours=23, minutes=59), 24, False),
        (K.NETWORK, timedelta(hours=24), 24, True),  # a day of it: a person is needed
        (K.HTTP, timedelta(hours=30), 24, True),
        (K.RATE_LIMIT, timedelta(0), 0, True),  # source_failing_hours: 0 tells at once
        (K.AUTH, timedelta(0), 24, True),  # an expired login: at once
        (K.EXTRACTOR, timedelta(0), 24, True),  # a broken extractor: at once
        (K.EXTRACTOR_UPDATE_REQUIRED, timedelta(0), 24, True),
        (K.CANCELLED, timedelta(days=3), 24, False),  # not the source's failure
        (K.DISK_FULL, timedelta(days=3), 0, False),  # the disk's incident, not the source's
    ],
)
def test_when_a_failing_source_needs_a_person(
    kind: ErrorKind, failing_for: timedelta, hours: float, told: bool
) -> None:
    assert texts.needs_a_person(kind, T0, T0 + failing_for, hours) is told


@pytest.mark.parametrize(
    ("kind", "incident"),
    [
        (K.AUTH, "auth"),
        (K.EXTRACTOR, "extractor"),
        (K.EXTRACTOR_UPDATE_REQUIRED, "extractor"),
        (K.NETWORK, "source"),
        (K.PRIVATE, "source"),
    ],
)
def test_the_incident_a_failure_makes(kind: ErrorKind, incident: str) -> None:
    assert texts.incident_kind(kind) == incident


@pytest.mark.parametrize(
    ("total", "free", "percent", "low"),
    [(100, 4, 5, True), (100, 5, 5, False), (100, 0, 0, False), (0, 0, 5, False)],
)
def test_a_nearly_full_disk(total: int, free: int, percent: float, low: bool) -> None:
    assert texts.disk_low(total, free, percent) is low


def test_a_failing_message_says_what_since_when_and_what_to_do() -> None:
    message = texts.source_failing(
        "tiktok:@alice",
        K.EXTRACTOR_UPDATE_REQUIRED,
        "Unable to extract universal data",
        T0,
        T0 + timedelta(hours=24),
        ZoneInfo("UTC"),
    )
    assert message.title == "TikTok source @alice is failing"
    assert message.text == (
        "TikTok source @alice has failed since 2026-12-05 08:00 UTC (24 h): "
        "extractor-update-required: Unable to extract universal data; update yt-dlp "
        "(uv lock --upgrade-package yt-dlp) and run again."
    )


def test_times_are_in_the_notify_time_zone() -> None:
    message = texts.source_recovered(
        "url:https://example.org/list", T0, T0 + timedelta(minutes=90), ZoneInfo("Europe/Berlin")
    )
    assert message.title == "source https://example.org/list recovered"
    assert "since 2026-12-05 10:30 CET, after failing since 2026-12-05 09:00 CET (1.5 h)" in (
        message.text
    )


def test_the_daily_summary_lists_every_count() -> None:
    figures = texts.SummaryFigures(
        since=T0 - timedelta(days=1),
        now=T0,
        by_source={"tiktok:@bob": 0, "tiktok:@alice": 3},
        by_destination={"clips": 3},
        failures={"network": 1, "auth": 2},
        queue={"FAILED": 1, "COMPLETED": 9, "PENDING": 2},
        failing=[("TikTok source @bob", T0 - timedelta(hours=30))],
    )
    assert texts.daily_summary(figures, ZoneInfo("UTC")).text.splitlines() == [
        "From 2026-12-04 08:00 UTC to 2026-12-05 08:00 UTC.",
        "Delivered: 3.",
        "By source:",
        "  TikTok source @alice: 3",
        "  TikTok source @bob: 0",
        "By destination:",
        "  clips: 3",
        "Failures by kind (jobs failed or retried):",
        "  auth: 2",
        "  network: 1",
        "Queue: 2 pending, 9 completed, 1 failed.",
        "Failing now:",
        "  TikTok source @bob since 2026-12-04 02:00 UTC",
    ]


EMAIL = {"smtp_url": "smtp://mail.example.org:587", "from": "t@example.org", "to": ["a@b.org"]}


@pytest.mark.parametrize(
    ("notify", "key", "fix"),
    [
        ({"email": {**EMAIL, "smtp_url": "http://mail:25"}}, "notify.email.smtp_url", "smtps://"),
        (
            {"email": {**EMAIL, "smtp_url": "smtp://me:hunter2@mail:25"}},
            "notify.email.smtp_url",
            "TIKRELAY_SMTP_PASSWORD",
        ),
        ({"email": {**EMAIL, "smtp_url": "smtp://mail:99999"}}, "notify.email.smtp_url", "port"),
        ({"email": {**EMAIL, "from": "nobody"}}, "notify.email.from", "you@example.com"),
        ({"email": {**EMAIL, "to": []}}, "notify.email.to", "at least 1"),
        ({"telegram_chat_id": 1, "daily_summary": "8:60"}, "notify.daily_summary", "HH:MM"),
        ({"telegram_chat_id": 1, "daily_summary": "24:00"}, "notify.daily_summary", "HH:MM"),
        ({"telegram_chat_id": 1, "daily_summary": 480}, "notify.daily_summary", "quoted"),
        ({"daily_summary": "08:00"}, "notify", "telegram_chat_id, email or apprise"),
        ({"telegram_chat_id": True}, "notify.telegram_chat_id", "numeric chat id"),
        ({"telegram_chat_id": 1, "tz": "Mars/Olympus"}, "notify.tz", "IANA"),
        ({"source_failing_hours": -1}, "notify.source_failing_hours", "greater than"),
        ({"disk_free_percent": 100}, "notify.disk_free_percent", "less than 100"),
        ({"apprise": ["nope://token-abc-123@x"]}, "notify.apprise.0", "Apprise supports"),
        ({"apprise": ["json://u:token-abc-123@"]}, "notify.apprise.0", "Apprise supports"),
    ],
)
def test_a_mistake_names_its_key_and_the_fix_never_a_secret(
    notify: dict[str, object], key: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, notify=notify)
    said = str(caught.value)
    assert f"{key}: " in said
    assert fix in said
    assert "hunter2" not in said
    assert "token-abc-123" not in said


def test_a_complete_notify_section_loads() -> None:
    settings = load_settings(
        None,
        notify={
            "telegram_chat_id": "@admins",
            "email": {**EMAIL, "to": "one@example.org"},
            "apprise": "json://u:token-abc-123@127.0.0.1:8080/hook",
            "daily_summary": "08:00",
            "tz": "Europe/Berlin",
        },
    )
    notify = settings.notify
    assert notify.channels == ["telegram", "email", "apprise:0"]
    assert notify.email is not None
    assert notify.email.to == ["one@example.org"]
    assert "token-abc-123" not in repr(notify)
    assert notify.source_failing_hours == 24
    assert notify.disk_free_percent == 5
