"""A destination's posting schedule: when the next post may go, given when the last ones went.

The rules, each optional, all kept at once:

- ``max_per_hour``: fewer than this many sends in the 60 minutes before (rolling);
- ``max_per_day``: fewer than this many sends on the calendar day, in the schedule's zone;
- ``hours``: inside one of the windows (``08:00-22:00``; the end excluded; a window may cross
  midnight, and then belongs to the day it starts on for ``days``);
- ``days``: on one of these weekdays;
- ``at``: fixed slots (``09:00``), each taking one post; a slot may be taken late, but not
  once the next slot has begun or its day has ended (missed slots do not pile up);
- ``min_gap``: at least this long after the previous send.

``next_send`` finds the earliest moment every rule allows; ``plan`` the next ``count`` of them, as
if each were used (a backlog's drip, oldest first). Pure: no clock, no database.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The reason a deliver job waits, as its timeline and the run's summary show it; the summary
#: counts the jobs whose deferral starts with it as waiting for a slot, not as failures.
SLOT_WAIT = "waits for its slot"

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
#: Far enough for any sane schedule (a slot once a week, behind a full day); a schedule that
#: still finds nothing allows nothing at all, which the settings refuse.
_MAX_STEPS = 10_000


class ScheduleError(ValueError):
    """A schedule that cannot be read, or that allows no moment at all."""


def parse_clock(text: str) -> time:
    """``HH:MM`` (24 h) as a time; ValueError saying how to write it."""
    hours, sep, minutes = text.strip().partition(":")
    if (
        sep
        and hours.isdigit()
        and minutes.isdigit()
        and len(minutes) == 2
        and len(hours) <= 2
        and int(hours) < 24
        and int(minutes) < 60
    ):
        return time(int(hours), int(minutes))
    raise ScheduleError(f"{text!r} is not a time of day: write HH:MM, 24-hour, such as 08:00")


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``08:00-22:00`` (several separated by commas) as windows; the end is excluded."""
    windows = []
    for part in text.split(","):
        start, sep, end = part.partition("-")
        if not sep:
            raise ScheduleError(
                f"{part.strip()!r} is not a window of hours: write START-END such as "
                "08:00-22:00 (several: 08:00-12:00, 14:00-22:00)"
            )
        first, last = parse_clock(start), parse_clock(end)
        if first == last:
            raise ScheduleError(
                f"{part.strip()!r} is an empty window: the end is excluded, so START and END "
                "must differ (the whole day: leave hours out)"
            )
        windows.append((first, last))
    return tuple(windows)


def parse_days(names: Sequence[str]) -> frozenset[int]:
    """Weekday names (``mon``, ``Monday``) and ranges (``mon-fri``) as weekday numbers (0 is
    Monday)."""
    found: set[int] = set()
    for name in names:
        first, sep, last = name.strip().lower().partition("-")
        start, end = _weekday(first, name), _weekday(last if sep else first, name)
        day = start
        while True:  # a range may wrap: fri-mon
            found.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    if not found:
        raise ScheduleError("days lists no day: name at least one, such as [mon-fri]")
    return frozenset(found)


def _weekday(text: str, whole: str) -> int:
    short = _FULL_NAMES.get(text.strip(), text.strip())
    if short not in WEEKDAYS:
        raise ScheduleError(
            f"{whole!r} is not a day of the week: write mon, tue, wed, thu, fri, sat, sun "
            "or a range such as mon-fri"
        )
    return WEEKDAYS.index(short)


@dataclass(frozen=True)
class PostingRules:
    zone: ZoneInfo
    max_per_hour: int | None = None
    max_per_day: int | None = None
    windows: tuple[tuple[time, time], ...] = ()
    days: frozenset[int] | None = None
    at: tuple[time, ...] = field(default=())
    min_gap: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", tuple(sorted(set(self.at))))
        if self.at and not any(self._slot_allowed(slot) for slot in self.at):
            raise ScheduleError(
                "no slot of at falls inside hours: every post would wait for ever; move the "
                "slots inside the windows or widen hours"
            )

    def _slot_allowed(self, slot: time) -> bool:
        return not self.windows or any(_in_window(slot, w) for w in self.windows)


