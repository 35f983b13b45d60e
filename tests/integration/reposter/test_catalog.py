"""The catalog's storage contract, on SQLite and on PostgreSQL: the sync from the config file,
validation as strict as the file's, file rows read-only elsewhere, pause and resume, and
destinations that cannot go while a source routes to them."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.support.jobs_db import BACKENDS, FakeClock, temporary_database
from tikrelay.config import load_settings
from tikrelay.config.settings import DestinationSettings, Settings, SourceSettings
from tikrelay.reposter import model
from tikrelay.reposter.catalog import (
    Catalog,
    CatalogError,
    FromFileError,
    InvalidEntryError,
    Origin,
    UnknownEntryError,
)
from tikrelay.reposter.model import WatchedSource
from tikrelay.store import open_engine

CONFIG = Path("/etc/tikrelay/tikrelay.yaml")
CHANNEL = {"telegram": {"chat_id": -1001234567890}}
GROUP = {"telegram": {"chat_id": -1009876543210, "topic_id": 7}, "link": True}


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def tmp_state(tmp_path: Path) -> str:
    return str(tmp_path / "state")


def file_settings(url: str, state: str, **entries: Any) -> Settings:
    return load_settings(None, state_dir=state, database_url=url, **entries)


@pytest.fixture
def base(database_url: str, tmp_state: str) -> Settings:
    return file_settings(database_url, tmp_state)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(base: Settings) -> Iterator[Engine]:
    engine = open_engine(base)
    yield engine
    engine.dispose()


@pytest.fixture
def catalog(engine: Engine, clock: FakeClock) -> Catalog:
    return Catalog(engine, config_file=CONFIG, clock=clock)


def with_file(base: Settings, **entries: Any) -> Settings:
    return file_settings(str(base.database_url), str(base.state_dir), **entries)


def alice_file(base: Settings, **alice: Any) -> Settings:
    return with_file(
        base,
        destinations={"channel": CHANNEL, "group": GROUP},
        sources=[{"tiktok": "@Alice", "to": ["channel"], **alice}],
    )


# -- the sync --------------------------------------------------------------------------------


def test_sync_adds_the_file_entries_as_file_rows_that_round_trip(
    catalog: Catalog, base: Settings
) -> None:
    report = catalog.sync_from_settings(alice_file(base, depth=5))
    assert report.destinations.added == ["channel", "group"]
    assert report.sources.added == ["tiktok:@alice"]
    assert catalog.sources() == [
        WatchedSource(
            "tiktok:@alice", "Alice", SourceSettings(tiktok="@Alice", to=["channel"], depth=5)
        )
    ]
    assert catalog.destinations() == {
        "channel": DestinationSettings.model_validate(CHANNEL),
        "group": DestinationSettings.model_validate(GROUP),
    }
    assert catalog.destination("group") == DestinationSettings.model_validate(GROUP)
    assert catalog.destination("nowhere") is None
    entry = catalog.source("@alice")
    assert entry is not None
    assert (entry.origin, entry.paused) == (Origin.FILE, False)
    assert [d.origin for d in catalog.destination_entries()] == ["file", "file"]


def test_a_second_sync_of_the_same_file_changes_nothing(
    catalog: Catalog, base: Settings, clock: FakeClock
) -> None:
    catalog.sync_from_settings(alice_file(base))
    clock.advance(60)
    again = catalog.sync_from_settings(alice_file(base))
    assert not again.changed
    entry = catalog.source("tiktok:@alice")
    assert entry is not None
    assert entry.updated_at == entry.created_at


def test_a_changed_file_entry_is_updated(
    catalog: Catalog, base: Settings, clock: FakeClock
) -> None:
    catalog.sync_from_settings(alice_file(base))
    clock.advance(60)
    changed = alice_file(base, to=["channel", "group"], every_minutes=5)
    changed.destinations["group"] = DestinationSettings.model_validate(
        {**GROUP, "caption": "{{ text }}"}
    )
    report = catalog.sync_from_settings(changed)
    assert report.sources.changed == ["tiktok:@alice"]
    assert report.destinations.changed == ["group"]
    entry = catalog.source("tiktok:@alice")
    assert entry is not None
    assert entry.settings.to == ["channel", "group"]
    assert entry.settings.every_minutes == 5
    assert entry.updated_at == clock.now != entry.created_at
    group = catalog.destination("group")
    assert group is not None
    assert group.caption == "{{ text }}"


def test_entries_removed_from_the_file_go_and_other_origins_stay(
    catalog: Catalog, base: Settings
) -> None:
    catalog.sync_from_settings(alice_file(base))
    catalog.add_destination("mine", "@mychannel")
    catalog.add_source("@bob", ["mine", "channel"], depth=3)
    report = catalog.sync_from_settings(
        with_file(base, destinations={"channel": CHANNEL}, sources=[])
    )
    assert report.sources.removed == ["tiktok:@alice"]
    assert report.destinations.removed == ["group"]
    assert [s.key for s in catalog.sources()] == ["tiktok:@bob"]
    assert sorted(catalog.destinations()) == ["channel", "mine"]
    bob = catalog.source("@bob")
    assert bob is not None
    assert (bob.origin, bob.settings.depth) == (Origin.CLI, 3)


def test_the_file_takes_over_an_entry_of_the_same_key_made_elsewhere(
    catalog: Catalog, base: Settings
) -> None:
    catalog.add_destination("channel", "@old")
    catalog.add_source("alice", ["channel"], depth=50)
    catalog.pause_source("tiktok:@alice")
    report = catalog.sync_from_settings(alice_file(base))
    assert report.sources.adopted == ["tiktok:@alice"]
    assert report.destinations.adopted == ["channel"]
    entry = catalog.source("@alice")
    assert entry is not None
    assert (entry.origin, entry.paused, entry.settings.depth) == ("file", False, 10)
    assert catalog.destination("channel") == DestinationSettings.model_validate(CHANNEL)


def test_a_file_destination_removed_while_others_route_to_it_stops_the_sync(
    catalog: Catalog, base: Settings
) -> None:
    catalog.sync_from_settings(alice_file(base))
    catalog.add_source("@bob", ["group"])
    catalog.pause_source("@bob")
    with pytest.raises(CatalogError) as raised:
        catalog.sync_from_settings(with_file(base, destinations={"channel": CHANNEL}))
    assert str(raised.value).startswith(
        f"destination 'group' is no longer in the config file {CONFIG}, but sources added "
        "elsewhere route to it: tiktok:@bob (cli)"
    )
    # Nothing of that sync happened: alice, whom the same file dropped, is still there.
    assert [s.key for s in catalog.sources(include_paused=True)] == [
        "tiktok:@alice",
        "tiktok:@bob",
    ]
    assert sorted(catalog.destinations()) == ["channel", "group"]


def test_a_bad_creator_in_the_file_names_its_key(catalog: Catalog, base: Settings) -> None:
    bad = with_file(base, destinations={"c": CHANNEL}, sources=[{"tiktok": "a b", "to": ["c"]}])
    with pytest.raises(InvalidEntryError, match=r"^sources\.0\.tiktok: 'a b' is not a TikTok"):
        catalog.sync_from_settings(bad)
    assert catalog.destinations() == {}


def test_two_processes_syncing_one_file_at_once_both_succeed(
    engine: Engine, base: Settings
) -> None:
    settings = alice_file(base)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def sync() -> None:
        barrier.wait()
        try:
            Catalog(engine).sync_from_settings(settings)
        except BaseException as exc:  # any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [s.key for s in Catalog(engine).sources()] == ["tiktok:@alice"]


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiktok", "to", "options", "message"),
    [
        ("@alice", ["nowhere"], {}, "to: destination 'nowhere' does not exist (defined: channel)"),
        ("not a creator!", ["channel"], {}, "tiktok: 'not a creator!' is not a TikTok creator"),
        ("https://example.com/@alice", ["channel"], {}, "tiktok: 'https://example.com/@alice'"),
        ("@alice", [], {}, "to: List should have at least 1 item"),
        ("@alice", ["channel"], {"depth": 500}, "depth: Input should be less than or equal to 100"),
        ("@alice", ["channel"], {"depth": True}, "depth: true is not a number"),
        ("@alice", ["channel"], {"colour": "red"}, "colour: unknown option"),
        ("@alice", ["channel"], {"every_minutes": 0}, "every_minutes: Input should be greater"),
    ],
)
def test_a_bad_source_is_refused_naming_the_field(
    catalog: Catalog,
    tiktok: str,
    to: list[str],
    options: dict[str, Any],
    message: str,
) -> None:
    catalog.add_destination("channel", -100123)
    with pytest.raises(InvalidEntryError) as raised:
        catalog.add_source(tiktok, to, **options)
    assert str(raised.value).startswith(message)
    assert catalog.sources(include_paused=True) == []


def test_a_paused_source_keeps_its_filters_for_the_posts_it_found(catalog: Catalog) -> None:
    """Deliveries a source queued before it was paused still pass its filters: the routes hold
    the paused source for that, though nothing polls it."""
    catalog.add_destination("channel", -100123)
    catalog.add_source("@alice", ["channel"], filters={"min_views": 1000})
    catalog.pause_source("@alice")
    routes = catalog.routes()
    assert routes.sources == {}  # not polled
    found = routes.filters_for("tiktok:@alice", "channel")
    assert found is not None
    assert found.min_views == 1000
    assert routes.filters_for("tiktok:@alice", "elsewhere") is None
    catalog.resume_source("@alice")
    assert list(catalog.routes().sources) == ["tiktok:@alice"]


def test_routes_follow_what_another_process_changes(
    catalog: Catalog, engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter edited in the web, a source paused from the command line: a running worker's
    routes take it at their next look (every few seconds; at once here)."""
    monkeypatch.setattr(model, "REFRESH_SECONDS", 0.0)
    catalog.add_destination("channel", -100123)
    catalog.add_source("@alice", ["channel"], filters={"min_views": 1000})
    seen = catalog.version()
    routes = catalog.routes()
    routes.watch(catalog.routes, catalog.version, seen)
    elsewhere = Catalog(engine, config_file=CONFIG, clock=clock)
    clock.advance(1)
    elsewhere.edit_source("@alice", {"filters": {"min_views": 5}})
    routes.refresh()
    found = routes.filters_for("tiktok:@alice", "channel")
    assert found is not None
    assert found.min_views == 5
    clock.advance(1)
    elsewhere.pause_source("@alice")
    routes.refresh()
    assert routes.sources == {}
    assert list(routes.paused) == ["tiktok:@alice"]
    elsewhere.remove_source("@alice")  # at the same moment: the count tells
    routes.refresh()
    assert routes.paused == {}
    reads: list[int] = []
    routes.loader = lambda: reads.append(1) or catalog.routes()
    routes.refresh()  # nothing changed: nothing read again
    assert reads == []


