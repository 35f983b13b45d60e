"""What the web face may do to the program beyond the job queue: change the catalog (and have
the reposter of this process route and poll what it holds then), poll a source now, and ask for
any supported link to be delivered to a destination. Each action is a function of a
``Runtime``, so that a face only parses, calls one of them and answers.

A job made here is the very job the reposter makes itself, with the same dedupe key: a poll
asked for while the source's scheduled poll waits is that poll, and a link asked for while the
same post is on its way to the same destination is that delivery.

Under ``tikrelay web`` alone the runtime holds no reposter (no bot token is needed to serve the
API); its job kinds are then declared from a reposter made for that purpose, which opens
nothing, so that the jobs are written with the reposter's own attempts and defaults, and wait
for a worker of ``tikrelay serve`` or ``tikrelay worker``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tikrelay.config.settings import DestinationSettings, FilterSettings
from tikrelay.config.tiktok_settings import TikTokDestination
from tikrelay.domain.errors import TikrelayError
from tikrelay.engine.registry import Registry
from tikrelay.engine.service import JobService
from tikrelay.reposter.catalog import (
    EDITABLE,
    CatalogDestination,
    CatalogError,
    CatalogSource,
    FromFileError,
    InvalidEntryError,
    Origin,
    UnknownEntryError,
    source_key,
)

# The web's source form tells a creator from an address as the command line does.
from tikrelay.reposter.catalog import source_entry as source_entry
from tikrelay.reposter.clients import Clients
from tikrelay.reposter.jobs import Reposter, poll_schedule_name
from tikrelay.reposter.model import (
    ARCHIVE,
    DELIVER,
    POLL,
    PUBLISH,
    DeliverPayload,
    PollPayload,
    Route,
    Routes,
    job_for,
)
from tikrelay.runtime.app import Runtime
from tikrelay.sources.media_urls import WEB, check_url
from tikrelay.sources.refs import SITE, is_short_link, parse_post_link, post_url
from tikrelay.store import Enqueued
from tikrelay.store import relay as relay_sql
from tikrelay.store.web_sql import DeliveryJob, PollState, delivery_jobs, poll_states

T = TypeVar("T")

#: A link someone asks for jumps the queue as the bot's requests do: a person is waiting.
REQUEST_PRIORITY = 2
#: What a request's deliver job names as its source.
REQUESTED = "web"
#: The inputs a catalog message may start with (``to: destination 'x' does not exist``,
#: ``filters.min_views: …``).
SOURCE_FIELDS = ("tiktok", "url", *EDITABLE, "paused")


class ActionError(Exception):
    """An action was refused; the message says why. A face answers by the subclass."""


class FieldError(ActionError):
    """Bad input; ``field`` is the input it names (``url``, ``destination``, ``to``…)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(ActionError):
    """No source (or destination) by that name."""


class RefusedError(ActionError):
    """Refused as things stand: an entry from the config file, one that exists already, a
    paused source asked to poll."""


def _catalog(action: Callable[[], T]) -> T:
    """Run a catalog change or read; its refusals as this module's errors."""
    try:
        return action()
    except InvalidEntryError as exc:
        message = str(exc)
        head = message.split(":", 1)[0].strip()
        named = head.split(".", 1)[0] in SOURCE_FIELDS and " " not in head
        raise FieldError(head if named else "body", message) from None
    except UnknownEntryError as exc:
        raise NotFoundError(str(exc)) from None
    except CatalogError as exc:  # from the config file (FromFileError), or exists already
        raise RefusedError(str(exc)) from None


def check_source_ref(ref: str) -> str:
    """The key of a source reference (``@name``, a profile URL, ``tiktok:@name``, a channel or
    playlist address, ``url:ADDRESS``); FieldError naming ``id`` for one that names neither."""
    try:
        return source_key(ref)
    except InvalidEntryError as exc:
        raise FieldError("id", str(exc)) from None


