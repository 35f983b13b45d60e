"""What the settings sections are built of: the base of every section, number and time zone
fields, and the safe way to show a URL in an error. Shared by ``settings`` and the sections kept in
modules of their own (``notify_settings``, ``tiktok_settings``)."""

from __future__ import annotations

import functools
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from tikrelay.config.logging import redact_text

#: Generous ceilings: far above any sensible value, low enough that arithmetic on them (backoff,
#: timedelta, byte counts, SQLite integers) cannot overflow.
MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MAX_UPLOAD_MB = 2000.0  # what a local Bot API server takes; the cloud one takes 50
#: Telegram's chat ids have at most 52 significant bits.
MAX_CHAT_ID = 2**52
MAX_TOPIC_ID = 2**31 - 1

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
#: The only ports Telegram sends webhook requests to.
WEBHOOK_PORTS = (443, 80, 88, 8443)


def _refuse_bool(value: object) -> object:
    # YAML reads true/false/yes/no/on/off as booleans, and pydantic would take true as 1.
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number: write a number")
    return value


#: An integer or float key: true/false are refused rather than read as 1/0.
NotBool = BeforeValidator(_refuse_bool)


class Section(BaseModel):
    """A settings section: unknown keys are refused, as are infinities and NaN."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def shown_url(value: str) -> str:
    """``value`` fit for an error message: a password in it (also a scheme-less one) hidden."""
    scheme, sep, rest = value.rpartition("://") if "://" in value else ("", "", value)
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:[redacted]@{host}"
    return redact_text(f"{scheme}{sep}{rest}")


def url_host_and_port(url: str) -> tuple[str, int | None] | None:
    """The host and port of ``url``, or None when it has no usable host or a bad port."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host or any(char.isspace() for char in host):
        return None
    return host, port


def check_time_zone(value: str) -> str:
    """An IANA time zone name (``Europe/Berlin``, ``UTC``), as the system's tz database knows it."""
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone: write an IANA name such as Europe/Berlin, "
            "America/New_York or UTC"
        ) from None
    return name


#: An IANA time zone name.
TimeZone = Annotated[str, AfterValidator(check_time_zone)]


@functools.cache
def machine_zone() -> str:
    """The machine's own time zone, as an IANA name (UTC when it has none that can be named)."""
    import tzlocal

    try:
        return check_time_zone(tzlocal.get_localzone_name() or "UTC")
    except (ValueError, LookupError):
        return "UTC"


def refuse_bool_chat(value: object) -> object:
    """A chat id: YAML's true/false are refused, not read as 1/0."""
    if isinstance(value, bool):
        raise ValueError(
            f"{str(value).lower()} is not a chat: write a numeric chat id such as "
            "-1001234567890, or '@channelname' in quotes"
        )
    return value
