"""The rules of incidents and the words of notifications: which failure needs a person and when,
and what each message says (what failed, since when, what to do). Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tikrelay.domain.errors import ErrorKind

#: Failures that no wait mends: an incident at their first occurrence.
AT_ONCE = frozenset({ErrorKind.AUTH, ErrorKind.EXTRACTOR, ErrorKind.EXTRACTOR_UPDATE_REQUIRED})
#: Not a failure of the source: a cancel, or this machine's full disk (an incident of its own).
NOT_THE_SOURCE = frozenset({ErrorKind.CANCELLED, ErrorKind.DISK_FULL})

_ADVICE = {
    ErrorKind.AUTH: "its login or cookies expired or were refused: export fresh cookies "
    "(network.cookies_file) and run `tikrelay doctor`",
    ErrorKind.EXTRACTOR: "the site changed what yt-dlp reads: update yt-dlp "
    "(uv lock --upgrade-package yt-dlp) and run again",
    ErrorKind.EXTRACTOR_UPDATE_REQUIRED: "update yt-dlp (uv lock --upgrade-package yt-dlp) "
    "and run again",
    ErrorKind.RATE_LIMIT: "the site limits requests: poll less often (every_minutes) or add "
    "proxies (network.proxies)",
    ErrorKind.GEO_BLOCK: "the site refuses this country: use a proxy elsewhere (network.proxies)",
    ErrorKind.PRIVATE: "the account is private: remove the source or wait until it is public",
    ErrorKind.DELETED: "the account is gone: remove the source",
}
_DEFAULT_ADVICE = "check the network and the proxies: `tikrelay doctor` says what it finds"


def incident_kind(kind: ErrorKind) -> str:
    """The incident a source's failure makes: ``auth``, ``extractor`` or ``source``."""
    if kind is ErrorKind.AUTH:
        return "auth"
    if kind in (ErrorKind.EXTRACTOR, ErrorKind.EXTRACTOR_UPDATE_REQUIRED):
        return "extractor"
    return "source"


def needs_a_person(
    kind: ErrorKind, opened_at: datetime, now: datetime, failing_hours: float
) -> bool:
    """Whether a source's failure of ``kind``, failing since ``opened_at``, is to be told now:
    an expired login or a broken extractor at once, anything else once it has failed for
    ``failing_hours``."""
    if kind in NOT_THE_SOURCE:
        return False
    return kind in AT_ONCE or now - opened_at >= timedelta(hours=failing_hours)


def disk_low(total: int, free: int, percent: float) -> bool:
    """Less than ``percent`` of the disk is free (0: never)."""
    return percent > 0 and total > 0 and free * 100 < total * percent


def advice(kind: ErrorKind) -> str:
    return _ADVICE.get(kind, _DEFAULT_ADVICE)


def source_name(key: str) -> str:
    """``tiktok:@alice`` → ``TikTok source @alice``; ``url:https://…`` → ``source https://…``."""
    site, _, rest = key.partition(":")
    if site == "tiktok" and rest:
        return f"TikTok source {rest}"
    return f"source {rest or key}"


def moment(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours < 1:
        return f"{max(0, round(span.total_seconds() / 60))} min"
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h".replace(".0 h", " h")


@dataclass(frozen=True)
class Message:
    title: str
    text: str


def source_failing(
    key: str, kind: ErrorKind, detail: str, since: datetime, now: datetime, zone: ZoneInfo
) -> Message:
    name = source_name(key)
    return Message(
        f"{name} is failing",
        f"{name} has failed since {moment(since, zone)} ({duration(now - since)}): "
        f"{kind}: {detail}; {advice(kind)}.",
    )


def source_recovered(key: str, since: datetime, now: datetime, zone: ZoneInfo) -> Message:
    name = source_name(key)
    return Message(
        f"{name} recovered",
        f"{name} works again since {moment(now, zone)}, after failing since "
        f"{moment(since, zone)} ({duration(now - since)}). Nothing to do.",
    )


def account_refused(account: str, detail: str, since: datetime, zone: ZoneInfo) -> Message:
    return Message(
        f"TikTok account {account} needs authorizing again",
        f"TikTok refuses the authorization of account {account} since {moment(since, zone)}: "
        f"{detail}. Publishing to it fails until you run `tikrelay tiktok-auth {account}` on "
        "the server; then send the failed posts again with `tikrelay jobs retry ID` (`tikrelay "
        "jobs list --kind publish --status FAILED` lists them).",
    )


def account_recovered(account: str, since: datetime, now: datetime, zone: ZoneInfo) -> Message:
    return Message(
        f"TikTok account {account} publishes again",
        f"TikTok account {account} takes posts again since {moment(now, zone)}, after refusing "
        f"since {moment(since, zone)} ({duration(now - since)}). Nothing to do.",
    )


def disk_filling(folder: str, free: int, total: int, percent: float) -> Message:
    return Message(
        "disk nearly full",
        f"The disk of {folder} has {_size(free)} free of {_size(total)} "
        f"({free * 100 / total:.1f} %, less than notify.disk_free_percent: {percent:g} %): free "
        "some space (delivery.cache_max_gb keeps the media cache smaller) before downloads "
        "fail.",
    )


def disk_recovered(folder: str, free: int, total: int) -> Message:
    return Message(
        "disk has room again",
        f"The disk of {folder} has {_size(free)} free of {_size(total)} again "
        f"({free * 100 / total:.1f} %). Nothing to do.",
    )


@dataclass(frozen=True)
class SummaryFigures:
    """What the daily summary tells, read from the database."""

    since: datetime
    now: datetime
    by_source: Mapping[str, int]  # every watched source, 0 included
    by_destination: Mapping[str, int]  # every destination, 0 included
    failures: Mapping[str, int]  # jobs failed or retried, by error kind
    queue: Mapping[str, int]  # jobs by status
    failing: Sequence[tuple[str, datetime]]  # open incidents: subject, since


QUEUE_ORDER = ("PENDING", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")


def daily_summary(figures: SummaryFigures, zone: ZoneInfo) -> Message:
    lines = [f"From {moment(figures.since, zone)} to {moment(figures.now, zone)}."]
    total = sum(figures.by_destination.values())
    lines.append(f"Delivered: {total}.")
    lines.append("By source:")
    lines += [f"  {source_name(k)}: {n}" for k, n in sorted(figures.by_source.items())] or [
        "  (no sources)"
    ]
    lines.append("By destination:")
    lines += [f"  {k}: {n}" for k, n in sorted(figures.by_destination.items())] or [
        "  (no destinations)"
    ]
    failures = sorted(figures.failures.items(), key=lambda item: (-item[1], item[0]))
    lines.append("Failures by kind (jobs failed or retried):")
    lines += [f"  {kind}: {count}" for kind, count in failures] or ["  none"]
    statuses = [s for s in QUEUE_ORDER if s in figures.queue] + sorted(
        s for s in figures.queue if s not in QUEUE_ORDER
    )
    queue = ", ".join(f"{figures.queue[s]} {s.lower()}" for s in statuses) or "empty"
    lines.append(f"Queue: {queue}.")
    if figures.failing:
        lines.append("Failing now:")
        lines += [f"  {what} since {moment(since, zone)}" for what, since in figures.failing]
    return Message("daily summary", "\n".join(lines))


def _size(count: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