# -- what the faces show --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceView:
    """A source of the catalog, and what its polls did."""

    key: str
    username: str  # a creator's; a url: source's address
    origin: str  # file, cli, bot, web
    paused: bool
    to: list[str]
    depth: int
    backfill: int | None
    every_minutes: float
    created_at: datetime
    updated_at: datetime
    polls: PollState
    tiktok: str | None = None  # the creator as written, or None for a url: source
    url: str | None = None  # the channel or playlist address, or None for a creator
    #: The rules of its ``filters`` that were given, as the config file writes them.
    filters: dict[str, Any] | None = None

    @property
    def read_only(self) -> bool:
        return self.origin == Origin.FILE

    @property
    def filters_text(self) -> str:
        """Its filters in brief (``min_views=1000 kinds=video exclude=#ad``); empty for none."""
        return describe_filters(self.filters)


def given_filters(filters: FilterSettings | None) -> dict[str, Any] | None:
    """The rules of a source's ``filters`` that were given (an empty list of words is no
    rule), as the config file writes them; None for none."""
    if filters is None:
        return None
    given = filters.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    rules = {name: value for name, value in given.items() if value != []}
    return rules or None


def describe_filters(rules: Mapping[str, Any] | None) -> str:
    """``min_views=1000 kinds=video,slideshow include="new york",#cats``; empty for none."""
    shown = []
    for name, value in (rules or {}).items():
        items = value if isinstance(value, list) else [value]
        texts = [_brief(item) for item in items]
        shown.append(f"{name}={','.join(texts)}")
    return " ".join(shown)


def _brief(value: Any) -> str:
    text = number_text(value) if isinstance(value, float) else str(value)
    return f'"{text}"' if any(char in text for char in ' ,"=') else text