def _in_window(moment: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``zone``, in UTC (a clock time a DST change skips is read with
    the offset from before the change, so it falls just after it). UTC, because datetimes that
    share a zone compare by their wall time."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _window_day(local: datetime, window: tuple[time, time]) -> date:
    """The day a window holding ``local`` started on (a window crossing midnight started the
    day before, in its early hours)."""
    start, end = window
    if start > end and local.time() < end:
        return local.date() - DAY
    return local.date()


def _next_window_start(local: datetime, rules: PostingRules) -> datetime:
    """The earliest start of a window after ``local``."""
    candidates = []
    for start, _ in rules.windows:
        moment = _at(local.date(), start, rules.zone)
        if moment <= local:
            moment = _at(local.date() + DAY, start, rules.zone)
        candidates.append(moment)
    return min(candidates)


def _next_midnight(local: datetime, zone: ZoneInfo) -> datetime:
    return _at(local.date() + DAY, time(0), zone)


def _slots_on(day: date, rules: PostingRules) -> list[datetime]:
    """The ``at`` slots of the calendar day ``day`` that the rules allow: inside ``hours``, and
    on one of ``days`` (a slot in the early hours of a window that crossed midnight belongs to
    the day the window started on, as the window does)."""
    found = []
    for slot in rules.at:
        if not rules._slot_allowed(slot):
            continue
        owner = day
        crossing = [w for w in rules.windows if w[0] > w[1] and _in_window(slot, w)]
        if crossing and all(slot < end for _, end in crossing):
            owner = day - DAY
        if rules.days is None or owner.weekday() in rules.days:
            found.append(_at(day, slot, rules.zone))
    return found


def _slot_before(local: datetime, rules: PostingRules) -> datetime | None:
    """The latest allowed ``at`` slot at or before ``local`` on the same day: a slot may be
    taken late, until the next one or midnight, never on a later day."""
    earlier = [slot for slot in _slots_on(local.date(), rules) if slot <= local]
    return max(earlier) if earlier else None


def _slot_after(local: datetime, rules: PostingRules) -> datetime:
    """The earliest allowed ``at`` slot after ``local``."""
    for ahead in range(8):
        later = [
            slot for slot in _slots_on(local.date() + timedelta(days=ahead), rules) if slot > local
        ]
        if later:
            return min(later)
    raise ScheduleError("the schedule allows no slot in a week")


def next_send(rules: PostingRules, sent: Sequence[datetime], after: datetime) -> datetime:
    """The earliest moment at or after ``after`` that every rule allows, given the earlier
    sends ``sent`` (sorted, oldest first)."""
    moment = after
    for _ in range(_MAX_STEPS):
        moved = _push(rules, sent, moment)
        if moved is None:
            return moment
        moment = moved
    raise ScheduleError("the schedule allows no moment: check hours, days and at together")


def _push(rules: PostingRules, sent: Sequence[datetime], moment: datetime) -> datetime | None:
    """The first rule ``moment`` breaks moves it to the earliest moment that rule allows; None
    when it breaks none."""
    zone = rules.zone
    local = _local(moment, zone)
    if rules.windows:
        inside = [w for w in rules.windows if _in_window(local.time(), w)]
        if not inside:
            return _next_window_start(local, rules)
        if rules.days is not None and all(
            _window_day(local, w).weekday() not in rules.days for w in inside
        ):
            return _next_window_start(local, rules)
    elif rules.days is not None and local.weekday() not in rules.days:
        return _next_midnight(local, zone)
    if rules.at:
        slot = _slot_before(local, rules)
        following = _slot_after(local, rules)
        if slot is None or (sent and sent[-1] >= slot):
            return following
    if rules.min_gap is not None and sent and moment < sent[-1] + rules.min_gap:
        return sent[-1] + rules.min_gap
    if rules.max_per_hour is not None:
        first = bisect.bisect_right(sent, moment - HOUR)
        recent = sent[first:]
        if len(recent) >= rules.max_per_hour:
            return recent[len(recent) - rules.max_per_hour] + HOUR
    if rules.max_per_day is not None:
        day_start = _at(local.date(), time(0), zone)
        today = len(sent) - bisect.bisect_left(sent, day_start)
        if today >= rules.max_per_day:
            return _next_midnight(local, zone)
    return None


def plan(
    rules: PostingRules, sent: Sequence[datetime], now: datetime, count: int
) -> list[datetime]:
    """The moments of the next ``count`` sends from ``now``, each as early as the rules allow
    once the ones before it are sent."""
    history = sorted(sent)
    moments = []
    moment = now
    for _ in range(count):
        moment = next_send(rules, history, moment)
        moments.append(moment)
        history.append(moment)
    return moments
