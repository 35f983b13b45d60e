"""The posting schedule's rules (``domain.schedule``), table-driven, and a simulated week of
drip-feeding checked send by send against every rule at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tikrelay.config.settings import DestinationSettings, ScheduleSettings
from tikrelay.domain.schedule import (
    PostingRules,
    ScheduleError,
    next_send,
    parse_clock,
    parse_days,
    parse_hours,
    plan,
)

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2026-12-07, 10:00 in Berlin (09:00 UTC).
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN).astimezone(UTC)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """December ``day``, 2026, at ``hour:minute`` Berlin time, in UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def rules(**given: object) -> PostingRules:
    return ScheduleSettings.model_validate(given).rules("Europe/Berlin")


@pytest.mark.parametrize(
    ("schedule", "sent", "now", "expected"),
    [
        # No rule: at once.
        ({}, [berlin(7, 9, 59)], MONDAY_10, MONDAY_10),
        # max_per_hour is a rolling 60 minutes: the oldest of the last 2 leaves the window.
        ({"max_per_hour": 2}, [berlin(7, 9, 20), berlin(7, 9, 50)], MONDAY_10, berlin(7, 10, 20)),
        ({"max_per_hour": 2}, [berlin(7, 9, 0), berlin(7, 9, 50)], MONDAY_10, MONDAY_10),
        # Exactly 60 minutes before no longer counts.
        ({"max_per_hour": 1}, [berlin(7, 9, 0)], MONDAY_10, MONDAY_10),
        # max_per_day: the calendar day in the zone; full → the next local midnight.
        ({"max_per_day": 2}, [berlin(7, 0, 30), berlin(7, 8)], MONDAY_10, berlin(8, 0)),
        # A send before local midnight (but on the same UTC day) is another day.
        ({"max_per_day": 1}, [berlin(6, 23, 30)], MONDAY_10, MONDAY_10),
        # hours: the end is excluded; outside → the window's next start.
        ({"hours": "08:00-10:00"}, [], MONDAY_10, berlin(8, 8)),
        ({"hours": "08:00-10:01"}, [], MONDAY_10, MONDAY_10),
        ({"hours": "11:00-12:00, 14:00-15:00"}, [], berlin(7, 12, 30), berlin(7, 14)),
        # A window across midnight.
        ({"hours": "22:00-02:00"}, [], MONDAY_10, berlin(7, 22)),
        ({"hours": "22:00-02:00"}, [], berlin(8, 1, 30), berlin(8, 1, 30)),
        # days: Monday is not allowed → Saturday midnight.
        ({"days": ["sat", "sun"]}, [], MONDAY_10, berlin(12, 0)),
        ({"days": ["mon-fri"]}, [], MONDAY_10, MONDAY_10),
        # days with hours: the window of the next allowed day.
        ({"days": ["wed"], "hours": "08:00-20:00"}, [], MONDAY_10, berlin(9, 8)),
        # A window across midnight belongs to the day it starts on.
        ({"days": ["sun"], "hours": "22:00-02:00"}, [], berlin(7, 1), berlin(7, 1)),
        ({"days": ["mon"], "hours": "22:00-02:00"}, [], berlin(7, 1), berlin(7, 22)),
        # at: the latest slot, when unused, is taken (late); used → the next slot.
        ({"at": ["09:00", "14:00"]}, [], MONDAY_10, MONDAY_10),
        ({"at": ["09:00", "14:00"]}, [berlin(7, 9, 5)], MONDAY_10, berlin(7, 14)),
        # Late, the latest slot of the day is taken; slots of earlier days are not.
        ({"at": ["09:00", "14:00"]}, [berlin(7, 9, 5)], berlin(7, 15), berlin(7, 15)),
        ({"at": ["09:00", "14:00"]}, [berlin(7, 14, 5)], berlin(7, 15), berlin(8, 9)),
        ({"at": ["09:00"], "days": ["fri"]}, [], berlin(14, 0), berlin(18, 9)),
        ({"at": ["09:00"], "days": ["fri"]}, [], MONDAY_10, berlin(11, 9)),
        # A slot in the early hours of a window that crossed midnight is its start day's: Friday
        # night's 01:00 is on Saturday's date, and never taken late on Friday evening.
        (
            {"at": ["01:00"], "hours": "22:00-02:00", "days": ["fri"]},
            [],
            berlin(11, 22),
            berlin(12, 1),
        ),
        # min_gap_minutes: after the last send.
        ({"min_gap_minutes": 30}, [berlin(7, 9, 45)], MONDAY_10, berlin(7, 10, 15)),
        # Rules together: a gap that pushes past the window's end → the next morning.
        (
            {"hours": "08:00-10:10", "min_gap_minutes": 15},
            [berlin(7, 9, 56)],
            MONDAY_10,
            berlin(8, 8),
        ),
    ],
)
def test_next_send(
    schedule: dict[str, object], sent: list[datetime], now: datetime, expected: datetime
) -> None:
    assert next_send(rules(**schedule), sent, now) == expected


