"""The real ``tikrelay sources …`` and ``tikrelay destinations …`` commands, on SQLite and on
PostgreSQL: the file synced in first, changes made through the command line, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.config import load_settings
from tikrelay.config.settings import DestinationSettings, SourceSettings
from tikrelay.reposter.catalog import Catalog
from tikrelay.store import open_engine

ALICE_FILE = """
destinations:
  channel:
    telegram: {chat_id: -1001234567890}
sources:
  - tiktok: "@alice"
    to: [channel]
    every_minutes: 30
"""


def tikrelay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikrelay", *args], capture_output=True, text=True, timeout=60
    )


class Setup:
    def __init__(self, path: Path, head: str) -> None:
        self.path = path
        self.head = head

    def write(self, entries: str) -> None:
        self.path.write_text(self.head + entries)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return tikrelay(*args, "--config", str(self.path))

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def error(self, code: int, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == code, (result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: ")
        return result.stderr.removeprefix("error: ").strip()

    def catalog(self) -> Catalog:
        return Catalog(open_engine(load_settings(self.path)))


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with temporary_database(request.param, tmp_path) as url:
        head = f"state_dir: {tmp_path / 'state'}\ndatabase_url: '{url}'\n"
        made = Setup(tmp_path / "tikrelay.yaml", head)
        made.write(ALICE_FILE)
        yield made


def rows(listing: str) -> list[list[str]]:
    return [line.split() for line in listing.splitlines()[1:]]


def test_the_file_is_synced_in_before_each_command(setup: Setup) -> None:
    assert rows(setup.ok("sources", "list")) == [["tiktok:@alice", "file", "no", "30", "channel"]]
    assert rows(setup.ok("destinations", "list")) == [["channel", "file", "-1001234567890", "1"]]
    setup.write(ALICE_FILE.replace("@alice", "@carol").replace("30", "5"))
    assert rows(setup.ok("sources", "list")) == [["tiktok:@carol", "file", "no", "5", "channel"]]
    setup.write("")
    assert setup.ok("sources", "list").startswith("no sources yet")
    assert setup.ok("destinations", "list").startswith("no destinations yet")


def test_sources_and_destinations_made_from_the_command_line(setup: Setup) -> None:
    added = setup.ok("destinations", "add", "mine", "-100555", "--topic-id", "3", "--link")
    assert added.strip() == "added destination 'mine' → chat -100555 topic 3"
    added = setup.ok("sources", "add", "https://www.tiktok.com/@Bob", "-t", "mine", "--depth", "3")
    assert added.strip() == "added source tiktok:@bob → mine"
    assert setup.ok("sources", "pause", "@bob").strip() == "paused source tiktok:@bob"
    assert setup.ok("sources", "pause", "bob").strip() == "source tiktok:@bob was paused already"
    assert ["tiktok:@bob", "cli", "yes", "15", "mine"] in rows(setup.ok("sources", "list"))
    catalog = setup.catalog()
    bob = catalog.source("@bob")
    assert bob is not None
    assert (bob.origin, bob.paused) == ("cli", True)
    assert bob.settings == SourceSettings(
        tiktok="https://www.tiktok.com/@Bob", to=["mine"], depth=3
    )
    assert catalog.destination("mine") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": -100555, "topic_id": 3}, "link": True}
    )
    assert [s.key for s in catalog.sources()] == ["tiktok:@alice"]  # bob is paused
    catalog.engine.dispose()
    assert setup.ok("sources", "resume", "tiktok:@bob").strip() == "resumed source tiktok:@bob"

    in_use = setup.error(1, "destinations", "remove", "mine")
    assert in_use == "destination 'mine' is in use by tiktok:@bob: remove those sources first"
    assert setup.ok("sources", "remove", "@bob").strip() == "removed source tiktok:@bob"
    assert setup.ok("destinations", "remove", "mine").strip() == "removed destination 'mine'"
    assert [row[0] for row in rows(setup.ok("destinations", "list"))] == ["channel"]


def test_file_made_entries_are_changed_only_in_the_file(setup: Setup) -> None:
    said = f"comes from the config file {setup.path}: change it there"
    for command in (
        ("pause", "@alice"),
        ("remove", "tiktok:@alice"),
        ("add", "@alice", "-t", "channel"),
    ):
        assert setup.error(1, "sources", *command) == f"source tiktok:@alice {said}"
    assert setup.error(1, "destinations", "remove", "channel") == f"destination 'channel' {said}"
    assert rows(setup.ok("sources", "list")) == [["tiktok:@alice", "file", "no", "30", "channel"]]


def test_bad_input_is_one_line_naming_the_field(setup: Setup) -> None:
    assert setup.error(2, "sources", "add", "@no way", "--to", "channel").startswith(
        "tiktok: '@no way' is not a TikTok creator"
    )
    assert setup.error(2, "sources", "add", "@dave", "--to", "nowhere") == (
        "to: destination 'nowhere' does not exist (defined: channel)"
    )
    assert setup.error(2, "sources", "add", "@dave", "--to", "channel", "--depth", "0").startswith(
        "depth: Input should be greater than or equal to 1"
    )
    assert setup.error(2, "destinations", "add", "group", "the-group").startswith(
        "chat_id: write a numeric chat id such as -1001234567890, or @channelname"
    )
    assert setup.error(1, "sources", "resume", "@ghost") == (
        "source tiktok:@ghost is not in the catalog"
    )
    assert [row[0] for row in rows(setup.ok("sources", "list"))] == ["tiktok:@alice"]


def test_a_file_that_drops_a_destination_still_in_use_is_refused(setup: Setup) -> None:
    setup.ok("sources", "add", "@bob", "--to", "channel")
    setup.write("")
    message = setup.error(2, "sources", "list")
    assert message.startswith(
        f"destination 'channel' is no longer in the config file {setup.path}, but sources "
        "added elsewhere route to it: tiktok:@bob (cli)"
    )
    setup.write(ALICE_FILE)
    assert setup.ok("sources", "remove", "@bob").strip() == "removed source tiktok:@bob"
    setup.write("")
    assert setup.ok("destinations", "list").startswith("no destinations yet")


def test_archives_and_their_chats_made_from_the_command_line(setup: Setup, tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    added = setup.ok(
        "destinations", "add-archive", "vault", "--path", str(vault), "--keep-days", "7"
    )
    assert added.strip() == f"added archive 'vault' → {vault}"
    added = setup.ok(
        "destinations", "add", "clips", "@clips", "--slideshow", "both", "--archive-to", "vault"
    )
    assert added.strip() == "added destination 'clips' → chat @clips"
    catalog = setup.catalog()
    assert catalog.destination("clips") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": "@clips", "slideshow": "both"}, "archive_to": "vault"}
    )
    assert catalog.destination("vault") == DestinationSettings.model_validate(
        {"archive": {"path": str(vault), "keep_days": 7}}
    )
    catalog.engine.dispose()
    assert ["vault", "cli", "archive", str(vault), "0"] in rows(setup.ok("destinations", "list"))

    assert setup.error(2, "destinations", "add", "x", "@x", "--archive-to", "channel") == (
        "--archive-to names 'channel', which is not an archive destination (archive "
        "destinations: vault)"
    )
    assert setup.error(
        2, "destinations", "add-archive", "both", "--path", "p", "--url", "s3://b/p"
    ) == (
        "archive: give exactly one of path (a local folder) and url "
        "(s3://BUCKET/PREFIX or az://CONTAINER/PREFIX)"
    )
    in_use = setup.error(1, "destinations", "remove", "vault")
    assert (
        in_use
        == "destination 'vault' is in use by destination 'clips' (archive_to): remove those first"
    )
    assert setup.ok("destinations", "remove", "clips").strip() == "removed destination 'clips'"
    assert setup.ok("destinations", "remove", "vault").strip() == "removed destination 'vault'"
