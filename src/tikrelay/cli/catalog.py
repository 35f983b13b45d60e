"""``tikrelay sources …`` and ``tikrelay destinations …``: the catalog from the command line.

Every command first syncs the config file into the catalog, as ``run`` and ``serve`` do on
start, so what it shows and checks against is what the file says now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tikrelay.cli.common import EXIT_REFUSED, ConfigOption, config_path, fail, settings_from
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.reposter.catalog import Catalog

# The database layer is imported inside the commands: `tikrelay --help` should not pay for it.

T = TypeVar("T")

SourceArg = Annotated[
    str,
    typer.Argument(
        metavar="SOURCE", help="The source: @username, a profile URL or its key (tiktok:@name)."
    ),
]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The destination's name.")]

sources_app = typer.Typer(
    help="What is watched: list, add, remove, pause and resume sources.", no_args_is_help=True
)
destinations_app = typer.Typer(
    help="Where posts go: list, add and remove destinations.", no_args_is_help=True
)


def catalog_from(config: Path | None) -> Catalog:
    """The catalog, with the config file's entries synced in."""
    from tikrelay.reposter.catalog import Catalog, CatalogError
    from tikrelay.store import DatabaseError, open_engine

    configure_logging(level=logging.WARNING)
    settings = settings_from(config)
    try:
        catalog = Catalog(open_engine(settings), config_file=config_path(config))
        catalog.sync_from_settings(settings)
    except (DatabaseError, CatalogError) as exc:  # the file cannot be applied: a config mistake
        raise fail(str(exc)) from None
    return catalog


def changed(action: Callable[[], T]) -> T:
    """Run a catalog change: bad input exits 2, a refused change 1, each with one line."""
    from tikrelay.reposter.catalog import CatalogError, InvalidEntryError

    try:
        return action()
    except InvalidEntryError as exc:
        raise fail(str(exc)) from None
    except CatalogError as exc:
        raise fail(str(exc), EXIT_REFUSED) from None


# -- sources -------------------------------------------------------------------------------------


@sources_app.command("list")
def list_sources(config: Path | None = ConfigOption) -> None:
    """Every source, paused ones too, with where it came from and where its posts go."""
    entries = changed(catalog_from(config).source_entries)
    if not entries:
        typer.echo("no sources yet: add one with `tikrelay sources add @creator --to NAME`")
        return
    table = Table("key", "origin", "paused", "every (min)", "routes", box=None)
    for entry in entries:
        table.add_row(
            entry.key,
            entry.origin,
            "yes" if entry.paused else "no",
            f"{entry.settings.every_minutes:g}",
            ", ".join(entry.settings.to),
        )
    Console(width=160).print(table)


@sources_app.command("add")
def add_source(
    tiktok: Annotated[
        str, typer.Argument(metavar="CREATOR", help="A TikTok creator: @username or profile URL.")
    ],
    to: Annotated[
        list[str], typer.Option("--to", "-t", help="A destination's name; repeat for more.")
    ],
    depth: Annotated[
        int | None, typer.Option(help="How many of the newest posts each poll reads.")
    ] = None,
    backfill: Annotated[
        int | None,
        typer.Option(help="Existing posts delivered the first time (0 only remembers them)."),
    ] = None,
    every_minutes: Annotated[
        float | None, typer.Option("--every-minutes", help="How often `serve` polls it.")
    ] = None,
    config: Path | None = ConfigOption,
) -> None:
    """Watch a TikTok creator and send its new posts to the named destinations."""
    catalog = catalog_from(config)
    given = {"depth": depth, "backfill": backfill, "every_minutes": every_minutes}
    options: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    entry = changed(lambda: catalog.add_source(tiktok, to, **options))
    typer.echo(f"added source {entry.key} → {', '.join(entry.settings.to)}")


@sources_app.command("remove")
def remove_source(source: SourceArg, config: Path | None = ConfigOption) -> None:
    """Stop watching a source (what it delivered stays delivered)."""
    catalog = catalog_from(config)
    key = changed(lambda: catalog.remove_source(source))
    typer.echo(f"removed source {key}")


@sources_app.command("pause")
def pause_source(source: SourceArg, config: Path | None = ConfigOption) -> None:
    """Stop polling a source, keeping its settings."""
    catalog = catalog_from(config)
    done = changed(lambda: catalog.pause_source(source))
    key = _key(source)
    typer.echo(f"paused source {key}" if done else f"source {key} was paused already")


@sources_app.command("resume")
def resume_source(source: SourceArg, config: Path | None = ConfigOption) -> None:
    """Poll a paused source again."""
    catalog = catalog_from(config)
    done = changed(lambda: catalog.resume_source(source))
    key = _key(source)
    typer.echo(f"resumed source {key}" if done else f"source {key} was not paused")


def _key(source: str) -> str:
    from tikrelay.reposter.catalog import source_key

    return source_key(source)


