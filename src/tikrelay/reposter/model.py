"""The reposter's model: its job kinds and payloads, routes to destinations, watched sources,
and the checks the settings need beyond pydantic's."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from tikrelay.config.settings import (
    DestinationSettings,
    FilterSettings,
    Settings,
    SourceSettings,
    TelegramDestination,
)
from tikrelay.destinations.target import ChatTarget
from tikrelay.domain.errors import InvalidJobError
from tikrelay.sources.media_urls import WEB
from tikrelay.sources.refs import (
    SITE,
    URL_SOURCE,
    app_listing,
    parse_creator,
    parse_playlist,
    playlist_key,
)

POLL = "poll"
DELIVER = "deliver"
ARCHIVE = "archive"
#: One message listing the posts a destination's schedule gathered (schedule.catch_up: digest).
DIGEST = "digest"
PRUNE_MEDIA = "prune_media"
PRUNE_ARCHIVES = "prune_archives"
#: A post published to a TikTok account (a tiktok destination), through the Content Posting API.
PUBLISH = "publish"
#: The job kinds that need a post's downloaded media while they wait or run.
MEDIA_KINDS = (DELIVER, ARCHIVE, PUBLISH)


class PollPayload(BaseModel):
    source: str  # the source's key, e.g. tiktok:@alice


class DeliverPayload(BaseModel):
    """A post for one destination: a ``deliver`` job (a chat) or an ``archive`` job."""

    post: str  # tiktok:<id>, or web:<id> for an entry of a url: source
    id: str
    url: str
    source: str
    destination: str
    #: A ``url:`` source's caption author when the entry's page names none: the entry's
    #: uploader as listed, else the feed's title. Stored only when there is one.
    author: str | None = Field(default=None, exclude_if=lambda value: value is None)
    #: When the post was published, for a destination with a schedule (its queue is oldest
    #: first, across sources). Stored only when there is one.
    published_at: datetime | None = Field(default=None, exclude_if=lambda value: value is None)


class DigestPayload(BaseModel):
    """A ``digest`` job: one message to ``destination`` listing the posts gathered for it."""

    destination: str
    #: The oldest gathered post's time: the digest's place in the destination's queue.
    published_at: datetime | None = None


@dataclass(frozen=True)
class Route:
    """A destination by name, as the config defines it now."""

    name: str
    settings: DestinationSettings
    after: int | None = None  # a message the post follows in the chat (the bot's request)
    largest: int | None = None  # bytes a request may download (the bot's size cap)
    documents: bool = False  # a video goes as a file (someone asked the bot for documents)

    @property
    def target(self) -> ChatTarget:
        telegram = self.settings.chat
        return ChatTarget(telegram.chat_id, telegram.topic_id)

    @property
    def chat(self) -> str:
        return str(self.settings.chat.chat_id)

    @classmethod
    def to_chat(
        cls,
        name: str,
        chat_id: int | str,
        topic_id: int | None = None,
        *,
        after: int | None = None,
        caption: str | None = None,
        largest: int | None = None,
        documents: bool = False,
    ) -> Route:
        """A chat that is no destination of the catalog: one that asked the bot for a post
        (in the message ``after``), captioned by the template ``caption`` (default: the
        reposter's), downloading at most ``largest`` bytes; ``documents``: a video as a file."""
        telegram = TelegramDestination(chat_id=chat_id, topic_id=topic_id)
        extra = {} if caption is None else {"caption": caption}
        settings = DestinationSettings(telegram=telegram, **extra)
        return cls(name, settings, after, largest, documents)

    @property
    def job_kind(self) -> str:
        """The kind of job that takes a post there."""
        if self.settings.tiktok is not None:
            return PUBLISH
        return ARCHIVE if self.settings.archive is not None else DELIVER


def job_for(kind: str, post_key: str, destination: str) -> str:
    """The dedupe key of the job that takes a post to a destination."""
    return f"{kind}:{post_key}:{destination}"


@dataclass(frozen=True)
class WatchedSource:
    key: str
    username: str  # a creator's; for a url: source, its address
    settings: SourceSettings

    @property
    def playlist(self) -> bool:
        """A ``url:`` source: a channel or playlist yt-dlp lists."""
        return self.settings.url is not None

    @property
    def label(self) -> str:
        """How reports name it: ``@alice``, or the address."""
        return self.username if self.playlist else f"@{self.username}"

    @property
    def site(self) -> str:
        """The site of its posts' keys: ``tiktok`` for a creator's and for a TikTok hashtag's
        or sound's (the same post, found by either, is one post), ``web`` for other entries."""
        return WEB if self.playlist and app_listing(self.username) is None else SITE


def source_identity(source: SourceSettings, *, app_info: bool = True) -> tuple[str, str]:
    """(key, handle) of a source: ``tiktok:@alice`` and ``alice``, or ``url:ADDRESS`` and the
    address; a ValueError names the field that is wrong. Without ``app_info``
    (``network.tiktok_app_info`` unset) a TikTok hashtag or sound is refused, saying so."""
    if source.url is not None:
        try:
            url = parse_playlist(source.url, app_info=app_info)
        except ValueError as exc:
            raise ValueError(f"{URL_SOURCE}: {exc}") from None
        return playlist_key(url), url
    try:
        username = parse_creator(source.tiktok or "")
    except ValueError as exc:
        raise ValueError(f"{SITE}: {exc}") from None
    return f"{SITE}:@{username.lower()}", username


def watched_sources(settings: Settings) -> list[WatchedSource]:
    """The configured sources, keyed; a bad creator reference or address names its key."""
    found: dict[str, WatchedSource] = {}
    places: dict[str, int] = {}
    for index, source in enumerate(settings.sources):
        try:
            key, username = source_identity(source, app_info=bool(settings.network.tiktok_app_info))
        except ValueError as exc:
            raise ValueError(f"sources.{index}.{exc}") from None
        if key in found:  # the same source twice: one source routing to every destination
            if source.filters != found[key].settings.filters:
                shown = found[key].label
                raise ValueError(
                    f"sources.{index}.filters: {shown} is watched by sources."
                    f"{places[key]} too, with other filters; one creator is one source, whose "
                    "filters hold for all its destinations: give both entries the same "
                    "filters, or join them into one"
                )
            merged = sorted({*found[key].settings.to, *source.to})
            source = source.model_copy(update={"to": merged})
        found[key] = WatchedSource(key, username, source)
        places.setdefault(key, index)
    return list(found.values())


#: Telegram's megabyte: the cloud Bot API takes 50 of them (52,428,800 bytes).
_MB = 1024 * 1024


def upload_limit(settings: Settings) -> int:
    """The largest file sent to Telegram, in bytes: 50 MB (52,428,800 bytes) with the cloud Bot
    API, 2000 MB with a local server, or ``delivery.max_upload_mb``."""
    configured = settings.delivery.max_upload_mb
    if configured is not None:
        return round(configured * _MB)
    return (2000 if settings.telegram.local_mode else 50) * _MB


#: How stale a process's routes may be: it looks whether the catalog changed at most this often.
REFRESH_SECONDS = 5.0


class Routes:
    """Sources and destinations by key and name, as they stood when the program started: the
    catalog's (which the config file is synced into), or the settings' alone."""

    def __init__(
        self,
        destinations: Mapping[str, DestinationSettings],
        sources: Iterable[WatchedSource],
        paused: Iterable[WatchedSource] = (),
    ) -> None:
        self.destinations = dict(destinations)
        self.sources = {watched.key: watched for watched in sources}
        #: Paused sources: not polled, but the posts they found before still pass their filters.
        self.paused = {watched.key: watched for watched in paused}
        #: Reads the catalog again (blocking): set when the routes come from one.
        self.loader: Callable[[], Routes] | None = None
        #: Tells whether the catalog changed (blocking); see ``refresh``.
        self.version: Callable[[], object] | None = None
        self._seen: object = None
        self._checked = -REFRESH_SECONDS

    def update(self, other: Routes) -> None:
        """Take ``other``'s sources and destinations (every holder of this object sees them)."""
        self.destinations = dict(other.destinations)
        self.sources = dict(other.sources)
        self.paused = dict(other.paused)

    def knows(self, *, source: str | None = None, destination: str | None = None) -> bool:
        """Whether this process holds that source and destination (else ``reload``)."""
        return (source is None or source in self.sources) and (
            destination is None or destination in self.destinations
        )

    def watch(
        self, loader: Callable[[], Routes], version: Callable[[], object], seen: object
    ) -> None:
        """Read again from ``loader`` whenever ``version`` is no longer ``seen`` (what it was
        before these routes were read; see ``refresh``)."""
        self.loader, self.version = loader, version
        self._seen, self._checked = seen, time.monotonic()

    def due(self) -> bool:
        """Whether ``refresh`` would look at the catalog now (cheap: no database)."""
        watched = self.version is not None and self.loader is not None
        return watched and time.monotonic() - self._checked >= REFRESH_SECONDS

    def refresh(self) -> None:
        """Read the catalog again when another process changed it (a filter edited in the web,
        a source paused from the command line), looking at most every ``REFRESH_SECONDS``
        (blocking)."""
        version, loader = self.version, self.loader
        if version is None or loader is None or not self.due():
            return
        self._checked = time.monotonic()
        seen = version()
        if seen != self._seen:
            self.update(loader())
            self._seen = seen

    def reload(self) -> None:
        """Read the catalog again (blocking): another process (``tikrelay web``, a bot, the
        command line) may have added the source or destination a job names."""
        if self.loader is not None:
            self.update(self.loader())

    @classmethod
    def from_settings(cls, settings: Settings) -> Routes:
        return cls(settings.destinations, watched_sources(settings))

    def route(self, name: str) -> Route:
        found = self.destinations.get(name)
        if found is None:
            raise InvalidJobError(f"destination {name!r} is no longer in the catalog")
        return Route(name, found)

    def source(self, key: str) -> WatchedSource:
        found = self.sources.get(key)
        if found is None:
            raise InvalidJobError(f"source {key!r} is no longer watched (or is paused)")
        return found

    def filters_for(self, source: str, destination: str) -> FilterSettings | None:
        """The filters a post of ``source`` passes to go to ``destination``: the source's, for
        the destinations of its ``to``. None for anything else: a post a person asked for, an
        archive reached through ``archive_to`` (it takes what its chat got), a source removed
        since. A paused source's filters still hold for the posts it found before."""
        watched = self.sources.get(source) or self.paused.get(source)
        if watched is None or destination not in watched.settings.to:
            return None
        return watched.settings.filters

    def tiktok_account(self, name: str) -> str | None:
        """The TikTok account a destination publishes to, if it is one."""
        found = self.destinations.get(name)
        return found.tiktok.account if found is not None and found.tiktok is not None else None

    def chat_of(self, name: str) -> str | None:
        """The chat a destination posts to, if it still exists."""
        found = self.destinations.get(name)
        return None if found is None or found.telegram is None else Route(name, found).chat


def check_archive(destination: DestinationSettings) -> None:
    """An archive destination can be opened: its URL is understood and its credentials are in
    the environment (no request is made)."""
    archive = destination.archive
    if archive is None:
        return  # a chat: obstore is not even loaded
    from tikrelay.archive import open_archive

    open_archive(path=archive.path, url=archive.url, endpoint_url=archive.endpoint_url)


class SetupError(ValueError):
    """The settings cannot run the reposter; the message names the key and the fix."""


def check_tiktok(name: str, destination: DestinationSettings, settings: Settings) -> None:
    """A tiktok destination has the app's keys and TIKRELAY_SECRET_KEY to work with."""
    from tikrelay.destinations.tiktok_auth import setup_problem  # cryptography: only then

    if destination.archive_to is not None:
        raise SetupError(
            f"destinations.{name}.archive_to: a tiktok destination does not archive; give "
            "the source the archive destination in its to: list instead"
        )
    problem = setup_problem(settings.tiktok_app)
    if problem is not None:
        raise SetupError(f"destinations.{name}.tiktok needs {problem}")


def check_relay_settings(settings: Settings, *, archives: bool = True) -> None:
    """What pydantic cannot check alone: creator references, caption templates and (with
    ``archives``) that each archive destination can be opened."""
    try:
        watched_sources(settings)
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    for name, destination in settings.destinations.items():
        if destination.tiktok is not None:
            check_tiktok(name, destination, settings)
        if archives and destination.archive is not None:
            try:
                check_archive(destination)
            except ValueError as exc:
                raise SetupError(f"destinations.{name}.archive: {exc}") from None
    templates = {n: d.caption for n, d in settings.destinations.items() if d.caption is not None}
    prompts = {n: d.ai_caption for n, d in settings.destinations.items() if d.ai_caption}
    if not templates and not prompts:
        return
    from tikrelay.captions import CaptionTemplateError, check_prompt, check_template  # Jinja2

    for name, ai in prompts.items():
        try:
            check_prompt(ai.prompt)
        except CaptionTemplateError as exc:
            raise SetupError(f"destinations.{name}.ai_caption.prompt: {exc}") from None
        if not os.environ.get(ai.api_key_env, "").strip():
            raise SetupError(
                f"destinations.{name}.ai_caption.api_key_env: the environment variable "
                f"{ai.api_key_env} is not set: export the API key in it"
            )

    for name, caption in templates.items():
        if caption:
            try:
                check_template(caption)
            except CaptionTemplateError as exc:
                raise SetupError(f"destinations.{name}.caption: {exc}") from None
