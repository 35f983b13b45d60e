"""Destinations of the catalog, as every face changes them: ``tikrelay destinations add``,
``add-archive`` and ``remove`` on the command line, ``/api/destinations`` and the destinations
page on the web.

A destination is given as the config file writes it under ``destinations:``, a chat
(``{"telegram": {"chat_id": -100123, "topic_id": 5}, "caption": …}``), an archive
(``{"archive": {"path": "/srv/tiktok"}}``) or a TikTok account (``{"tiktok": {"account":
"main", "mode": "inbox"}}``: its tokens come from ``tikrelay tiktok-auth``, never from here), and
is checked as the file is: an add goes through the catalog's own checks (``add_destination``,
``add_archive``, and for an account the one they share), an edit through the same settings
model, caption check and ``archive_to`` rule. Only the keys given are stored, so defaults work
for these entries as they do for the file's.

An edit writes the entry in place (one locked catalog transaction), not by removing it and adding
it again as a source's edit does: a destination that sources route to cannot be removed.

The faces that hold a ``Runtime`` (the web) call ``add``, ``edit`` and ``remove``: their
refusals come as ``runtime.actions``' errors, naming the field as the config file writes it
(``telegram.chat_id``), and the reposter of this process routes to the catalog as it stands
after each change. A worker of another process finds a destination added here when its first
job names it (``Routes.reload``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from tikrelay.config.settings import DestinationSettings
from tikrelay.reposter.catalog import (
    Catalog,
    CatalogError,
    FromFileError,
    InvalidEntryError,
    Origin,
    UnknownEntryError,
)

# The web's destination pages show catalog entries: this module is where they get the type.
from tikrelay.reposter.catalog import CatalogDestination as CatalogDestination
from tikrelay.reposter.model import check_archive
from tikrelay.runtime.actions import (
    DestinationView,
    FieldError,
    NotFoundError,
    RefusedError,
    list_destinations,
)
from tikrelay.runtime.app import Runtime
from tikrelay.store import catalog_sql, tiktok_sql

T = TypeVar("T")

#: The keys of a chat's ``telegram`` section that the catalog's add takes.
TELEGRAM_KEYS = ("chat_id", "topic_id", "oversize", "slideshow")
#: The keys of an archive's ``archive`` section.
ARCHIVE_KEYS = ("path", "url", "endpoint_url", "keep_days")
#: The keys of a TikTok account's ``tiktok`` section.
TIKTOK_KEYS = ("account", "mode", "privacy_level", "credit")
#: The keys of a chat beside its ``telegram`` section.
CHAT_OPTIONS = ("caption", "link", "slideshow_audio", "archive_to")
ONE_KIND = (
    "telegram: give exactly one of telegram (a chat: telegram: {chat_id: ...}), archive "
    "(a folder or bucket: archive: {path: DIR}) and tiktok (an account: tiktok: {account: NAME})"
)
#: How a catalog message names its field: ``chat_id: …``, ``telegram.topic_id: …``.
_HEAD = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")

Check = Callable[[DestinationSettings], None]


# -- what the command line and the web share --------------------------------------------------


def add_destination(
    catalog: Catalog,
    name: str,
    settings: Mapping[str, Any],
    *,
    origin: Origin | str = Origin.CLI,
    check: Check | None = None,
) -> CatalogDestination:
    """Add ``name``: a chat (``telegram``), an archive (``archive``) or a TikTok account
    (``tiktok``), with ``settings`` shaped as its entry in the config file. ``check`` sees the
    settings before they are written (the web's: can this process open the archive)."""
    data = dict(settings)
    telegram, archive = data.pop("telegram", None), data.pop("archive", None)
    tiktok = data.pop("tiktok", None)
    if sum(kind is not None for kind in (telegram, archive, tiktok)) != 1:
        raise InvalidEntryError(ONE_KIND)
    unknown = sorted(str(key) for key in data if key not in CHAT_OPTIONS)
    if unknown:
        raise InvalidEntryError(f"{unknown[0]}: unknown option")
    if check is not None:
        try:
            parsed = DestinationSettings.model_validate(settings)
        except ValidationError:
            pass  # the catalog's add names the field
        else:
            check(parsed)
    if tiktok is not None:
        if data:
            key = sorted(data)[0]
            raise InvalidEntryError(
                f"{key}: belongs to a telegram destination, not to a TikTok account (its "
                "caption is the post's text and, with credit, its author)"
            )
        return catalog.add_tiktok(name, origin=origin, **_section("tiktok", tiktok, TIKTOK_KEYS))
    if archive is not None:
        if data:
            key = sorted(data)[0]
            raise InvalidEntryError(f"{key}: belongs to a telegram destination, not to an archive")
        sections = _section("archive", archive, ARCHIVE_KEYS)
        return catalog.add_archive(name, origin=origin, **sections)
    chat = _section("telegram", telegram, TELEGRAM_KEYS)
    chat_id, topic_id = chat.pop("chat_id", None), chat.pop("topic_id", None)
    return catalog.add_destination(name, chat_id, topic_id, origin=origin, **chat, **data)


def _section(name: str, value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEntryError(f"{name}: write it as a mapping of {', '.join(keys)}")
    unknown = sorted(str(key) for key in value if key not in keys)
    if unknown:
        raise InvalidEntryError(f"{name}.{unknown[0]}: unknown option (known: {', '.join(keys)})")
    return {str(key): item for key, item in value.items()}


def edit_destination(
    catalog: Catalog, name: str, changes: Mapping[str, Any], *, check: Check | None = None
) -> CatalogDestination:
    """Change a destination made outside the config file. ``changes`` is merged into its entry
    as a JSON merge patch (RFC 7396): a key given replaces its value, a section (``telegram``,
    ``archive``) is merged key by key, and null removes a key, so that its default applies.
    The result is checked as an add is; the destination keeps its name, origin and routes."""
    with catalog.engine.begin() as conn:
        catalog_sql.lock(conn)
        row = catalog_sql.destination(conn, name)
        if row is None:
            raise UnknownEntryError(f"destination {name!r} is not in the catalog")
        if row.origin == Origin.FILE:
            where = f"the config file {catalog.config_file}" if catalog.config_file else None
            raise FromFileError(
                f"destination {name!r} comes from {where or 'the config file'}: change it there"
            )
        settings = _checked(merge_patch(row.settings, changes))
        others = {r.name: r.settings for r in catalog_sql.destinations(conn) if r.name != name}
        _check_archive_links(name, settings, others)
        if check is not None:
            check(settings)
        now = catalog.clock()
        stored = settings.model_dump(mode="json", exclude_unset=True)
        catalog_sql.replace_destination(conn, name, row.origin, stored, now)
    return CatalogDestination(name, row.origin, settings, row.created_at, now)


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` with ``patch`` applied as a JSON merge patch (RFC 7396)."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            inner = merged.get(key)
            merged[key] = merge_patch(inner if isinstance(inner, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def _checked(data: Mapping[str, Any]) -> DestinationSettings:
    """``data`` as the settings of a destination, or InvalidEntryError naming the field as
    the config file writes it (``telegram.chat_id: …``)."""
    try:
        settings = DestinationSettings.model_validate(dict(data))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "telegram"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown option"
        elif error["type"] not in ("value_error", "missing"):
            message = f"{message} (got {error.get('input')!r})"  # as the catalog's add says it
        raise InvalidEntryError(f"{field}: {message}") from None
    if settings.caption:
        from tikrelay.captions import CaptionTemplateError, check_template  # Jinja2 loads here

        try:
            check_template(settings.caption)
        except CaptionTemplateError as exc:
            raise InvalidEntryError(f"caption: {exc}") from None
    return settings


def _check_archive_links(
    name: str, settings: DestinationSettings, others: Mapping[str, Mapping[str, Any]]
) -> None:
    """``archive_to`` names an archive; a destination others archive to stays an archive."""
    archives = sorted(n for n, data in others.items() if data.get("archive") is not None)
    target = settings.archive_to
    if target is not None and target not in archives:
        raise InvalidEntryError(
            f"archive_to: names {target!r}, which is not an archive destination (archive "
            f"destinations: {', '.join(archives) or 'none'})"
        )
    if settings.archive is None:
        users = sorted(n for n, data in others.items() if data.get("archive_to") == name)
        if users:
            named = ", ".join(f"destination {user!r}" for user in users)
            raise CatalogError(
                f"archive: destination {name!r} is in use by {named} (archive_to): it stays an "
                "archive until those archive elsewhere"
            )


def remove_destination(catalog: Catalog, name: str) -> None:
    """Remove a destination that no source routes to and no chat archives to."""
    catalog.remove_destination(name)


def sources_per_destination(catalog: Catalog) -> dict[str, int]:
    """How many sources, paused ones too, route to each destination that has any."""
    users: dict[str, int] = {}
    for source in catalog.source_entries():
        for name in source.settings.to:
            users[name] = users.get(name, 0) + 1
    return users


# -- the faces that hold a runtime (the web) --------------------------------------------------


def add(runtime: Runtime, name: str, settings: Mapping[str, Any]) -> DestinationView:
    """Add a destination made by the web (origin ``web``)."""
    catalog = runtime.catalog()
    entry = _refusals(
        lambda: add_destination(
            catalog, name, settings, origin=Origin.WEB, check=_openable(runtime)
        )
    )
    return _changed(runtime, entry.name)


def edit(runtime: Runtime, name: str, changes: Mapping[str, Any]) -> DestinationView:
    """Change a destination (``edit_destination``)."""
    catalog = runtime.catalog()
    entry = _refusals(lambda: edit_destination(catalog, name, changes, check=_openable(runtime)))
    return _changed(runtime, entry.name)


def remove(runtime: Runtime, name: str) -> str:
    """Remove a destination; its name."""
    _refusals(lambda: remove_destination(runtime.catalog(), name))
    runtime.reload_catalog()
    return name


def unauthorized_accounts(runtime: Runtime) -> list[str]:
    """The TikTok accounts that destinations name and ``tikrelay tiktok-auth`` has not stored
    yet (their publish jobs fail until it has), by name."""
    entries = _refusals(runtime.catalog().destination_entries)
    named = {e.settings.tiktok.account for e in entries if e.settings.tiktok is not None}
    if not named:
        return []
    with runtime.queue.engine.connect() as conn:
        authorized = set(tiktok_sql.account_names(conn))
    return sorted(named - authorized)


def find(runtime: Runtime, name: str) -> CatalogDestination | None:
    """The destination ``name`` as the catalog holds it, or None."""
    found = _refusals(runtime.catalog().destination_entries)
    return next((e for e in found if e.name == name), None)


def _changed(runtime: Runtime, name: str) -> DestinationView:
    runtime.reload_catalog()
    for view in list_destinations(runtime):
        if view.name == name:
            return view
    raise NotFoundError(f"destination {name!r} is not in the catalog")  # removed meanwhile


def _openable(runtime: Runtime) -> Check | None:
    """Under ``tikrelay serve`` this process routes to what it adds, and reloading the catalog
    opens every archive: one it cannot open (no credentials in its environment) is refused
    before it is written. Under ``tikrelay web`` alone, the workers' environment decides."""
    if runtime.reposter is None:
        return None

    def check(settings: DestinationSettings) -> None:
        try:
            check_archive(settings)
        except ValueError as exc:
            raise InvalidEntryError(f"archive: {exc}") from None

    return check


def _refusals(action: Callable[[], T]) -> T:
    """Run a catalog change; its refusals as ``runtime.actions``' errors."""
    try:
        return action()
    except InvalidEntryError as exc:
        field, message = field_of(str(exc))
        raise FieldError(field, message) from None
    except UnknownEntryError as exc:
        raise NotFoundError(str(exc)) from None
    except CatalogError as exc:  # from the config file, exists already, in use
        raise RefusedError(str(exc)) from None


def field_of(message: str) -> tuple[str, str]:
    """The field a catalog message about a destination names, as the config file writes it
    (``chat_id: …`` is ``telegram.chat_id``), and the message as the web says it."""
    if message.startswith("--archive-to "):  # the command line's name for it
        message = "archive_to: " + message.removeprefix("--archive-to ")
    head = message.split(":", 1)[0].strip()
    if head in TELEGRAM_KEYS:
        return f"telegram.{head}", message
    if head in ARCHIVE_KEYS:
        return f"archive.{head}", message
    return (head if _HEAD.fullmatch(head) else "body"), message
