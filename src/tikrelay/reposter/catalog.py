"""The catalog: every watched source and every destination, as rows in the database.

This module is the only way to read or change them. The config file's entries are synced in on
start with origin ``file`` and are read-only everywhere else; entries made through tikrelay's own
interfaces carry their origin (``cli``, later ``bot``, ``web``) and the sync leaves them alone.

Rules of the sync, decided here once:

- file entries are inserted or brought up to date; a file entry whose key already exists with
  another origin is taken over by the file (settings replaced, unpaused): the file is what the
  user declared, and an entry silently ignored would be worse;
- a file entry no longer in the file is deleted, not disabled: what a source has seen and what
  was delivered live in the reposter's own tables, keyed by source and destination, so nothing
  of that history goes with the row, and a creator watched again is not backfilled twice;
- a destination dropped from the file while sources of another origin still route to it stops
  the sync with an error naming them, and nothing changes.

Input is checked as the config file is: the same pydantic models on the same dict shape, the
same creator forms and ``url:`` addresses, filters, routes that name existing destinations,
caption templates that render. A source made elsewhere than the file is changed in place
(``edit_source``): its key (the creator, or the address) is what it is, and stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine

from tikrelay.config.settings import (
    DestinationSettings,
    Settings,
    SourceSettings,
    check_archive_to,
)
from tikrelay.reposter.model import (
    Route,
    Routes,
    SetupError,
    WatchedSource,
    check_relay_settings,
    source_identity,
)
from tikrelay.reposter.model import watched_sources as file_sources
from tikrelay.sources.refs import SITE, URL_SOURCE, parse_creator, playlist_key
from tikrelay.store import catalog_sql
from tikrelay.store.queue import Clock, utc_now

MAX_NAME = 200  # catalog_destinations.name

M = TypeVar("M", bound=BaseModel)


class Origin(StrEnum):
    FILE = "file"
    CLI = "cli"
    BOT = "bot"
    WEB = "web"


class CatalogError(ValueError):
    """A catalog change was refused; the message says what and why."""


class InvalidEntryError(CatalogError):
    """Bad input: the message names the field, as the config file's errors do."""


class UnknownEntryError(CatalogError):
    """No source or destination by that key or name."""


class FromFileError(CatalogError):
    """The entry comes from the config file, and only the file changes it."""


@dataclass(frozen=True)
class CatalogSource:
    key: str
    username: str
    origin: str
    paused: bool
    settings: SourceSettings
    created_at: datetime
    updated_at: datetime

    @property
    def watched(self) -> WatchedSource:
        return WatchedSource(self.key, self.username, self.settings)


@dataclass(frozen=True)
class CatalogDestination:
    name: str
    origin: str
    settings: DestinationSettings
    created_at: datetime
    updated_at: datetime

    @property
    def route(self) -> Route:
        return Route(self.name, self.settings)


@dataclass
class EntryChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # made elsewhere, now the file's
    removed: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    sources: EntryChanges = field(default_factory=EntryChanges)
    destinations: EntryChanges = field(default_factory=EntryChanges)

    @property
    def changed(self) -> bool:
        return any(
            getattr(changes, kind)
            for changes in (self.sources, self.destinations)
            for kind in ("added", "changed", "adopted", "removed")
        )


#: The two kinds of source, as a ``sources`` entry names them.
SOURCE_KINDS = ("tiktok", URL_SOURCE)
#: The keys of a source's entry an edit may change: its kind and reference are its key.
EDITABLE = ("to", "depth", "backfill", "every_minutes", "filters")
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_ONE_KIND = (
    "give exactly one of tiktok (a creator: '@name') and url (a channel or playlist yt-dlp "
    "can list)"
)


def source_entry(ref: str) -> dict[str, str]:
    """A source as a user writes it on the command line or in a form → the start of its
    ``sources`` entry: ``{"tiktok": ref}`` for ``@alice``, ``alice``, a profile URL or
    ``tiktok:@alice``; ``{"url": ref}`` for any other address (or ``url:ADDRESS``). Checked
    when the source is added."""
    text = ref.strip()
    if text.lower().startswith(f"{URL_SOURCE}:") and not _ADDRESS.match(text):
        return {"url": text[len(URL_SOURCE) + 1 :].strip()}
    if text.lower().startswith(f"{SITE}:") and not _ADDRESS.match(text):
        return {"tiktok": text[len(SITE) + 1 :].strip()}
    try:
        parse_creator(text)
    except ValueError:
        if _ADDRESS.match(text):
            return {"url": text}
    return {"tiktok": text}


