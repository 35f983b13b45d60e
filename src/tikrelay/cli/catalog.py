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
    from tikrelay.config.settings import Settings
    from tikrelay.reposter.catalog import Catalog, CatalogSource

# The database layer is imported inside the commands: `tikrelay --help` should not pay for it.

T = TypeVar("T")

SourceArg = Annotated[
    str,
    typer.Argument(
        metavar="SOURCE",
        help="The source: @username, a profile URL, a channel or playlist address, or its key "
        "(tiktok:@name, url:ADDRESS).",
    ),
]
FILTERS = "Filters (a post must pass every one given)"
MinViews = Annotated[
    int | None,
    typer.Option(
        "--min-views",
        metavar="N",
        help="Only posts seen at least N times.",
        rich_help_panel=FILTERS,
    ),
]
MinLikes = Annotated[
    int | None,
    typer.Option(
        "--min-likes",
        metavar="N",
        help="Only posts liked at least N times.",
        rich_help_panel=FILTERS,
    ),
]
MaxAgeDays = Annotated[
    float | None,
    typer.Option(
        "--max-age-days",
        metavar="D",
        help="Only posts created at most D days before they are delivered (0.5: twelve hours).",
        rich_help_panel=FILTERS,
    ),
]
Kinds = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        metavar="video|slideshow",
        help="Only this kind of post; repeat for both.",
        rich_help_panel=FILTERS,
    ),
]
MinDuration = Annotated[
    float | None,
    typer.Option(
        "--min-duration",
        metavar="S",
        help="Only videos at least S seconds long (slideshows pass).",
        rich_help_panel=FILTERS,
    ),
]
MaxDuration = Annotated[
    float | None,
    typer.Option(
        "--max-duration",
        metavar="S",
        help="Only videos at most S seconds long (slideshows pass).",
        rich_help_panel=FILTERS,
    ),
]
MinHeight = Annotated[
    int | None,
    typer.Option(
        "--min-height",
        metavar="PX",
        help="Only videos at least PX pixels high (slideshows pass).",
        rich_help_panel=FILTERS,
    ),
]
Include = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="WORD",
        help="Only posts whose text or hashtags have this word, these words or this #hashtag "
        "(whole words, case and accents ignored); repeat: any one of them.",
        rich_help_panel=FILTERS,
    ),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="WORD",
        help="No post whose text or hashtags have this word, these words or this #hashtag; "
        "repeat for more.",
        rich_help_panel=FILTERS,
    ),
]
#: How a catalog message names a filter (``filters.min_views: …``): by its option.
FILTER_OPTIONS = {
    "filters.min_views": "--min-views",
    "filters.min_likes": "--min-likes",
    "filters.max_age_days": "--max-age-days",
    "filters.kinds": "--kind",
    "filters.min_duration": "--min-duration",
    "filters.max_duration": "--max-duration",
    "filters.min_height": "--min-height",
    "filters.include": "--include",
    "filters.exclude": "--exclude",
}
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The destination's name.")]

sources_app = typer.Typer(
    help="What is watched: list, add, edit, remove, pause and resume sources.", no_args_is_help=True
)
destinations_app = typer.Typer(
    help="Where posts go: list, add and remove destinations.", no_args_is_help=True
)


def catalog_from(config: Path | None) -> Catalog:
    """The catalog, with the config file's entries synced in."""
    return _opened(config)[0]


def _opened(config: Path | None) -> tuple[Catalog, Settings]:
    """The catalog, with the config file's entries synced in, and the settings."""
    from tikrelay.reposter.catalog import Catalog, CatalogError
    from tikrelay.store import DatabaseError, open_engine

    configure_logging(level=logging.WARNING)
    settings = settings_from(config)
    try:
        catalog = Catalog(open_engine(settings), config_file=config_path(config))
        catalog.sync_from_settings(settings)
    except (DatabaseError, CatalogError) as exc:  # the file cannot be applied: a config mistake
        raise fail(str(exc)) from None
    return catalog, settings


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
    """Every source, paused ones too, with where it came from, where its posts go and its
    filters."""
    entries = changed(catalog_from(config).source_entries)
    if not entries:
        typer.echo("no sources yet: add one with `tikrelay sources add @creator --to NAME`")
        return
    table = Table("key", "origin", "paused", "every (min)", "routes", "filters", box=None)
    for entry in entries:
        table.add_row(
            entry.key,
            entry.origin,
            "yes" if entry.paused else "no",
            f"{entry.settings.every_minutes:g}",
            ", ".join(entry.settings.to),
            _filters_text(entry),
        )
    Console(width=200).print(table)