def test_a_dst_change_keeps_local_hours() -> None:
    # 2027-03-28: Berlin moves from UTC+1 to UTC+2; a window at 08:00 local moves an hour in UTC.
    found = next_send(rules(hours="08:00-09:00"), [], datetime(2027, 3, 27, 9, tzinfo=UTC))
    assert found == datetime(2027, 3, 28, 6, tzinfo=UTC)


def test_plan_drips_a_backlog_one_slot_each() -> None:
    moments = plan(rules(at=["09:00", "14:00", "19:00"]), [], berlin(7, 8), 5)
    assert moments == [berlin(7, 9), berlin(7, 14), berlin(7, 19), berlin(8, 9), berlin(8, 14)]


def test_missed_slots_do_not_pile_up() -> None:
    """Back after two days away at 15:00: the day's 14:00 slot is taken late, then tomorrow's
    slots; none of the six missed ones is owed."""
    back = plan(rules(at=["09:00", "14:00", "19:00"]), [berlin(5, 9)], berlin(7, 15), 3)
    assert back == [berlin(7, 15), berlin(7, 19), berlin(8, 9)]


def test_a_simulated_week_keeps_every_rule_at_once() -> None:
    """A backlog of 400 posts, drip-fed for a week; every send is checked against each rule."""
    schedule = {
        "max_per_hour": 3,
        "max_per_day": 20,
        "hours": "08:00-22:00",
        "days": ["mon-sat"],
        "min_gap_minutes": 10,
    }
    found = rules(**schedule)
    week = plan(found, [], MONDAY_10, 400)
    week = [moment for moment in week if moment < berlin(14, 0)]
    per_day: dict[object, int] = {}
    for index, moment in enumerate(week):
        local = moment.astimezone(BERLIN)
        assert local.weekday() != 6, f"{local} is a Sunday"
        assert 8 <= local.hour < 22, f"{local} is outside 08:00-22:00"
        last_hour = [m for m in week[: index + 1] if m > moment - timedelta(hours=1)]
        assert len(last_hour) <= 3, f"{local}: {len(last_hour)} in 60 minutes"
        if index:
            assert moment - week[index - 1] >= timedelta(minutes=10)
        per_day[local.date()] = per_day.get(local.date(), 0) + 1
    # Monday from 10:00 and five more days, each filled to its 20, Sunday empty.
    assert list(per_day.values()) == [20] * 6
    assert len(per_day) == 6
    # Each day starts at 08:00 (Monday: at once), and posts go as early as the rules allow.
    tuesday = [m.astimezone(BERLIN) for m in week if m.astimezone(BERLIN).day == 8]
    assert [m.strftime("%H:%M") for m in tuesday[:4]] == ["08:00", "08:10", "08:20", "09:00"]