def source_key(ref: str) -> str:
    """``tiktok:@alice``, ``@alice``, ``alice`` or a profile URL → ``tiktok:@alice``; a
    channel or playlist address, or ``url:ADDRESS`` → ``url:ADDRESS`` (not checked: a key
    names what is there, and an address the checks of a later tikrelay refuse can still be
    removed)."""
    entry = source_entry(ref)
    if "url" in entry:
        return playlist_key(entry["url"])
    try:
        username = parse_creator(entry["tiktok"])
    except ValueError as exc:
        raise InvalidEntryError(f"tiktok: {exc}") from None
    return _key(username)


def _key(username: str) -> str:
    return f"{SITE}:@{username.lower()}"  # as watched_sources keys the file's sources


def _field_errors(exc: ValidationError, renamed: Mapping[str, str] | None = None) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        item = re.sub(r"(?:\.\d+)+$", "", name)  # filters.kinds.1: the list's option
        name = (renamed or {}).get(name) or (renamed or {}).get(item) or name
        if error["type"] == "extra_forbidden":
            problems.append(f"{name}: unknown option")
        elif error["type"] == "value_error":
            problems.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
        else:
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(problems)


def _validated(
    model: type[M], data: Mapping[str, Any], renamed: Mapping[str, str] | None = None
) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEntryError(_field_errors(exc, renamed)) from None


def _stored(model: BaseModel) -> dict[str, Any]:
    # What the user gave, not every default: a row reads like its YAML entry, and defaults
    # changed by a later tikrelay apply to it as they would to the file.
    return model.model_dump(mode="json", exclude_unset=True)