@pytest.mark.parametrize(
    ("name", "chat_id", "topic_id", "options", "message"),
    [
        ("c", "channel", None, {}, "chat_id: write a numeric chat id such as -1001234567890"),
        ("c", "-1" + "0" * 20, None, {}, "chat_id: -100000000000000000000 is too long"),
        ("c", "@", None, {}, "chat_id: write a numeric chat id"),
        ("c", -100123, 0, {}, "topic_id: Input should be greater than or equal to 1"),
        ("c", -100123, None, {"caption": "{{ text "}, "caption: "),
        ("c", -100123, None, {"silent": True}, "silent: unknown option"),
        ("", -100123, None, {}, "name: empty"),
        (" c", -100123, None, {}, "name: ' c' has spaces around it"),
        ("c" * 201, -100123, None, {}, "name: longer than 200 characters"),
    ],
)
def test_a_bad_destination_is_refused_naming_the_field(
    catalog: Catalog,
    name: str,
    chat_id: int | str,
    topic_id: int | None,
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(InvalidEntryError) as raised:
        catalog.add_destination(name, chat_id, topic_id, **options)
    assert str(raised.value).startswith(message)
    assert catalog.destinations() == {}


def test_a_made_entry_round_trips_in_the_yaml_shape(catalog: Catalog) -> None:
    made = catalog.add_destination("group", "-1009876543210", 7, link=True)
    assert made.settings == DestinationSettings.model_validate(GROUP)
    assert made.origin == Origin.CLI
    source = catalog.add_source(
        "https://www.tiktok.com/@Carol", ["group", "group"], origin="bot", backfill=0
    )
    assert source.key == "tiktok:@carol"
    assert source.settings == SourceSettings(
        tiktok="https://www.tiktok.com/@Carol", to=["group"], backfill=0
    )
    assert (source.origin, source.username) == (Origin.BOT, "Carol")


def test_adding_an_existing_key_is_refused(catalog: Catalog) -> None:
    catalog.add_destination("channel", -100123)
    catalog.add_source("@alice", ["channel"])
    with pytest.raises(CatalogError, match=r"source tiktok:@alice exists already \(added through"):
        catalog.add_source("https://www.tiktok.com/@ALICE", ["channel"])
    with pytest.raises(CatalogError, match="destination 'channel' exists already"):
        catalog.add_destination("channel", -100456)


def test_origin_file_is_the_syncs_alone(catalog: Catalog) -> None:
    with pytest.raises(InvalidEntryError, match="origin: 'file' is for the config file"):
        catalog.add_destination("channel", -100123, origin="file")
    with pytest.raises(InvalidEntryError, match="origin: 'telepathy' is not one of cli, bot"):
        catalog.add_destination("channel", -100123, origin="telepathy")


# -- file rows are the file's ----------------------------------------------------------------


def test_file_rows_cannot_be_changed_through_the_catalog(catalog: Catalog, base: Settings) -> None:
    catalog.sync_from_settings(alice_file(base))
    said = f"comes from the config file {CONFIG}: change it there"
    for change in (
        lambda: catalog.remove_source("@alice"),
        lambda: catalog.pause_source("tiktok:@alice"),
        lambda: catalog.resume_source("alice"),
        lambda: catalog.add_source("@alice", ["channel"]),
    ):
        with pytest.raises(FromFileError, match=f"^source tiktok:@alice {re.escape(said)}$"):
            change()
    for change in (
        lambda: catalog.remove_destination("group"),
        lambda: catalog.add_destination("group", -100123),
    ):
        with pytest.raises(FromFileError, match=f"^destination 'group' {re.escape(said)}$"):
            change()
    assert not catalog.sync_from_settings(alice_file(base)).changed


# -- pause, resume, remove -------------------------------------------------------------------


def test_a_paused_source_is_not_watched_until_resumed(catalog: Catalog, clock: FakeClock) -> None:
    catalog.add_destination("channel", -100123)
    catalog.add_source("@alice", ["channel"])
    catalog.add_source("@bob", ["channel"])
    clock.advance(5)
    assert catalog.pause_source("@bob") is True
    assert catalog.pause_source("tiktok:@bob") is False
    assert [s.key for s in catalog.sources()] == ["tiktok:@alice"]
    assert [s.key for s in catalog.sources(include_paused=True)] == ["tiktok:@alice", "tiktok:@bob"]
    bob = catalog.source("@bob")
    assert bob is not None
    assert (bob.paused, bob.updated_at) == (True, clock.now)
    assert catalog.resume_source("@bob") is True
    assert catalog.resume_source("@bob") is False
    assert [s.key for s in catalog.sources()] == ["tiktok:@alice", "tiktok:@bob"]


def test_removing_a_source_by_any_of_its_forms(catalog: Catalog) -> None:
    catalog.add_destination("channel", -100123)
    catalog.add_source("@Alice", ["channel"])
    assert catalog.remove_source("https://www.tiktok.com/@alice") == "tiktok:@alice"
    assert catalog.sources(include_paused=True) == []
    with pytest.raises(UnknownEntryError, match=r"^source tiktok:@alice is not in the catalog$"):
        catalog.remove_source("tiktok:@alice")
    with pytest.raises(UnknownEntryError, match="source tiktok:@ghost is not in the catalog"):
        catalog.pause_source("@ghost")
    with pytest.raises(InvalidEntryError, match=r"^tiktok: 'no way' is not a TikTok creator"):
        catalog.remove_source("no way")


def test_a_destination_in_use_cannot_be_removed(catalog: Catalog) -> None:
    catalog.add_destination("channel", -100123)
    catalog.add_destination("spare", -100456)
    catalog.add_source("@alice", ["channel"])
    catalog.add_source("@bob", ["spare", "channel"])
    catalog.pause_source("@bob")
    with pytest.raises(CatalogError) as raised:
        catalog.remove_destination("channel")
    assert str(raised.value) == (
        "destination 'channel' is in use by tiktok:@alice, tiktok:@bob: remove those sources first"
    )
    assert sorted(catalog.destinations()) == ["channel", "spare"]
    catalog.remove_source("@alice")
    catalog.remove_source("@bob")
    catalog.remove_destination("channel")
    assert sorted(catalog.destinations()) == ["spare"]
    with pytest.raises(UnknownEntryError, match="destination 'channel' is not in the catalog"):
        catalog.remove_destination("channel")