def test_a_simulated_week_of_fixed_slots() -> None:
    week = plan(rules(at=["09:00", "19:00"], days=["mon", "wed", "fri"]), [], berlin(7, 0), 6)
    shown = [m.astimezone(BERLIN).strftime("%a %H:%M") for m in week]
    assert shown == ["Mon 09:00", "Mon 19:00", "Wed 09:00", "Wed 19:00", "Fri 09:00", "Fri 19:00"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("8", "not a time of day"),
        ("24:00", "not a time of day"),
        ("08:5", "not a time of day"),
    ],
)
def test_bad_clock_times(text: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        parse_clock(text)


def test_readers() -> None:
    assert parse_days(["mon-wed", "Saturday"]) == {0, 1, 2, 5}
    assert parse_days(["fri-mon"]) == {4, 5, 6, 0}
    assert len(parse_hours("08:00-12:00, 14:00-22:00")) == 2
    with pytest.raises(ScheduleError, match="empty window"):
        parse_hours("08:00-08:00")
    with pytest.raises(ScheduleError, match="not a day of the week"):
        parse_days(["funday"])


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ({"hours": "8-22"}, "not a time of day"),
        ({"hours": "08:00"}, "not a window of hours"),
        ({"days": ["mon", "holiday"]}, "not a day of the week"),
        ({"at": ["07:00"], "hours": "08:00-22:00"}, "no slot of at falls inside hours"),
        ({"max_per_hour": 0}, "greater than or equal to 1"),
        ({"max_per_hour": True}, "not a number"),
        ({"tz": "Mars/Olympus"}, "not a time zone"),
        ({"catch_up": "some"}, "'all' or 'digest'"),
    ],
)
def test_schedule_settings_refuse_with_a_reason(schedule: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ScheduleSettings.model_validate(schedule)


def test_the_zones_of_a_destination() -> None:
    chat = {"chat_id": 1}
    alone = DestinationSettings.model_validate({"telegram": chat, "schedule": {"tz": "Asia/Tokyo"}})
    assert alone.zone == "Asia/Tokyo"  # captions follow the schedule's zone
    both = DestinationSettings.model_validate(
        {"telegram": chat, "tz": "Europe/Berlin", "schedule": {"tz": "Asia/Tokyo"}}
    )
    assert both.zone == "Europe/Berlin"
    found = both.posting_rules()
    assert found is not None
    assert found.zone == ZoneInfo("Asia/Tokyo")
    inherited = DestinationSettings.model_validate(
        {"telegram": chat, "tz": "Europe/Berlin", "schedule": {"max_per_day": 3}}
    )
    found = inherited.posting_rules()
    assert found is not None
    assert found.zone == BERLIN


def test_an_archive_takes_no_schedule() -> None:
    with pytest.raises(ValidationError, match="remove schedule from this archive destination"):
        DestinationSettings.model_validate(
            {"archive": {"path": "/tmp/vault"}, "schedule": {"max_per_hour": 1}}
        )


def test_a_long_digest_is_cut_between_lines_in_utf16_units() -> None:
    """Telegram counts a message's 4,096 in UTF-16 units: an emoji is two."""
    from tikrelay.captions.markup import utf16_length
    from tikrelay.reposter.pacing import MESSAGE_LIMIT, digest_texts
    from tikrelay.store.digests_sql import DigestEntry

    entries = [
        DigestEntry(f"tiktok:{n}", f"https://www.tiktok.com/@a/video/{n:019d}", "@😀" * 20, None)
        for n in range(200)
    ]
    texts = digest_texts(entries, "UTC")
    assert len(texts) > 1
    assert all(utf16_length(text) <= MESSAGE_LIMIT for text in texts)
    following = texts[1].split("\n")[0]
    # Cut where the next line would pass 4,096 units, though by code points it would fit.
    assert utf16_length(f"{texts[0]}\n{following}") > MESSAGE_LIMIT
    assert len(f"{texts[0]}\n{following}") < MESSAGE_LIMIT
    lines = [line for text in texts for line in text.split("\n")]
    assert lines[0] == "Missed while away: 200 posts"
    assert [line.rsplit("/", 1)[1] for line in lines[1:]] == [f"{n:019d}" for n in range(200)]