@sources_app.command("add")
def add_source(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A TikTok creator (@username or profile URL), or any channel, playlist or feed "
            "address yt-dlp can list (a url: source).",
        ),
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
    min_views: MinViews = None,
    min_likes: MinLikes = None,
    max_age_days: MaxAgeDays = None,
    kind: Kinds = None,
    min_duration: MinDuration = None,
    max_duration: MaxDuration = None,
    min_height: MinHeight = None,
    include: Include = None,
    exclude: Exclude = None,
    config: Path | None = ConfigOption,
) -> None:
    """Watch a TikTok creator, or a channel or playlist, and send its new posts that pass the
    filters given to the named destinations."""
    from tikrelay.reposter.catalog import source_entry

    catalog, settings = _opened(config)
    given = {"depth": depth, "backfill": backfill, "every_minutes": every_minutes}
    options: dict[str, Any] = _given(given)
    rules = _rules(min_views, min_likes, max_age_days, kind, min_duration, max_duration, min_height)
    rules.update(_given({"include": include, "exclude": exclude}))
    if rules:
        options["filters"] = rules
    source = source_entry(ref)
    options.update({k: v for k, v in source.items() if k != "tiktok"})
    app_info = bool(settings.network.tiktok_app_info)
    entry = changed(
        lambda: catalog.add_source(
            source.get("tiktok"), to, renamed=FILTER_OPTIONS, app_info=app_info, **options
        )
    )
    typer.echo(f"added source {entry.key} → {', '.join(entry.settings.to)}{_said(entry)}")


@sources_app.command("edit")
def edit_source(
    source: SourceArg,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", "-t", help="Its destinations, all of them; repeat for more."),
    ] = None,
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
    no_filters: Annotated[
        bool,
        typer.Option(
            "--no-filters",
            help="Drop every filter first; the filter options given make the new ones.",
            rich_help_panel=FILTERS,
        ),
    ] = False,
    min_views: MinViews = None,
    min_likes: MinLikes = None,
    max_age_days: MaxAgeDays = None,
    kind: Kinds = None,
    min_duration: MinDuration = None,
    max_duration: MaxDuration = None,
    min_height: MinHeight = None,
    include: Include = None,
    exclude: Exclude = None,
    config: Path | None = ConfigOption,
) -> None:
    """Change a source made with the command line, the bot or the web: the options given
    replace what it had (a filter option replaces that rule, the others stay); its key, its
    pause and what it saw and delivered stay."""
    catalog = catalog_from(config)
    changes: dict[str, Any] = _given(
        {"to": to, "depth": depth, "backfill": backfill, "every_minutes": every_minutes}
    )
    rules = _rules(min_views, min_likes, max_age_days, kind, min_duration, max_duration, min_height)
    rules.update(_given({"include": include, "exclude": exclude}))
    if not changes and not rules and not no_filters:
        raise fail(
            "nothing to change: give --to, --depth, --backfill, --every-minutes, a filter "
            "option (--min-views, --kind, --include…) or --no-filters"
        )
    if rules or no_filters:
        found = changed(lambda: catalog.source(source))
        if found is None:
            raise fail(f"source {_key(source)} is not in the catalog", EXIT_REFUSED)
        old = {} if no_filters else _rules_of(found)
        changes["filters"] = {**old, **rules} or None
    entry = changed(lambda: catalog.edit_source(source, changes, renamed=FILTER_OPTIONS))
    said = _said(entry) or "; no filters"
    typer.echo(f"changed source {entry.key} → {', '.join(entry.settings.to)}{said}")


