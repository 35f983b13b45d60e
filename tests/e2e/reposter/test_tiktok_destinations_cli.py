"""``tikrelay destinations add NAME --tiktok-account ACCOUNT`` and ``destinations list`` with a
TikTok account among the destinations, on SQLite and PostgreSQL, through the real command."""

from __future__ import annotations

from tests.e2e.reposter.test_catalog_cli import Setup, rows, setup
from tikrelay.config import load_settings
from tikrelay.config.settings import DestinationSettings
from tikrelay.reposter.catalog import Catalog
from tikrelay.store import open_engine

__all__ = ["setup"]  # the fixture, shared with the catalog's command-line tests


def stored(setup: Setup, name: str) -> DestinationSettings | None:
    """The destination as the catalog holds it, its engine closed before the database goes."""
    engine = open_engine(load_settings(setup.path))
    try:
        return Catalog(engine).destination(name)
    finally:
        engine.dispose()


def test_an_account_is_added_and_listed_as_an_account(setup: Setup) -> None:
    added = setup.ok(
        "destinations", "add", "mirror", "--tiktok-account", "main", "--mode", "direct",
        "--no-credit",
    )  # fmt: skip
    assert added.strip() == (
        "added destination 'mirror' → TikTok account main (direct); "
        "run `tikrelay tiktok-auth main` if it is not authorized yet"
    )
    assert stored(setup, "mirror") == DestinationSettings.model_validate(
        {"tiktok": {"account": "main", "mode": "direct", "credit": False}}
    )
    listed = rows(setup.ok("destinations", "list"))
    assert ["mirror", "cli", "TikTok", "account", "main", "(direct)", "0"] in listed
    assert ["channel", "file", "-1001234567890", "1"] in listed
    routed = setup.ok("sources", "add", "@bob", "-t", "mirror")
    assert routed.strip() == "added source tiktok:@bob → mirror"


def test_a_chat_option_with_an_account_or_an_account_option_with_a_chat_is_refused(
    setup: Setup,
) -> None:
    both = setup.error(2, "destinations", "add", "x", "-100555", "--tiktok-account", "main")
    assert both.startswith("telegram: give exactly one of telegram")
    caption = setup.error(
        2, "destinations", "add", "x", "--tiktok-account", "main", "--caption", "{{ text }}"
    )
    assert caption.startswith("caption: belongs to a telegram destination")
    mode = setup.error(2, "destinations", "add", "x", "-100555", "--mode", "direct")
    assert "--mode, --privacy-level and --credit go with --tiktok-account" in mode
    assert "give the CHAT" in setup.error(2, "destinations", "add", "x")
    wrong = setup.error(
        2, "destinations", "add", "x", "--tiktok-account", "main", "--privacy-level", "ALL"
    )
    assert wrong.startswith("tiktok.privacy_level:")
    assert stored(setup, "x") is None