def number_text(value: float) -> str:
    """A number as a form shows it and reads it back: ``1000000``, ``2.5`` (never ``1e+06``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class DestinationView:
    name: str
    origin: str
    kind: str  # telegram, archive, tiktok
    chat_id: str | None
    topic_id: int | None
    archive: str | None  # the archive's folder or object storage URL
    archive_to: str | None
    caption: str | None
    link: bool
    sources: int  # routed to it, paused ones too
    tiktok: TikTokDestination | None = None  # a TikTok account's settings (never a token)

    @property
    def read_only(self) -> bool:
        return self.origin == Origin.FILE


def list_sources(runtime: Runtime) -> list[SourceView]:
    """Every source, paused ones too, by key."""
    return _views(runtime, _catalog(runtime.catalog().source_entries))


def _views(runtime: Runtime, entries: list[CatalogSource]) -> list[SourceView]:
    keys = [entry.key for entry in entries]
    states = poll_states(runtime.queue.engine, keys, poll_schedule_name(""))
    return [_view(entry, states[entry.key]) for entry in entries]


def _view(entry: CatalogSource, polls: PollState) -> SourceView:
    settings = entry.settings
    return SourceView(
        key=entry.key,
        username=entry.username,
        origin=entry.origin,
        paused=entry.paused,
        to=list(settings.to),
        depth=settings.depth,
        backfill=settings.backfill,
        every_minutes=settings.every_minutes,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        polls=polls,
        tiktok=settings.tiktok,
        url=settings.url,
        filters=given_filters(settings.filters),
    )


def list_destinations(runtime: Runtime) -> list[DestinationView]:
    """Every destination, by name, with how many sources route to it."""
    catalog = runtime.catalog()
    users: dict[str, int] = {}
    for source in _catalog(catalog.source_entries):
        for name in source.settings.to:
            users[name] = users.get(name, 0) + 1
    return [
        _destination_view(e, users.get(e.name, 0)) for e in _catalog(catalog.destination_entries)
    ]


def _destination_view(entry: CatalogDestination, sources: int) -> DestinationView:
    settings = entry.settings
    telegram, archive = settings.telegram, settings.archive
    where = None
    if archive is not None:
        where = archive.url or (str(archive.path) if archive.path else None)
    return DestinationView(
        name=entry.name,
        origin=entry.origin,
        kind="telegram" if telegram else "archive" if archive is not None else "tiktok",
        chat_id=None if telegram is None else str(telegram.chat_id),
        topic_id=None if telegram is None else telegram.topic_id,
        archive=where,
        archive_to=settings.archive_to,
        caption=settings.caption,
        link=settings.link,
        sources=sources,
        tiktok=settings.tiktok,
    )


# -- the reposter's job kinds -------------------------------------------------------------------


def reposter_service(runtime: Runtime) -> JobService:
    """The job service that knows the reposter's kinds: the runtime's own when it runs the
    reposter, else one made to write its jobs (module docstring)."""
    if runtime.reposter is not None:
        return runtime.service
    registry = Registry()
    registry.include(Reposter(runtime.settings, runtime.service, Routes({}, [])).registry())
    return JobService(runtime.queue, registry, runtime.settings.jobs)


# -- sources ------------------------------------------------------------------------------------


def add_source(
    runtime: Runtime, tiktok: str | None, to: list[str], options: Mapping[str, Any]
) -> tuple[SourceView, Enqueued]:
    """Watch a creator, or a channel or playlist (``url`` in ``options``, ``tiktok`` None;
    ``options``: ``depth``, ``backfill``, ``every_minutes``, ``filters``), as ``tikrelay
    sources add`` does, and poll it at once; the source and its poll job."""
    catalog = runtime.catalog()
    app_info = bool(runtime.settings.network.tiktok_app_info)
    entry = _catalog(
        lambda: catalog.add_source(tiktok, to, origin=Origin.WEB, app_info=app_info, **options)
    )
    runtime.reload_catalog()
    made = enqueue_poll(runtime, entry.key)
    return _views(runtime, [entry])[0], made


def edit_source(
    runtime: Runtime, ref: str, changes: Mapping[str, Any], paused: bool | None
) -> SourceView:
    """Change a source's ``EDITABLE`` keys in place (the catalog's ``edit_source``: None
    removes a key, ``filters`` is replaced whole) and pause or resume it."""
    check_source_ref(ref)
    return _catalog(lambda: _edit(runtime, ref, changes, paused))


def _edit(
    runtime: Runtime, ref: str, changes: Mapping[str, Any], paused: bool | None
) -> SourceView:
    catalog = runtime.catalog()
    entry = catalog.source(ref)
    if entry is None:
        raise UnknownEntryError(f"source {source_key(ref)} is not in the catalog")
    if entry.origin == Origin.FILE:
        where = (
            f"the config file {runtime.config_file}" if runtime.config_file else "the config file"
        )
        raise FromFileError(f"source {entry.key} comes from {where}: change it there")
    if changes:
        entry = catalog.edit_source(entry.key, changes)
    if paused is not None and paused != entry.paused:
        if paused:
            catalog.pause_source(entry.key)
        else:
            catalog.resume_source(entry.key)
    found = catalog.source(entry.key)
    if found is None:  # removed meanwhile by another process
        raise UnknownEntryError(f"source {entry.key} is not in the catalog")
    runtime.reload_catalog()
    return _views(runtime, [found])[0]


def remove_source(runtime: Runtime, ref: str) -> str:
    """Stop watching a source; its key."""
    check_source_ref(ref)
    key = _catalog(lambda: runtime.catalog().remove_source(ref))
    runtime.reload_catalog()
    return key


def poll_now(runtime: Runtime, ref: str) -> Enqueued:
    """The source's poll, due now: its scheduled poll when one waits already."""
    key = check_source_ref(ref)
    entry = _catalog(lambda: runtime.catalog().source(ref))
    if entry is None:
        raise NotFoundError(f"source {key} is not in the catalog")
    if entry.paused:
        raise RefusedError(f"source {entry.key} is paused: resume it first")
    return enqueue_poll(runtime, entry.key)


def enqueue_poll(runtime: Runtime, key: str) -> Enqueued:
    """A poll job with the dedupe key of the source's schedule (``Reposter.enqueue_polls``),
    so that it never doubles a scheduled poll."""
    service = reposter_service(runtime)
    dedupe = f"schedule:{poll_schedule_name(key)}"
    return service.enqueue(POLL, PollPayload(source=key), dedupe_key=dedupe)


# -- requests: any supported link, delivered to a destination ------------------------------------


@dataclass(frozen=True)
class Requested:
    """The job that delivers a requested link, and what it is."""

    enqueued: Enqueued
    post: str
    destination: str
    delivered_before: bool  # the job completes without sending it again


