"""The ``notify:`` section: where failures that need a person, and the daily summary, go."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field

from tikrelay.config.fields import Section


def _refuse_bool_chat(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a chat: write its numeric id or @username")
    return value


class EmailSettings(Section):
    """Email through an SMTP server."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    smtp_url: str = Field(
        description="smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS from the "
        "start); a user name in the URL, else the from address, logs in with "
        "TIKRELAY_SMTP_PASSWORD."
    )
    from_: str = Field(alias="from", description="The sender's address.")
    to: list[str] = Field(min_length=1, description="The addresses that receive the messages.")


class NotifySettings(Section):
    telegram_chat_id: Annotated[int | str, BeforeValidator(_refuse_bool_chat)] | None = Field(
        default=None, description="A Telegram chat (the admins' chat) that gets the messages."
    )
    email: EmailSettings | None = Field(default=None, description="Email the messages.")
    daily_summary: str | None = Field(
        default=None, description="The time (HH:MM) of a daily summary; none by default."
    )
