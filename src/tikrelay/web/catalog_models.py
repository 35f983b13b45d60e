"""The JSON shapes of ``/api/sources`` and ``/api/destinations``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
)

from tikrelay.config.fields import DAY
from tikrelay.config.settings import MAX_COUNT, MAX_TERM
from tikrelay.config.tiktok_settings import PrivacyLevel
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


def _storable(value: str, *, lines: bool = False) -> str:
    """Text the catalog can store as JSON in SQLite and PostgreSQL (whose JSON refuses NUL):
    no control character, but line breaks and tabs where ``lines``."""
    allowed = "\n\r\t" if lines else ""
    if any(ord(char) < 32 and char not in allowed for char in value):
        raise ValueError("control characters are not allowed here")
    return value


#: A word, a few words or a #hashtag; the catalog checks it as the config file's.
Term = Annotated[str, Field(min_length=1, max_length=MAX_TERM), AfterValidator(_storable)]
Terms = list[Term]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Seconds = Annotated[float, Field(le=DAY)]


class SourceFilters(BaseModel):
    """Which of a source's posts are delivered, as ``filters`` of a ``sources`` entry in the
    config file: a post must pass every rule given; a rule omitted (or null) is no rule."""

    model_config = ConfigDict(extra="forbid")

    min_views: Count | None = Field(default=None, description="Only posts seen this many times.")
    min_likes: Count | None = Field(default=None, description="Only posts liked this many times.")
    max_age_days: Annotated[float, Field(gt=0, le=36_500)] | None = Field(
        default=None, description="Only posts at most this many days old when delivered."
    )
    kinds: Annotated[list[Literal["video", "slideshow"]], Field(min_length=1)] | None = Field(
        default=None, description="Only these kinds of post."
    )
    min_duration: Annotated[Seconds, Field(ge=0)] | None = Field(
        default=None, description="Only videos at least this many seconds long."
    )
    max_duration: Annotated[Seconds, Field(gt=0)] | None = Field(
        default=None, description="Only videos at most this many seconds long."
    )
    min_height: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="Only videos at least this many pixels high."
    )
    include: Terms | None = Field(
        default=None,
        description="Only posts whose text or hashtags have one of these words or #hashtags.",
    )
    exclude: Terms | None = Field(
        default=None,
        description="No post whose text or hashtags have one of these words or #hashtags.",
    )


class SourceIn(BaseModel):
    """A source to watch, as a ``sources`` entry of the config file and ``tikrelay sources add``
    take it: a TikTok creator (``tiktok``) or a channel or playlist yt-dlp lists (``url``)."""

    model_config = ConfigDict(extra="forbid")

    tiktok: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="A TikTok creator: @username or the profile URL.",
    )
    url: Annotated[str, AfterValidator(_storable)] | None = Field(
        default=None,
        min_length=1,
        max_length=290,
        description="Instead of tiktok: a channel, playlist or feed address yt-dlp can list.",
    )
    to: Routes
    depth: Depth | None = None
    backfill: Backfill | None = None
    every_minutes: Every | None = None
    filters: SourceFilters | None = None


class SourcePatch(BaseModel):
    """What to change; a key omitted (or null) keeps its value. ``filters`` replaces the
    source's filters whole (``{}`` removes them)."""

    model_config = ConfigDict(extra="forbid")

    paused: bool | None = Field(default=None, description="true pauses, false resumes.")
    to: Routes | None = None
    depth: Depth | None = None
    backfill: Backfill | None = None
    every_minutes: Every | None = None
    filters: SourceFilters | None = None


class SourceOut(BaseModel):
    key: str = Field(description="tiktok:@name or url:ADDRESS: the {id} of its routes.")
    username: str = Field(description="The creator's name, or a url: source's address.")
    tiktok: str | None = Field(description="The creator as written; null for a url: source.")
    url: str | None = Field(description="The channel or playlist; null for a creator.")
    origin: Origin
    read_only: bool = Field(description="From the config file: only the file changes it.")
    paused: bool
    to: list[str]
    depth: int
    backfill: int | None
    every_minutes: float
    filters: SourceFilters | None = Field(description="Its filters; null: every post.")
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
                "tiktok": view.tiktok,
                "url": view.url,
                "origin": view.origin,
                "read_only": view.read_only,
                "paused": view.paused,
                "to": view.to,
                "depth": view.depth,
                "backfill": view.backfill,
                "every_minutes": view.every_minutes,
                "filters": view.filters,
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


class TikTokOut(BaseModel):
    account: str = Field(description="The account's name, as given to tikrelay tiktok-auth.")
    mode: Literal["inbox", "direct"]
    privacy_level: PrivacyLevel | None = Field(
        description="Who sees a direct post; null: the most private level the account offers."
    )
    credit: bool = Field(description="The caption ends with the original author.")


class DestinationOut(BaseModel):
    name: str
    origin: Origin
    read_only: bool
    kind: Literal["telegram", "archive", "tiktok"]
    chat_id: str | None = Field(description="The Telegram chat (a number or @channel).")
    topic_id: int | None
    archive: str | None = Field(description="The archive's folder or object storage URL.")
    archive_to: str | None
    caption: str | None = Field(description="Its caption template; null: the default one.")
    link: bool
    sources: int = Field(description="Sources routed to it, paused ones too.")
    tiktok: TikTokOut | None = Field(
        default=None, description="The TikTok account it publishes to (its tokens never shown)."
    )

    @classmethod
    def of(cls, view: DestinationView) -> DestinationOut:
        fields = ("name", "origin", "read_only", "kind", "chat_id", "topic_id", "archive")
        more = ("archive_to", "caption", "link", "sources")
        found = {name: getattr(view, name) for name in (*fields, *more)}
        if view.tiktok is not None:
            found["tiktok"] = view.tiktok.model_dump(include=set(TikTokOut.model_fields))
        return cls.model_validate(found)