# -- destinations --------------------------------------------------------------------------------


@destinations_app.command("list")
def list_destinations(config: Path | None = ConfigOption) -> None:
    """Every destination, with where it came from and its chat."""
    catalog = catalog_from(config)
    entries = changed(catalog.destination_entries)
    if not entries:
        typer.echo(
            "no destinations yet: add one with `tikrelay destinations add NAME CHAT` "
            "(or `tikrelay destinations add-archive NAME --path DIR`)"
        )
        return
    from tikrelay.runtime.destination_actions import sources_per_destination

    users = changed(lambda: sources_per_destination(catalog))
    table = Table("name", "origin", "chat", "topic", "sources", box=None)
    for entry in entries:
        telegram, archive = entry.settings.telegram, entry.settings.archive
        if telegram is not None:
            where = str(telegram.chat_id)
            topic = "" if telegram.topic_id is None else str(telegram.topic_id)
        else:
            assert archive is not None  # a destination is a chat or an archive
            where, topic = f"archive {archive.url or archive.path}", ""
        table.add_row(entry.name, entry.origin, where, topic, str(users.get(entry.name, 0)))
    Console(width=160).print(table)


# A chat id such as -1001234567890 starts with a dash: read it as the argument, not an option.
@destinations_app.command("add", context_settings={"ignore_unknown_options": True})
def add_destination(
    name: NameArg,
    chat_id: Annotated[
        str,
        typer.Argument(
            metavar="CHAT", help="The chat: a numeric id (-100… for channels) or @channel."
        ),
    ],
    topic_id: Annotated[
        int | None, typer.Option("--topic-id", help="A forum topic; omit for General.")
    ] = None,
    caption: Annotated[
        str | None, typer.Option(help="Caption template (Jinja2), as in the config file.")
    ] = None,
    link: Annotated[
        bool | None, typer.Option("--link/--no-link", help="Add a link to the original post.")
    ] = None,
    slideshow_audio: Annotated[
        bool | None,
        typer.Option(
            "--slideshow-audio/--no-slideshow-audio",
            help="After a slideshow's images, send its sound as audio.",
        ),
    ] = None,
    oversize: Annotated[
        str | None,
        typer.Option(help="A video over the upload limit: compress (default) or skip."),
    ] = None,
    slideshow: Annotated[
        str | None,
        typer.Option(help="Photo slideshows as album (default), video or both."),
    ] = None,
    archive_to: Annotated[
        str | None,
        typer.Option("--archive-to", help="Also archive every post sent here to this archive."),
    ] = None,
    config: Path | None = ConfigOption,
) -> None:
    """Add a Telegram chat (and forum topic) that sources may send posts to."""
    from tikrelay.runtime.destination_actions import add_destination

    catalog = catalog_from(config)
    chat = {"chat_id": chat_id, "topic_id": topic_id, "oversize": oversize, "slideshow": slideshow}
    given = {
        "caption": caption,
        "link": link,
        "slideshow_audio": slideshow_audio,
        "archive_to": archive_to,
    }
    settings = {"telegram": _given(chat), **_given(given)}
    entry = changed(lambda: add_destination(catalog, name, settings))
    where = entry.settings.chat
    topic = "" if where.topic_id is None else f" topic {where.topic_id}"
    typer.echo(f"added destination {entry.name!r} → chat {where.chat_id}{topic}")


@destinations_app.command("add-archive")
def add_archive(
    name: NameArg,
    path: Annotated[
        Path | None, typer.Option(help="A local folder (created when missing).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Object storage instead: s3://BUCKET/PREFIX or az://CONTAINER/PREFIX."),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="The storage server, for services other than AWS."),
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option("--keep-days", help="Delete archived posts after this many days."),
    ] = None,
    config: Path | None = ConfigOption,
) -> None:
    """Add an archive (a folder, an S3 bucket or an Azure container) that stores every post
    sources send it, with its metadata; credentials come from the environment."""
    from tikrelay.runtime.destination_actions import add_destination

    catalog = catalog_from(config)
    given = {"path": path, "url": url, "endpoint_url": endpoint_url, "keep_days": keep_days}
    entry = changed(lambda: add_destination(catalog, name, {"archive": _given(given)}))
    archive = entry.settings.archive
    assert archive is not None
    typer.echo(f"added archive {entry.name!r} → {archive.url or archive.path}")


@destinations_app.command("remove")
def remove_destination(name: NameArg, config: Path | None = ConfigOption) -> None:
    """Remove a destination no source routes to."""
    from tikrelay.runtime.destination_actions import remove_destination

    catalog = catalog_from(config)
    changed(lambda: remove_destination(catalog, name))
    typer.echo(f"removed destination {name!r}")


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The options given: one not given is not stored, so that its default applies."""
    return {key: value for key, value in options.items() if value is not None}