def request_link(
    runtime: Runtime, url: str, destination: str | None, chat_id: int | str | None
) -> Requested:
    """The deliver job (an archive job for an archive) of the post behind ``url`` to a
    destination of the catalog, named or found by its chat: the job the reposter makes for a
    post its poll found, or the bot's fetch of a link to another site. A TikTok share link is
    followed to its post first, which blocks on the network: call this in a thread. FieldError
    names the input that is wrong."""
    found = _destination(runtime, destination, chat_id)
    post = _post(runtime, url.strip(), found.name)
    kind = Route(found.name, found.settings).job_kind  # deliver, archive or publish
    dedupe = job_for(kind, post.post, found.name)
    service = reposter_service(runtime)
    with runtime.queue.transaction() as conn:
        before = relay_sql.delivered_ids(conn, post.post, found.name) is not None
        made = service.enqueue(kind, post, dedupe_key=dedupe, priority=REQUEST_PRIORITY, conn=conn)
    return Requested(made, post.post, found.name, before)


def _destination(
    runtime: Runtime, name: str | None, chat_id: int | str | None
) -> CatalogDestination:
    if (name is None) == (chat_id is None):
        raise FieldError("destination", "give destination (a name) or chat_id, not both")
    entries = _catalog(runtime.catalog().destination_entries)
    if name is not None:
        for entry in entries:
            if entry.name == name:
                return entry
        defined = ", ".join(sorted(e.name for e in entries)) or "none defined"
        raise FieldError("destination", f"destination {name!r} does not exist (defined: {defined})")
    chats = [e for e in entries if _chat_of(e.settings) == str(chat_id).strip()]
    if not chats:
        raise FieldError(
            "chat_id",
            f"no destination posts to chat {chat_id}: add one first (tikrelay destinations add)",
        )
    if len(chats) > 1:
        names = ", ".join(sorted(e.name for e in chats))
        raise FieldError(
            "chat_id",
            f"chat {chat_id} is the chat of destinations {names}: name one as destination",
        )
    return chats[0]


def _chat_of(settings: DestinationSettings) -> str | None:
    return None if settings.telegram is None else str(settings.telegram.chat_id)


def _post(runtime: Runtime, url: str, destination: str) -> DeliverPayload:
    """The payload of a link: a TikTok post by its id (a share link expanded to it first, as
    the bot's request job does), any other public link by its digest (checked as the bot checks
    a link before it asks for it)."""
    found = parse_post_link(url)
    if found is None and is_short_link(url):
        # Blocking (yt-dlp follows the redirect): the web calls this in a thread of its own.
        reposter = runtime.reposter
        clients = reposter.clients if reposter is not None else Clients(runtime.settings)
        try:
            found = clients.tiktok.expand(url)
        except TikrelayError as exc:
            raise FieldError(
                "url",
                f"the share link {url} could not be followed to its post ({exc.message}): "
                "check it, or send the post's address (https://www.tiktok.com/@name/video/ID)",
            ) from None
        finally:
            if reposter is None:
                clients.close()
    if found is not None:
        username, post_id = found
        return DeliverPayload(
            post=f"{SITE}:{post_id}",
            id=post_id,
            url=post_url(username, post_id),
            source=REQUESTED,
            destination=destination,
        )
    try:
        check_url(url, WEB, resolve=False)
    except TikrelayError as exc:
        raise FieldError("url", exc.message) from None
    from tikrelay.sources.web import web_post_id  # loads yt-dlp: only for such a link

    post_id = web_post_id(url)
    return DeliverPayload(
        post=f"{WEB}:{post_id}", id=post_id, url=url, source=REQUESTED, destination=destination
    )


# -- posts: where each is on its way ------------------------------------------------------------

#: The kinds of the jobs that take a post to a destination.
DELIVERY_KINDS = (DELIVER, ARCHIVE, PUBLISH)


def post_delivery_jobs(
    runtime: Runtime, post_keys: Sequence[str]
) -> dict[str, dict[str, DeliveryJob]]:
    """By post and destination, the newest job taking it there (waiting, running, done or
    failed): what a post's deliveries alone do not tell."""
    return delivery_jobs(runtime.queue.engine, post_keys, DELIVERY_KINDS)