class DestinationList(BaseModel):
    destinations: list[DestinationOut]


# -- adding and changing destinations ------------------------------------------------------------


Line = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_storable)]
DestinationName = Annotated[
    str,
    Field(min_length=1, max_length=200, description="The destination's name."),
    AfterValidator(_storable),
]


def _chat_reference(value: object) -> int | str:
    """A whole number or a text of up to 100 characters; the catalog checks which chat."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and 1 <= len(value) <= 100:
        return _storable(value)
    raise ValueError("write a numeric chat id such as -1001234567890, or @channelname")


#: One validator rather than a union: an error's ``loc`` ends at ``chat_id``.
ChatId = Annotated[
    int | str,
    PlainValidator(
        _chat_reference,
        json_schema_input_type=int | Annotated[str, Field(min_length=1, max_length=100)],
    ),
    Field(description="The chat: a numeric id (-100… for channels and supergroups) or @channel."),
]
TopicId = Annotated[
    StrictInt, Field(ge=1, le=2**31 - 1, description="A forum topic; omit for General.")
]
Oversize = Annotated[
    Literal["compress", "skip"],
    Field(description="A video over the upload limit: compress (the default) or skip."),
]
Slideshow = Annotated[
    Literal["album", "video", "both"],
    Field(description="Photo slideshows as album (the default), video or both."),
]
KeepDays = Annotated[
    StrictFloat, Field(gt=0, le=36_500, description="Delete archived posts after this many days.")
]
Caption = Annotated[
    str,
    Field(min_length=1, max_length=4096, description="Caption template (Jinja2)."),
    AfterValidator(lambda text: _storable(text, lines=True)),
]


class TelegramIn(BaseModel):
    """A Telegram chat, as ``telegram:`` of a destination in the config file."""

    model_config = ConfigDict(extra="forbid")

    chat_id: ChatId
    topic_id: TopicId | None = None
    oversize: Oversize | None = None
    slideshow: Slideshow | None = None


class ArchiveIn(BaseModel):
    """A folder or a bucket, as ``archive:`` of a destination in the config file: ``path`` or
    ``url``."""

    model_config = ConfigDict(extra="forbid")

    path: Line | None = Field(default=None, description="A folder (created when missing).")
    url: Line | None = Field(
        default=None, description="s3://BUCKET/PREFIX or az://CONTAINER/PREFIX."
    )
    endpoint_url: Line | None = Field(
        default=None, description="The storage server, for services other than AWS or Azure."
    )
    keep_days: KeepDays | None = None


Account = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The account's name, as given to tikrelay tiktok-auth NAME (which stores "
        "its tokens: run it on the server before or after adding the destination).",
    ),
    AfterValidator(_storable),
]
TikTokMode = Annotated[
    Literal["inbox", "direct"],
    Field(description="inbox (the default): a draft in the account's inbox; direct: posted."),
]
Privacy = Annotated[
    PrivacyLevel,
    Field(description="Who sees a direct post; default: the most private level offered."),
]


class TikTokIn(BaseModel):
    """A TikTok account, as ``tiktok:`` of a destination in the config file."""

    model_config = ConfigDict(extra="forbid")

    account: Account
    mode: TikTokMode | None = None
    privacy_level: Privacy | None = None
    credit: StrictBool | None = Field(
        default=None, description="End the caption with the original author (default true)."
    )


class DestinationIn(BaseModel):
    """A destination to add: its name and its entry as the config file writes it under
    ``destinations:``, a chat (``telegram``), an archive (``archive``) or a TikTok account
    (``tiktok``). Keys omitted are not stored: their defaults apply."""

    model_config = ConfigDict(extra="forbid")

    name: DestinationName
    telegram: TelegramIn | None = None
    archive: ArchiveIn | None = None
    tiktok: TikTokIn | None = None
    archive_to: DestinationName | None = Field(
        default=None, description="An archive that also gets every post sent to this chat."
    )
    caption: Caption | None = None
    link: StrictBool | None = Field(default=None, description="Add a link to the original post.")
    slideshow_audio: StrictBool | None = Field(
        default=None, description="After a slideshow's images, send its sound (default true)."
    )


class TelegramPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chat_id: ChatId | None = None
    topic_id: TopicId | None = None
    oversize: Oversize | None = None
    slideshow: Slideshow | None = None


class ArchivePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Line | None = None
    url: Line | None = None
    endpoint_url: Line | None = None
    keep_days: KeepDays | None = None


class TikTokPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Account | None = None
    mode: TikTokMode | None = None
    privacy_level: Privacy | None = None
    credit: StrictBool | None = None


class DestinationPatch(BaseModel):
    """What to change, as a JSON merge patch (RFC 7396) of the destination's entry: a key
    omitted keeps its value, a key given replaces it (``telegram``, ``archive`` and ``tiktok``
    key by key), null removes it so that its default applies (``{"caption": null}``: the
    default caption; ``{"telegram": {"topic_id": null}}``: General)."""

    model_config = ConfigDict(extra="forbid")

    telegram: TelegramPatch | None = None
    archive: ArchivePatch | None = None
    tiktok: TikTokPatch | None = None
    archive_to: DestinationName | None = None
    caption: Caption | None = None
    link: StrictBool | None = None
    slideshow_audio: StrictBool | None = None


class DestinationRemoved(BaseModel):
    name: str
