"""``url:`` sources: the real ``tikrelay run --once`` lists an RSS feed on the emulated generic
site through the real yt-dlp (its generic extractor makes the feed a playlist), over the
configured proxy and CA bundle, and delivers each new entry once to the Telegram emulator."""

from __future__ import annotations

import pytest

from tests.support.jobs_db import temporary_database
from tests.support.relayed import Relayed


def captions(relayed: Relayed, chat_id: int) -> list[str]:
    return [m.get("caption", "") for m in relayed.telegram.messages(chat_id) if "video" in m]


def titles_and_authors(relayed: Relayed, chat_id: int) -> list[tuple[str, str]]:
    """Each video's title (the page's, as yt-dlp reads it: "Day 3 (1)", its first video) and
    the author line."""
    found = []
    for caption in captions(relayed, chat_id):
        title, _, author = caption.partition("\n\n")
        found.append((title.split(" (")[0], author))
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_feed_delivers_its_newest_entries_then_only_new_ones(
    relayed: Relayed, backend: str
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Feed", username="feedclips")
    feed = world.web.add_feed("harbour", title="Harbour Diaries")
    for n in range(1, 5):
        page = world.web.add_page(f"day-{n}", title=f"Day {n}")
        world.web.add_feed_item("harbour", page, title=f"Day {n}", guid=f"day-{n}")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": feed, "to": ["clips"], "depth": 3, "backfill": 2}]
    with temporary_database(backend, relayed.folder) as url:
        relayed.extra = {"database_url": url}
        first = relayed.run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert "2 new deliveries, 2 delivered, 0 failed" in first.stdout
        # The newest two of the three listed (depth), oldest first; the author is the feed's.
        assert titles_and_authors(relayed, channel.id) == [
            ("Day 3", "— @Harbour Diaries"),
            ("Day 4", "— @Harbour Diaries"),
        ]

        page = world.web.add_page("day-5", title="Day 5")
        world.web.add_feed_item("harbour", page, title="Day 5", guid="day-5")
        second = relayed.run()
        assert second.returncode == 0, second.stdout + second.stderr
        assert "1 new deliveries, 1 delivered, 0 failed" in second.stdout
        third = relayed.run()
        assert third.returncode == 0, third.stdout + third.stderr
        assert "0 new deliveries, 0 delivered" in third.stdout
    assert titles_and_authors(relayed, channel.id)[2:] == [("Day 5", "— @Harbour Diaries")]


def test_an_entry_whose_page_names_its_publisher_is_captioned_with_it(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Films")
    item = world.web.add_archive_item("old-harbour", title="The old harbour")
    feed = world.web.add_feed("films", title="Film Picks")
    world.web.add_feed_item("films", f"https://archive.org/details/{item.identifier}", title="x")
    relayed.destinations = {"films": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": feed, "to": ["films"]}]
    done = relayed.run()
    assert done.returncode == 0, done.stdout + done.stderr
    [caption] = captions(relayed, channel.id)
    assert "Film Picks" not in caption
    assert caption.startswith("The old harbour")


def test_the_listing_goes_through_the_configured_ca_bundle(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Feed")
    feed = world.web.add_feed("quiet", title="Quiet")
    world.web.add_feed_item("quiet", world.web.add_page("calm", title="Calm"), title="Calm")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": feed, "to": ["clips"]}]
    # The proxy without the emulator's CA: the site's certificate is not trusted.
    relayed.extra = {"network": {"proxies": [relayed.tiktok.proxy_url]}}
    failed = relayed.run()
    assert "0 delivered" in failed.stdout or failed.returncode != 0
    assert captions(relayed, channel.id) == []
    assert "CERTIFICATE" in (failed.stdout + failed.stderr).upper()


@pytest.mark.parametrize(
    "address",
    ["https://www.tiktok.com/tag/cats", "https://www.tiktok.com/music/original-sound-1234567"],
)
def test_a_tiktok_hashtag_or_sound_is_refused_at_config_time(
    relayed: Relayed, address: str
) -> None:
    channel = relayed.telegram.add_chat("channel", title="Tags")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": address, "to": ["clips"]}]
    refused = relayed.run()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = refused.stdout + refused.stderr
    assert "sources.0.url" in said
    assert "app_info" in said
    assert "TikTok app" in said
