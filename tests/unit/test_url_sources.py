"""``url:`` sources without a network: the addresses refused at config time, how a flat
playlist's entries are identified, ordered and credited."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from tikrelay.config.settings import Settings, SourceSettings
from tikrelay.reposter.model import SetupError, check_relay_settings, watched_sources
from tikrelay.sources.playlists import entries_of, entry_author, entry_identity
from tikrelay.sources.web import link_digest


def settings(*sources: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {"destinations": {"main": {"telegram": {"chat_id": 1}}}, "sources": list(sources)}
    )


def test_a_url_source_is_keyed_by_its_address() -> None:
    url = "https://www.youtube.com/@somechannel/shorts"
    [watched] = watched_sources(settings({"url": f" {url} ", "to": ["main"]}))
    assert (watched.key, watched.username, watched.label, watched.playlist) == (
        f"url:{url}",
        url,
        url,
        True,
    )


@pytest.mark.parametrize(
    "address",
    [
        "https://www.tiktok.com/tag/cats",
        "https://tiktok.com/music/original-sound-7012345678901234567",
        "https://www.tiktok.com/sticker/sparkle-123",
    ],
)
def test_tiktok_hashtags_and_sounds_are_refused_naming_app_info(address: str) -> None:
    with pytest.raises(SetupError) as caught:
        check_relay_settings(settings({"url": address, "to": ["main"]}))
    message = str(caught.value)
    assert message.startswith("sources.0.url: ")
    assert "TikTok app" in message
    assert "(app_info)" in message


def test_a_tiktok_creator_given_as_url_is_pointed_to_tiktok() -> None:
    with pytest.raises(SetupError, match=r"sources\.0\.url: .* write it as tiktok:"):
        check_relay_settings(settings({"url": "https://www.tiktok.com/@alice", "to": ["main"]}))


@pytest.mark.parametrize(
    "entry",
    [{"to": ["main"]}, {"tiktok": "@a", "url": "https://example.com/feed", "to": ["main"]}],
)
def test_a_source_is_a_creator_or_an_address_not_both_nor_neither(
    entry: dict[str, object],
) -> None:
    with pytest.raises(ValidationError, match="exactly one of tiktok"):
        SourceSettings.model_validate(entry)


def test_an_entry_is_identified_by_its_id_else_its_guid_else_its_url() -> None:
    youtube = {"id": "abc123", "ie_key": "Youtube", "url": "https://www.youtube.com/shorts/abc123"}
    assert entry_identity(youtube, "YoutubeTab") == (
        "youtube:abc123",
        "https://www.youtube.com/shorts/abc123",
    )
    smuggled = "https://example.com/a.mp4#__youtubedl_smuggle=%7B%22force_videoid%22%3A+%22g1%22%7D"
    assert entry_identity({"url": smuggled}, "Generic") == (
        "generic:g1",
        "https://example.com/a.mp4",
    )
    assert entry_identity({"url": "https://example.com/b.mp4"}, "Generic") == (
        "https://example.com/b.mp4",
        "https://example.com/b.mp4",
    )
    assert entry_identity({"title": "no url"}, "Generic") == (None, None)


def test_the_author_is_the_entrys_uploader_else_the_feeds_title() -> None:
    assert entry_author({"uploader": "Ann", "channel": "Ann TV"}, "Feed") == "Ann"
    assert entry_author({"channel": "Ann TV"}, "Feed") == "Ann TV"
    assert entry_author({"uploader": "  "}, "Feed") == "Feed"
    assert entry_author({}, None) is None


def test_entries_come_oldest_first_cut_to_depth_with_the_bots_id_for_a_bare_link() -> None:
    newest_first = [{"url": f"https://example.com/{n}.mp4"} for n in (3, 2, 1)]
    info = {"title": "Feed", "extractor_key": "Generic", "entries": newest_first}
    listed = entries_of(info, 2)
    assert [e.url for e in listed] == ["https://example.com/2.mp4", "https://example.com/3.mp4"]
    assert listed[0].id == link_digest("https://example.com/2.mp4")
    assert {e.author for e in listed} == {"Feed"}
    timed = [
        {"id": "b", "url": "https://example.com/b", "timestamp": 20},
        {"id": "a", "url": "https://example.com/a", "timestamp": 10},
        {"id": "c", "url": "https://example.com/c", "timestamp": 30},
    ]
    by_time = entries_of({"extractor_key": "Generic", "entries": timed}, 3)
    assert [e.url[-1] for e in by_time] == ["a", "b", "c"]
    assert by_time[0].id == hashlib.sha256(b"generic:a").hexdigest()[:20]
