"""The catalog takes what the config file takes, from the command line and the web too, on SQLite
and on PostgreSQL: ``url:`` sources (checked and keyed as the file's), ``filters`` (checked by the
file's model, messages renamed to the input's names), and an edit in place that keeps the key,
the pause and the origin, and that the file's own sources refuse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jobs_db import BACKENDS, FakeClock, temporary_database
from tikrelay.config import load_settings
from tikrelay.config.settings import FilterSettings, SourceSettings
from tikrelay.reposter.catalog import (
    Catalog,
    CatalogError,
    FromFileError,
    InvalidEntryError,
    Origin,
    UnknownEntryError,
    source_entry,
    source_key,
)
from tikrelay.reposter.model import Routes
from tikrelay.store import open_engine

CONFIG = Path("/etc/tikrelay/tikrelay.yaml")
FEED = "https://feeds.example.org/harbour.xml"
CHANNEL = "https://www.youtube.com/@somechannel/shorts"


@pytest.fixture(params=BACKENDS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with temporary_database(request.param, tmp_path) as url:
        settings = load_settings(
            None,
            state_dir=str(tmp_path / "state"),
            database_url=url,
            destinations={
                "main": {"telegram": {"chat_id": "@main"}},
                "spare": {"telegram": {"chat_id": -100}},
            },
            sources=[{"tiktok": "@filed", "to": ["main"]}],
        )
        engine = open_engine(settings)
        try:
            found = Catalog(engine, config_file=CONFIG, clock=FakeClock())
            found.sync_from_settings(settings)
            yield found
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    ("ref", "entry", "key"),
    [
        ("@Alice", {"tiktok": "@Alice"}, "tiktok:@alice"),
        ("https://www.tiktok.com/@Alice", {"tiktok": "https://www.tiktok.com/@Alice"}, None),
        ("tiktok:@alice", {"tiktok": "@alice"}, "tiktok:@alice"),
        (f" {FEED} ", {"url": FEED}, f"url:{FEED}"),
        (f"url:{CHANNEL}", {"url": CHANNEL}, f"url:{CHANNEL}"),
        ("not a creator!", {"tiktok": "not a creator!"}, None),
    ],
)
def test_a_reference_is_a_creator_or_an_address(
    ref: str, entry: dict[str, str], key: str | None
) -> None:
    assert source_entry(ref) == entry
    if key is not None:
        assert source_key(ref) == key


def test_a_url_source_is_added_as_the_file_would_key_it(catalog: Catalog) -> None:
    added = catalog.add_source(
        None, ["main"], url=f" {FEED} ", depth=5, filters={"kinds": "video"}, origin=Origin.WEB
    )
    assert added.key == f"url:{FEED}"
    assert added.username == FEED
    assert added.watched.playlist
    assert added.settings == SourceSettings(
        url=f" {FEED} ", to=["main"], depth=5, filters=FilterSettings(kinds=["video"])
    )
    assert catalog.source(FEED) == catalog.source(f"url:{FEED}") == added
    # What a run reads: the catalog's sources, routed with their filters.
    routes = Routes(catalog.destinations(), catalog.sources())
    found = routes.filters_for(f"url:{FEED}", "main")
    assert found is not None
    assert found.kinds == ["video"]
    with pytest.raises(CatalogError, match=r"exists already \(added through web\)"):
        catalog.add_source(None, ["main"], url=FEED)


@pytest.mark.parametrize(
    ("tiktok", "options", "message"),
    [
        (None, {"url": "https://www.tiktok.com/tag/cats"}, "url: https://www.tiktok.com/tag/cats"),
        (None, {"url": "https://www.tiktok.com/@alice"}, "url: https://www.tiktok.com/@alice is"),
        (None, {"url": "ftp://example.org/feed"}, "url: 'ftp://example.org/feed' is not a channel"),
        (None, {}, "tiktok: give exactly one of tiktok"),
        ("@alice", {"url": FEED}, "url: give exactly one of tiktok"),
        (None, {"url": FEED + "\x00"}, "url: "),
        ("@alice", {"filters": {"min_views": -1}}, "filters.min_views: Input should be greater"),
        ("@alice", {"filters": {"kinds": ["audio"]}}, "filters.kinds.0: 'audio' is not a kind"),
        ("@alice", {"filters": {"exclude": ["cats\x00"]}}, "filters.exclude: 'cats\\x00' has"),
        (
            "@alice",
            {"filters": {"min_duration": 90, "max_duration": 60}},
            "filters: min_duration 90 is more than max_duration 60",
        ),
        ("@alice", {"filters": {"colour": "red"}}, "filters.colour: unknown option"),
    ],
)
def test_a_bad_source_or_filter_is_refused_naming_the_field(
    catalog: Catalog, tiktok: str | None, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEntryError) as raised:
        catalog.add_source(tiktok, ["main"], **options)
    assert str(raised.value).startswith(message), str(raised.value)
    assert [s.key for s in catalog.source_entries()] == ["tiktok:@filed"]


def test_a_tiktok_hashtag_is_taken_only_with_the_apps_parameters(catalog: Catalog) -> None:
    tag = "https://www.tiktok.com/tag/cats"
    with pytest.raises(InvalidEntryError, match="app_info"):
        catalog.add_source(None, ["main"], url=tag)
    added = catalog.add_source(None, ["main"], url=tag, app_info=True)
    assert added.key == f"url:{tag}"


def test_messages_name_the_fields_as_the_input_does(catalog: Catalog) -> None:
    renamed = {"filters.kinds": "--kind", "filters.min_views": "--min-views"}
    with pytest.raises(InvalidEntryError) as raised:
        catalog.add_source(
            "@alice",
            ["main"],
            renamed=renamed,
            filters={"kinds": ["video", "gif"], "min_views": True},
        )
    said = str(raised.value)
    assert said.startswith("--min-views: true is not a number"), said
    assert "; --kind: 'gif' is not a kind of post" in said


def test_an_edit_changes_a_source_in_place(catalog: Catalog) -> None:
    catalog.add_source("@alice", ["main"], backfill=3, filters={"min_views": 10}, origin="web")
    catalog.pause_source("@alice")
    edited = catalog.edit_source(
        "https://www.tiktok.com/@alice",
        {"to": ["spare", "main", "spare"], "filters": {"kinds": ["slideshow"]}, "backfill": None},
    )
    assert edited.key == "tiktok:@alice"
    assert (edited.origin, edited.paused) == ("web", True)  # an edit keeps both
    assert edited.settings == SourceSettings(
        tiktok="@alice", to=["spare", "main"], filters=FilterSettings(kinds=["slideshow"])
    )
    removed = catalog.edit_source("@alice", {"filters": {}})
    assert removed.settings.filters is None
    assert catalog.edit_source("@alice", {"filters": None}).settings.filters is None
    assert catalog.edit_source("@alice", {"depth": 4}).settings.depth == 4


def test_an_edit_is_checked_and_refused_as_a_whole(catalog: Catalog) -> None:
    catalog.add_source(None, ["main"], url=FEED, filters={"include": ["cats"]})
    cases: list[tuple[dict[str, Any], type[CatalogError], str]] = [
        ({"to": ["nowhere"]}, InvalidEntryError, "to: destination 'nowhere' does not exist"),
        ({"url": CHANNEL}, InvalidEntryError, "url: a source's creator or address is its key"),
        ({"tiktok": "@bob"}, InvalidEntryError, "tiktok: a source's creator or address"),
        ({"depth": 0}, InvalidEntryError, "depth: Input should be greater than or equal to 1"),
        (
            {"filters": {"include": ["cats"], "exclude": ["Cats"]}, "depth": 2},
            InvalidEntryError,
            "filters: 'cats' is in both include and exclude",
        ),
        ({"colour": "red"}, InvalidEntryError, "colour: unknown option"),
    ]
    for changes, error, message in cases:
        with pytest.raises(error) as raised:
            catalog.edit_source(FEED, changes)
        assert str(raised.value).startswith(message), (changes, str(raised.value))
    kept = catalog.source(FEED)
    assert kept is not None
    assert kept.settings == SourceSettings(
        url=FEED, to=["main"], filters=FilterSettings(include=["cats"])
    )


def test_the_files_sources_and_unknown_ones_are_not_edited(catalog: Catalog) -> None:
    said = f"source tiktok:@filed comes from the config file {CONFIG}: change it there"
    with pytest.raises(FromFileError, match=f"^{re.escape(said)}$"):
        catalog.edit_source("@filed", {"filters": {"min_views": 5}})
    with pytest.raises(
        UnknownEntryError, match=re.escape("source url:https://nowhere.example/ is not")
    ):
        catalog.edit_source("https://nowhere.example/", {"depth": 2})
    filed = catalog.source("@filed")
    assert filed is not None
    assert filed.settings.filters is None
