"""The ``notify:`` section: where failures that need a person, and the daily summary, go."""

from __future__ import annotations

import warnings
from email.utils import parseaddr
from pathlib import Path
from types import ModuleType
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from tikrelay.config.fields import (
    HOUR,
    WEEK,
    NotBool,
    Section,
    TimeZone,
    refuse_bool_chat,
    shown_url,
)
from tikrelay.domain.schedule import ScheduleError, parse_clock

#: The environment variable holding the SMTP password (none: no login).
SMTP_PASSWORD_ENV = "TIKRELAY_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a value
SMTP_SCHEMES = ("smtp", "smtps")


def check_smtp_url(value: str) -> str:
    """``smtp://host[:port]`` or ``smtps://host[:port]``, a user name allowed, no password."""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in SMTP_SCHEMES:
        raise ValueError(
            f"{shown_url(url)!r} is not an SMTP server: write smtp://host:port (STARTTLS when "
            "the server offers it, usually port 587 or 25) or smtps://host:port (TLS from the "
            "start, usually port 465)"
        )
    if parts.password is not None:
        raise ValueError(
            f"{shown_url(url)!r} holds a password: remove it from the URL and set "
            f"{SMTP_PASSWORD_ENV} in the environment instead"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{shown_url(url)!r} has a bad port: write a number 1-65535") from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError(
            f"{shown_url(url)!r} is not an SMTP server address: write smtp://host:port, "
            "nothing after the port"
        )
    return url


def check_address(value: str) -> str:
    address = value.strip()
    _name, found = parseaddr(address)
    if "@" not in found or found.startswith("@") or found.endswith("@") or " " in found:
        raise ValueError(f"{address!r} is not an email address: write one such as you@example.com")
    return address


def check_hhmm(value: str) -> str:
    text = value.strip()
    try:
        parse_clock(text)
    except ScheduleError:
        raise ValueError(
            f'{text!r} is not a time of day: write HH:MM on a 24-hour clock, such as "08:00" '
            "(quoted: YAML reads 08:00 unquoted as a number)"
        ) from None
    return text


def _quoted_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 8:00 as the number 480 (minutes in base 60).
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError('a time of day is written quoted, such as "08:00"')
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def load_apprise() -> ModuleType:
    """Apprise, loaded on first use: only configs that use it pay for loading its plugins. Its
    import touches the standard library's deprecated ``imghdr`` (for PGP attachments tikrelay
    never sends): that warning is Apprise's to fix and says nothing to a tikrelay user, so it
    is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        import apprise
        import apprise.utils.pgp
    return apprise


def check_apprise_url(value: object) -> object:
    """A URL Apprise can send to; the error shows only its scheme (its tokens are secrets)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError("an Apprise URL is text, such as json://host:port/path")
    url = value.strip()
    if load_apprise().Apprise.instantiate(url) is None:
        scheme = url.partition("://")[0] if "://" in url else ""
        shown = f"a {scheme}:// URL" if scheme else "a URL without a scheme"
        raise ValueError(
            f"{shown} that Apprise cannot use: write a URL of a service Apprise supports "
            "(https://github.com/caronc/apprise/wiki), such as "
            "json://host:port/path or tgram://bottoken/chatid, and check its parts"
        )
    return url


SmtpUrl = Annotated[str, AfterValidator(check_smtp_url)]
Address = Annotated[str, AfterValidator(check_address)]


class EmailSettings(Section):
    """Email through an SMTP server."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    smtp_url: SmtpUrl = Field(
        description="smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS from the "
        "start); a user name in the URL, else the from address, logs in with "
        "TIKRELAY_SMTP_PASSWORD."
    )
    from_: Address = Field(alias="from", description="The sender's address.")
    to: Annotated[list[Address], BeforeValidator(_one_or_many)] = Field(
        min_length=1, description="The addresses that receive the messages."
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="Extra CA certificates (PEM) that may sign the SMTP server's certificate, "
        "beside the machine's.",
    )


class NotifySettings(Section):
    telegram_chat_id: Annotated[int | str, BeforeValidator(refuse_bool_chat)] | None = Field(
        default=None, description="A Telegram chat (the admins' chat) that gets the messages."
    )
    email: EmailSettings | None = Field(default=None, description="Email the messages.")
    apprise: Annotated[
        list[Annotated[SecretStr, BeforeValidator(check_apprise_url)]],
        BeforeValidator(_one_or_many),
    ] = Field(
        default_factory=list,
        description="Apprise URLs (any service Apprise supports) that get the messages; "
        "secrets, as they hold the services' tokens.",
    )
    daily_summary: (
        Annotated[str, BeforeValidator(_quoted_time), AfterValidator(check_hhmm)] | None
    ) = Field(default=None, description="The time (HH:MM) of a daily summary; none by default.")
    tz: TimeZone | None = Field(
        default=None,
        description="The time zone of daily_summary and of the times in messages; default: "
        "the machine's.",
    )
    source_failing_hours: Annotated[float, NotBool, Field(ge=0, le=WEEK / HOUR)] = Field(
        default=24.0,
        description="Hours a source fails before it is an incident (expired login and a broken "
        "extractor are incidents at once).",
    )
    disk_free_percent: Annotated[float, NotBool, Field(ge=0, lt=100)] = Field(
        default=5.0,
        description="An incident when the state folder's disk has less free space than this "
        "(percent; 0: never).",
    )

    @model_validator(mode="after")
    def _a_channel_for_the_summary(self) -> NotifySettings:
        if self.daily_summary is not None and not self.channels:
            raise ValueError(
                "daily_summary has nowhere to go: set telegram_chat_id, email or apprise "
                "under notify"
            )
        if isinstance(self.telegram_chat_id, str) and not self.telegram_chat_id.strip():
            raise ValueError(
                "telegram_chat_id is empty: write the admins' chat's numeric id or "
                "@username, or remove the key"
            )
        return self

    @property
    def channels(self) -> list[str]:
        """The configured channels: ``telegram``, ``email``, ``apprise:0``, ``apprise:1``…"""
        found = ["telegram"] if self.telegram_chat_id is not None else []
        if self.email is not None:
            found.append("email")
        found += [f"apprise:{index}" for index in range(len(self.apprise))]
        return found
