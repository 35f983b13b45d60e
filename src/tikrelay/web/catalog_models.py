"""The JSON shapes of ``/api/sources`` and ``/api/destinations``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tikrelay.runtime.actions import DestinationView, SourceView

#: As the settings bound them (config.settings.SourceSettings): the catalog checks them again.
Depth = Annotated[
    int, Field(ge=1, le=100, description="How many of the newest posts each poll reads.")
]
Backfill = Annotated[
    int,
    Field(
        ge=0,
        le=10_000,
        description="Existing posts delivered the first time (0 only remembers them).",
    ),
]
Every = Annotated[
    float, Field(gt=0, le=10_080, description="How often tikrelay serve polls it, in minutes.")
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Origin = Literal["file", "cli", "bot", "web"]
Routes = Annotated[
    list[Name], Field(min_length=1, max_length=100, description="Destinations' names.")
]


class SourceIn(BaseModel):
    """A TikTok creator to watch, as ``tikrelay sources add`` takes it."""

    model_config = ConfigDict(extra="forbid")

    tiktok: str = Field(min_length=1, max_length=300, description="@username or the profile URL.")
    to: Routes
    depth: Depth | None = None
    backfill: Backfill | None = None
    every_minutes: Every | None = None


class SourcePatch(BaseModel):
    """What to change; a key omitted (or null) keeps its value."""

    model_config = ConfigDict(extra="forbid")

    paused: bool | None = Field(default=None, description="true pauses, false resumes.")
    to: Routes | None = None
    depth: Depth | None = None
    backfill: Backfill | None = None
    every_minutes: Every | None = None


class SourceOut(BaseModel):
    key: str = Field(description="tiktok:@name: the {id} of its routes.")
    username: str
    origin: Origin
    read_only: bool = Field(description="From the config file: only the file changes it.")
    paused: bool
    to: list[str]
    depth: int
    backfill: int | None
    every_minutes: float
    created_at: datetime
    updated_at: datetime
    first_polled_at: datetime | None
    last_polled_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None = Field(
        description="When its scheduled poll is due (null: not scheduled by a serve yet)."
    )

    @classmethod
    def of(cls, view: SourceView) -> SourceOut:
        polls = view.polls
        return cls.model_validate(
            {
                "key": view.key,
                "username": view.username,
                "origin": view.origin,
                "read_only": view.read_only,
                "paused": view.paused,
                "to": view.to,
                "depth": view.depth,
                "backfill": view.backfill,
                "every_minutes": view.every_minutes,
                "created_at": view.created_at,
                "updated_at": view.updated_at,
                "first_polled_at": polls.first_polled_at,
                "last_polled_at": polls.last_polled_at,
                "last_error": polls.last_error,
                "next_poll_at": polls.next_poll_at,
            }
        )


class SourceList(BaseModel):
    sources: list[SourceOut]


class PolledOut(BaseModel):
    job_id: int = Field(description="The poll job: follow it at /api/jobs/{job_id}.")
    new_job: bool = Field(description="False when the source's poll was waiting already.")


class SourceAdded(BaseModel):
    source: SourceOut
    poll: PolledOut = Field(description="Its first poll, due now.")


class SourceRemoved(BaseModel):
    key: str


class DestinationOut(BaseModel):
    name: str
    origin: Origin
    read_only: bool
    kind: Literal["telegram", "archive"]
    chat_id: str | None = Field(description="The Telegram chat (a number or @channel).")
    topic_id: int | None
    archive: str | None = Field(description="The archive's folder or object storage URL.")
    archive_to: str | None
    caption: str | None = Field(description="Its caption template; null: the default one.")
    link: bool
    sources: int = Field(description="Sources routed to it, paused ones too.")

    @classmethod
    def of(cls, view: DestinationView) -> DestinationOut:
        fields = ("name", "origin", "read_only", "kind", "chat_id", "topic_id", "archive")
        more = ("archive_to", "caption", "link", "sources")
        return cls.model_validate({name: getattr(view, name) for name in (*fields, *more)})


class DestinationList(BaseModel):
    destinations: list[DestinationOut]