def _rules(
    min_views: int | None,
    min_likes: int | None,
    max_age_days: float | None,
    kinds: list[str] | None,
    min_duration: float | None,
    max_duration: float | None,
    min_height: int | None,
) -> dict[str, Any]:
    """The filter rules given, as the config file writes them under ``filters``."""
    return _given(
        {
            "min_views": min_views,
            "min_likes": min_likes,
            "max_age_days": max_age_days,
            "kinds": kinds,
            "min_duration": min_duration,
            "max_duration": max_duration,
            "min_height": min_height,
        }
    )


def _rules_of(entry: CatalogSource) -> dict[str, Any]:
    from tikrelay.runtime.actions import given_filters

    return given_filters(entry.settings.filters) or {}


def _filters_text(entry: CatalogSource) -> str:
    from tikrelay.runtime.actions import describe_filters

    return describe_filters(_rules_of(entry))


def _said(entry: CatalogSource) -> str:
    text = _filters_text(entry)
    return f"; filters: {text}" if text else ""


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
            "(or `add-archive NAME --path DIR`, or `add NAME --tiktok-account ACCOUNT`)"
        )
        return
    from tikrelay.runtime.destination_actions import sources_per_destination

    users = changed(lambda: sources_per_destination(catalog))
    table = Table("name", "origin", "chat", "topic", "sources", box=None)
    for entry in entries:
        telegram, archive = entry.settings.telegram, entry.settings.archive
        tiktok = entry.settings.tiktok
        if telegram is not None:
            where = str(telegram.chat_id)
            topic = "" if telegram.topic_id is None else str(telegram.topic_id)
        elif archive is not None:
            where, topic = f"archive {archive.url or archive.path}", ""
        else:
            assert tiktok is not None  # a destination is a chat, an archive or an account
            where, topic = f"TikTok account {tiktok.account} ({tiktok.mode})", ""
        table.add_row(entry.name, entry.origin, where, topic, str(users.get(entry.name, 0)))
    Console(width=160).print(table)


# A chat id such as -1001234567890 starts with a dash: read it as the argument, not an option.
@destinations_app.command("add", context_settings={"ignore_unknown_options": True})
def add_destination(
    name: NameArg,
    chat_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[CHAT]", help="The chat: a numeric id (-100… for channels) or @channel."
        ),
    ] = None,
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
    tiktok_account: Annotated[
        str | None,
        typer.Option(
            "--tiktok-account",
            help="Instead of a chat: a TikTok account, as named to tikrelay tiktok-auth.",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(help="With --tiktok-account: inbox (default, a draft) or direct."),
    ] = None,
    privacy_level: Annotated[
        str | None,
        typer.Option(
            "--privacy-level",
            help="With --tiktok-account: who sees a direct post (default: the most private).",
        ),
    ] = None,
    credit: Annotated[
        bool | None,
        typer.Option("--credit/--no-credit", help="With --tiktok-account: credit the author."),
    ] = None,
    config: Path | None = ConfigOption,
) -> None:
    """Add a Telegram chat (and forum topic) that sources may send posts to, or with
    --tiktok-account a TikTok account they publish to (authorized by tikrelay tiktok-auth)."""
    from tikrelay.runtime.destination_actions import add_destination

    catalog = catalog_from(config)
    chat = {"chat_id": chat_id, "topic_id": topic_id, "oversize": oversize, "slideshow": slideshow}
    given = {
        "caption": caption,
        "link": link,
        "slideshow_audio": slideshow_audio,
        "archive_to": archive_to,
    }
    if tiktok_account is not None:
        account = {"account": tiktok_account, "mode": mode, "privacy_level": privacy_level}
        # A chat's options with it are refused by the add, naming the first.
        chat_given = {"telegram": _given(chat)} if _given(chat) else {}
        tiktok = {"tiktok": _given({**account, "credit": credit}), **chat_given, **_given(given)}
        added = changed(lambda: add_destination(catalog, name, tiktok))
        found = added.settings.tiktok
        assert found is not None
        typer.echo(
            f"added destination {added.name!r} → TikTok account {found.account} ({found.mode}); "
            f"run `tikrelay tiktok-auth {found.account}` if it is not authorized yet"
        )
        return
    if chat_id is None or mode or privacy_level or credit is not None:
        raise fail("give the CHAT (--mode, --privacy-level and --credit go with --tiktok-account)")
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