def _plain(value: Any, name: str) -> None:
    """Refuse control characters in what a source stores: no address, word or name has one,
    and PostgreSQL's JSON cannot hold NUL."""
    if isinstance(value, str) and any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidEntryError(f"{name}: {value!r} has control characters")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _plain(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for item in value:
            _plain(item, name)


def _check_name(name: str) -> str:
    if not name.strip():
        raise InvalidEntryError("name: empty; give the destination a name, such as 'channel'")
    if name != name.strip() or any(not char.isprintable() for char in name):
        raise InvalidEntryError(f"name: {name!r} has spaces around it or control characters")
    if len(name) > MAX_NAME:
        raise InvalidEntryError(f"name: longer than {MAX_NAME} characters")
    return name


def _check_caption(settings: DestinationSettings) -> None:
    if not settings.caption:
        return
    from tikrelay.captions import CaptionTemplateError, check_template  # Jinja2 loads here

    try:
        check_template(settings.caption)
    except CaptionTemplateError as exc:
        raise InvalidEntryError(f"caption: {exc}") from None


class Catalog:
    """Sources and destinations in the database of ``engine``. ``config_file`` only names the
    file in messages that send the user there."""

    def __init__(
        self, engine: Engine, *, config_file: Path | str | None = None, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self.config_file = config_file
        self.clock = clock

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            catalog_sql.lock(conn)
            yield conn

    def _file(self) -> str:
        return f"the config file {self.config_file}" if self.config_file else "the config file"

    def _refuse_file_row(self, what: str, origin: str) -> None:
        if origin == Origin.FILE:
            raise FromFileError(f"{what} comes from {self._file()}: change it there")

    # -- the config file ------------------------------------------------------------------------

    def sync_from_settings(self, settings: Settings) -> SyncReport:
        """Make the catalog's ``file`` rows what ``settings`` defines, in one transaction."""
        try:
            check_relay_settings(settings)  # creator forms and caption templates
        except SetupError as exc:
            raise InvalidEntryError(str(exc)) from None
        for name in settings.destinations:
            try:
                _check_name(name)
            except InvalidEntryError as exc:
                raise InvalidEntryError(f"destinations.{exc}") from None
        destinations = {n: _stored(d) for n, d in settings.destinations.items()}
        sources = {w.key: _stored(w.settings) for w in file_sources(settings)}
        report = SyncReport()
        with self._writing() as conn:
            self._upsert_destinations(conn, destinations, report.destinations)
            self._sync_sources(conn, sources, report.sources)
            self._drop_destinations(conn, destinations, report.destinations)
        return report

    def _upsert_destinations(
        self, conn: Connection, wanted: dict[str, dict[str, Any]], report: EntryChanges
    ) -> None:
        now = self.clock()
        have = {row.name: row for row in catalog_sql.destinations(conn)}
        for name, data in wanted.items():
            found = have.get(name)
            if found is None:
                catalog_sql.insert_destination(conn, name, Origin.FILE, data, now)
                report.added.append(name)
            elif found.origin != Origin.FILE or dict(found.settings) != data:
                catalog_sql.replace_destination(conn, name, Origin.FILE, data, now)
                (report.changed if found.origin == Origin.FILE else report.adopted).append(name)

    def _sync_sources(
        self, conn: Connection, wanted: dict[str, dict[str, Any]], report: EntryChanges
    ) -> None:
        now = self.clock()
        have = {row.key: row for row in catalog_sql.sources(conn)}
        for key, data in wanted.items():
            found = have.get(key)
            if found is None:
                catalog_sql.insert_source(conn, key, Origin.FILE, data, now)
                report.added.append(key)
            elif found.origin != Origin.FILE or dict(found.settings) != data or found.paused:
                catalog_sql.replace_source(conn, key, Origin.FILE, data, now)
                (report.changed if found.origin == Origin.FILE else report.adopted).append(key)
        gone = [k for k, row in have.items() if row.origin == Origin.FILE and k not in wanted]
        catalog_sql.delete_sources(conn, gone)
        report.removed.extend(gone)

    def _drop_destinations(
        self, conn: Connection, wanted: dict[str, dict[str, Any]], report: EntryChanges
    ) -> None:
        """Delete the file's destinations no longer in it; refused (the whole sync rolled back)
        while sources of another origin route to one of them."""
        have = catalog_sql.destinations(conn)
        dropped = [r.name for r in have if r.origin == Origin.FILE and r.name not in wanted]
        if not dropped:
            return
        sources = catalog_sql.sources(conn)
        for name in dropped:
            users = [f"{r.key} ({r.origin})" for r in sources if name in r.settings["to"]]
            if users:
                raise CatalogError(
                    f"destination {name!r} is no longer in {self._file()}, but sources added "
                    f"elsewhere route to it: {', '.join(users)}; put it back in the file "
                    "until you have removed them (tikrelay sources remove KEY)"
                )
        catalog_sql.delete_destinations(conn, dropped)
        report.removed.extend(dropped)

    # -- reading --------------------------------------------------------------------------------

    def source_entries(self, include_paused: bool = True) -> list[CatalogSource]:
        with self.engine.connect() as conn:
            rows = catalog_sql.sources(conn)
        return [self._source(row) for row in rows if include_paused or not row.paused]

    def version(self) -> tuple[object, ...]:
        """Changes whenever an entry is added, changed, paused or removed (by any process)."""
        with self.engine.connect() as conn:
            return catalog_sql.version(conn)

    def routes(self) -> Routes:
        """The destinations and the sources being watched, with the paused ones (whose filters
        still hold for the posts they found)."""
        entries = self.source_entries(include_paused=True)
        return Routes(
            self.destinations(),
            [entry.watched for entry in entries if not entry.paused],
            paused=[entry.watched for entry in entries if entry.paused],
        )

    def sources(self, include_paused: bool = False) -> list[WatchedSource]:
        """What is watched now (paused sources only when asked), by key."""
        return [entry.watched for entry in self.source_entries(include_paused)]

    def source(self, key: str) -> CatalogSource | None:
        with self.engine.connect() as conn:
            row = catalog_sql.source(conn, source_key(key))
        return None if row is None else self._source(row)

    def destination_entries(self) -> list[CatalogDestination]:
        with self.engine.connect() as conn:
            rows = catalog_sql.destinations(conn)
        return [self._destination(row) for row in rows]

    def destinations(self) -> dict[str, DestinationSettings]:
        return {entry.name: entry.settings for entry in self.destination_entries()}

    def destination(self, name: str) -> DestinationSettings | None:
        with self.engine.connect() as conn:
            row = catalog_sql.destination(conn, name)
        return None if row is None else self._destination(row).settings

    def _source(self, row: catalog_sql.SourceRow) -> CatalogSource:
        try:
            settings = SourceSettings.model_validate(row.settings)
            _, username = source_identity(settings)
        except (ValidationError, ValueError) as exc:
            raise CatalogError(self._unreadable(f"source {row.key}", row.origin, exc)) from None
        return CatalogSource(
            row.key, username, row.origin, row.paused, settings, row.created_at, row.updated_at
        )

    def _destination(self, row: catalog_sql.DestinationRow) -> CatalogDestination:
        try:
            settings = DestinationSettings.model_validate(row.settings)
        except ValidationError as exc:
            raise CatalogError(
                self._unreadable(f"destination {row.name}", row.origin, exc)
            ) from None
        return CatalogDestination(row.name, row.origin, settings, row.created_at, row.updated_at)

    def _unreadable(self, what: str, origin: str, exc: Exception) -> str:
        reason = _field_errors(exc) if isinstance(exc, ValidationError) else str(exc)
        fix = f"fix it in {self._file()}" if origin == Origin.FILE else "remove it and add it again"
        return f"{what} in the catalog is no longer valid ({reason}): {fix}"

    # -- changing sources -----------------------------------------------------------------------

    def add_source(
        self,
        tiktok: str | None,
        to: Sequence[str],
        *,
        origin: Origin | str = Origin.CLI,
        renamed: Mapping[str, str] | None = None,
        app_info: bool = False,
        **options: Any,
    ) -> CatalogSource:
        """Watch a creator (``tiktok``), or a channel or playlist (``url`` in ``options``,
        ``tiktok`` None); ``options`` are the other keys of a ``sources`` entry (``depth``,
        ``backfill``, ``every_minutes``, ``filters``). ``renamed``: how the input names a field
        in messages (``{"filters.min_views": "--min-views"}``). ``app_info``: the settings
        hold the TikTok app's parameters (``network.tiktok_app_info``), without which a TikTok
        hashtag or sound is refused, as the config file's is."""
        made_by = self._origin(origin)
        data = {**({} if tiktok is None else {"tiktok": tiktok}), "to": list(to), **options}
        data["to"] = list(dict.fromkeys(data["to"]))
        given = [kind for kind in SOURCE_KINDS if data.get(kind) is not None]
        if len(given) != 1:
            raise InvalidEntryError(f"{'url' if given else 'tiktok'}: {_ONE_KIND}")
        settings, stored = self._checked_source(data, renamed)
        try:
            key, _ = source_identity(settings, app_info=app_info)
        except ValueError as exc:
            raise InvalidEntryError(str(exc)) from None
        with self._writing() as conn:
            found = catalog_sql.source(conn, key)
            if found is not None:
                self._refuse_file_row(f"source {key}", found.origin)
                raise CatalogError(
                    f"source {key} exists already (added through {found.origin}); change it "
                    "with tikrelay sources edit (or Edit on the web), or remove it first to add "
                    "it again"
                )
            self._check_routes(conn, settings)
            catalog_sql.insert_source(conn, key, made_by, stored, self.clock())
            row = catalog_sql.source(conn, key)
        assert row is not None
        return self._source(row)

    def edit_source(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        renamed: Mapping[str, str] | None = None,
    ) -> CatalogSource:
        """Change a source made elsewhere than the config file, in place: ``changes`` holds
        keys of ``EDITABLE`` (``filters`` whole: its rules replace the old ones); None (or
        ``{}`` for ``filters``) removes a key, so that its default applies. A paused source
        stays paused; what it saw and delivered is kept."""
        for name in changes:
            if name in SOURCE_KINDS:
                raise InvalidEntryError(
                    f"{name}: a source's creator or address is its key and cannot be changed: "
                    "remove the source and add the other one"
                )
        with self._writing() as conn:
            row = self._changeable_source(conn, ref)
            data = dict(row.settings)
            for name, value in changes.items():
                if value is None or (name == "filters" and not value):
                    data.pop(name, None)
                else:
                    data[name] = value
            if "to" in data:
                data["to"] = list(dict.fromkeys(data["to"]))
            settings, stored = self._checked_source(data, renamed)
            self._check_routes(conn, settings)
            if stored != dict(row.settings):
                catalog_sql.replace_source(conn, row.key, row.origin, stored, self.clock())
                if row.paused:  # replace_source runs it again; the edit keeps it paused
                    catalog_sql.set_paused(conn, row.key, True, self.clock())
            found = catalog_sql.source(conn, row.key)
        assert found is not None
        return self._source(found)

    @staticmethod
    def _checked_source(
        data: Mapping[str, Any], renamed: Mapping[str, str] | None
    ) -> tuple[SourceSettings, dict[str, Any]]:
        """The entry, checked as the file's are, and what is stored of it."""
        settings = _validated(SourceSettings, data, renamed)
        stored = _stored(settings)
        _plain(stored, "")
        return settings, stored

    @staticmethod
    def _check_routes(conn: Connection, settings: SourceSettings) -> None:
        known = {row.name for row in catalog_sql.destinations(conn)}
        missing = [name for name in settings.to if name not in known]
        if missing:
            defined = ", ".join(sorted(known)) or "none defined"
            raise InvalidEntryError(
                f"to: destination {missing[0]!r} does not exist (defined: {defined})"
            )

    # -- subscriptions (a chat asks for a creator's posts) ------------------------------------

    def subscribe(
        self,
        creator: str,
        destination: str,
        chat_id: int | str,
        topic_id: int | None = None,
        *,
        origin: Origin | str = Origin.BOT,
    ) -> tuple[CatalogSource, bool]:
        """Route ``creator``'s new posts to a chat: its destination ``destination`` is made when
        missing; the creator's source too (new posts only: backfill 0), else the destination is
        added to its routes. Refused for a source from the config file. (source, changed)."""
        made_by = self._origin(origin)
        try:
            key = _key(parse_creator(creator))
        except ValueError as exc:
            raise InvalidEntryError(str(exc)) from None
        telegram: dict[str, Any] = {"chat_id": chat_id}
        if topic_id is not None:
            telegram["topic_id"] = topic_id
        wanted = _validated(DestinationSettings, {"telegram": telegram})
        with self._writing() as conn:
            if catalog_sql.destination(conn, destination) is None:
                now = self.clock()
                catalog_sql.insert_destination(conn, destination, made_by, _stored(wanted), now)
            row = catalog_sql.source(conn, key)
            if row is None:
                settings = _validated(
                    SourceSettings,
                    {"tiktok": f"@{key.split('@', 1)[1]}", "to": [destination], "backfill": 0},
                )
                catalog_sql.insert_source(conn, key, made_by, _stored(settings), self.clock())
                changed = True
            else:
                self._refuse_file_row(f"source {key}", row.origin)
                routes = list(row.settings.get("to", []))
                changed = destination not in routes
                if changed:
                    updated = {**row.settings, "to": [*routes, destination]}
                    catalog_sql.replace_source(conn, key, row.origin, updated, self.clock())
                    if row.paused:  # a paused source stays paused
                        catalog_sql.set_paused(conn, key, True, self.clock())
            found = catalog_sql.source(conn, key)
        assert found is not None
        return self._source(found), changed

    def unsubscribe(self, creator: str, destination: str) -> bool:
        """Stop routing ``creator``'s posts to ``destination``; a source left with no route is
        removed, and so is the destination once nothing routes to it. False when it was not
        subscribed."""
        try:
            key = _key(parse_creator(creator))
        except ValueError as exc:
            raise InvalidEntryError(str(exc)) from None
        with self._writing() as conn:
            row = catalog_sql.source(conn, key)
            if row is None or destination not in row.settings.get("to", []):
                return False
            self._refuse_file_row(f"source {key}", row.origin)
            routes = [name for name in row.settings["to"] if name != destination]
            if routes:
                updated = {**row.settings, "to": routes}
                catalog_sql.replace_source(conn, key, row.origin, updated, self.clock())
                if row.paused:
                    catalog_sql.set_paused(conn, key, True, self.clock())
            else:
                catalog_sql.delete_sources(conn, [key])
            still = [s for s in catalog_sql.sources(conn) if destination in s.settings["to"]]
            found = catalog_sql.destination(conn, destination)
            if not still and found is not None and found.origin == Origin.BOT:
                catalog_sql.delete_destinations(conn, [destination])
        return True

    def subscriptions(self, destination: str) -> list[CatalogSource]:
        """The sources routed to ``destination``, paused ones too."""
        return [s for s in self.source_entries() if destination in s.settings.to]

    def remove_source(self, key: str) -> str:
        """Stop watching; return the source's key."""
        with self._writing() as conn:
            row = self._changeable_source(conn, key)
            catalog_sql.delete_sources(conn, [row.key])
        return row.key

    def pause_source(self, key: str) -> bool:
        """Stop polling it, keeping its settings; False when it was paused already."""
        return self._set_paused(key, True)

    def resume_source(self, key: str) -> bool:
        """Poll it again; False when it was not paused."""
        return self._set_paused(key, False)

    def _set_paused(self, key: str, paused: bool) -> bool:
        with self._writing() as conn:
            row = self._changeable_source(conn, key)
            return catalog_sql.set_paused(conn, row.key, paused, self.clock())

    def _changeable_source(self, conn: Connection, ref: str) -> catalog_sql.SourceRow:
        key = source_key(ref)
        row = catalog_sql.source(conn, key)
        if row is None:
            raise UnknownEntryError(f"source {key} is not in the catalog")
        self._refuse_file_row(f"source {key}", row.origin)
        return row

    # -- changing destinations ------------------------------------------------------------------

    def add_destination(
        self,
        name: str,
        chat_id: int | str,
        topic_id: int | None = None,
        *,
        origin: Origin | str = Origin.CLI,
        **options: Any,
    ) -> CatalogDestination:
        """A Telegram chat (and forum topic) posts may go to; ``options`` are the other keys of
        a ``destinations`` entry (``caption``, ``link``, ``slideshow_audio``, ``archive_to``) and
        of its ``telegram`` section (``oversize``, ``slideshow``)."""
        telegram: dict[str, Any] = {"chat_id": chat_id}
        if topic_id is not None:
            telegram["topic_id"] = topic_id
        for key in ("oversize", "slideshow"):
            if key in options:
                telegram[key] = options.pop(key)
        renamed = {"telegram.chat_id": "chat_id", "telegram.topic_id": "topic_id"}
        return self._add_destination(name, {"telegram": telegram, **options}, renamed, origin)

    def add_archive(
        self, name: str, *, origin: Origin | str = Origin.CLI, **archive: Any
    ) -> CatalogDestination:
        """An archive destination: ``path`` or ``url`` (with ``endpoint_url``), ``keep_days``."""
        renamed = {f"archive.{key}": key for key in ("path", "url", "endpoint_url", "keep_days")}
        return self._add_destination(name, {"archive": archive}, renamed, origin)

    def add_tiktok(
        self, name: str, *, origin: Origin | str = Origin.CLI, **tiktok: Any
    ) -> CatalogDestination:
        """A TikTok account as a destination: ``account``, ``mode``, ``privacy_level``,
        ``credit`` (its tokens come from ``tikrelay tiktok-auth``, never from here)."""
        return self._add_destination(name, {"tiktok": tiktok}, {}, origin)

    def _add_destination(
        self, name: str, raw: dict[str, Any], renamed: dict[str, str], origin: Origin | str
    ) -> CatalogDestination:
        made_by = self._origin(origin)
        _check_name(name)
        settings = _validated(DestinationSettings, raw, renamed)
        _check_caption(settings)
        with self._writing() as conn:
            found = catalog_sql.destination(conn, name)
            if found is not None:
                self._refuse_file_row(f"destination {name!r}", found.origin)
                raise CatalogError(
                    f"destination {name!r} exists already (added through {found.origin}); "
                    "remove it first to add it again with other settings"
                )
            known = {r.name: self._destination(r).settings for r in catalog_sql.destinations(conn)}
            try:
                check_archive_to(name, settings, {**known, name: settings})
            except ValueError as exc:
                message = str(exc).replace(f"destinations.{name}.archive_to", "--archive-to")
                raise InvalidEntryError(message) from None
            catalog_sql.insert_destination(conn, name, made_by, _stored(settings), self.clock())
            row = catalog_sql.destination(conn, name)
        assert row is not None
        return self._destination(row)

    def remove_destination(self, name: str) -> None:
        """Refused while any source, paused or not, routes to it, or a destination archives to
        it."""
        with self._writing() as conn:
            row = catalog_sql.destination(conn, name)
            if row is None:
                raise UnknownEntryError(f"destination {name!r} is not in the catalog")
            self._refuse_file_row(f"destination {name!r}", row.origin)
            users = [s.key for s in catalog_sql.sources(conn) if name in s.settings["to"]]
            archiving = [
                f"destination {r.name!r} (archive_to)"
                for r in catalog_sql.destinations(conn)
                if r.settings.get("archive_to") == name
            ]
            users += archiving
            if users:
                raise CatalogError(
                    f"destination {name!r} is in use by {', '.join(users)}: remove those "
                    f"{'first' if archiving else 'sources first'}"
                )
            catalog_sql.delete_destinations(conn, [name])

    @staticmethod
    def _origin(origin: Origin | str) -> Origin:
        try:
            made_by = Origin(origin)
        except ValueError:
            known = ", ".join(o.value for o in Origin if o is not Origin.FILE)
            raise InvalidEntryError(f"origin: {origin!r} is not one of {known}") from None
        if made_by is Origin.FILE:
            raise InvalidEntryError("origin: 'file' is for the config file's entries, by sync")
        return made_by
