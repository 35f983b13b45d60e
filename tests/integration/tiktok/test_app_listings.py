"""Hashtags, sounds and effects listed by tikrelay's ``url:`` source client through the real
yt-dlp extractors and the emulated TikTok app's API: paging, depth, order, the keys and page URLs
of their posts, and what the API answers an install it does not know."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sandbox.tiktok.model import APP_API_HOST, WEB_HOST
from tikrelay.sources.playlists import PlaylistClient


def client(
    emulator: TikTokEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_info: list[str],
    api_hostname: str | None = None,
) -> PlaylistClient:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # restored afterwards
        monkeypatch.setenv(name, os.environ.get(name, ""))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(emulator.ca_pem)
    network = NetworkSettings.model_validate(
        {
            "proxies": [emulator.proxy_url],
            "ca_bundle": ca,
            "tiktok_app_info": app_info,
            "tiktok_api_hostname": api_hostname,
        }
    )
    return PlaylistClient(network, StatePaths(tmp_path / "state"))


def test_a_hashtag_is_paged_through_the_apps_api_and_listed_oldest_first(
    world: TikTokWorld, emulator: TikTokEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_creator("alice")
    world.add_creator("bob")
    posts = [
        world.add_video("alice" if n % 2 else "bob", desc=f"#Cats number {n}") for n in range(25)
    ]
    world.add_video("alice", desc="no tag, #dogs")
    tag = world.add_hashtag("cats")
    install = world.add_app_install()
    listing = client(emulator, tmp_path, monkeypatch, [install.app_info])

    entries = listing.latest(tag.url, 22)

    # The newest 22 (the API lists newest first, 20 a page: two requests), oldest first.
    newest = sorted(posts, key=lambda p: (p.create_time, p.id), reverse=True)[:22]
    assert [e.id for e in entries] == [p.id for p in reversed(newest)]
    assert [e.url for e in entries] == [
        f"https://{WEB_HOST}/@{p.username}/video/{p.id}" for p in reversed(newest)
    ]
    assert {e.author for e in entries} == {"@alice", "@bob"}
    assert all(e.created_at is not None for e in entries)
    api = world.requests(host=APP_API_HOST, path="/aweme/v1/challenge/aweme/")
    assert [r.query["cursor"] for r in api] == ["0", "20"]
    assert {r.query["ch_id"] for r in api} == {tag.id}
    page = world.requests(host=WEB_HOST, path="/tag/cats")
    assert [r.headers["user-agent"].split("/")[0] for r in page] == ["facebookexternalhit"]


def test_a_sound_and_an_effect_list_the_posts_that_use_them(
    world: TikTokWorld, emulator: TikTokEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_creator("alice")
    first = world.add_video("alice", desc="one")
    second = world.add_slideshow("alice", desc="two")
    world.add_video("alice", desc="three")
    sound = world.add_sound("Rain on glass", author="Alice", posts=[first.id, second.id])
    effect = world.add_effect("Green Screen", posts=[second.id])
    install = world.add_app_install(aid="1180", app_name="trill")
    host = "api19-normal-c-useast1a.tiktokv.com"
    listing = client(emulator, tmp_path, monkeypatch, [install.app_info], api_hostname=host)

    assert [e.id for e in listing.latest(sound.url, 10)] == [first.id, second.id]
    assert [e.id for e in listing.latest(effect.url, 10)] == [second.id]
    assert {r.path for r in world.requests(host=host)} == {
        "/aweme/v1/music/aweme/",
        "/aweme/v1/sticker/aweme/",
    }
    assert not world.requests(host=APP_API_HOST)


def test_an_install_the_api_does_not_know_is_an_auth_error_that_hides_it(
    world: TikTokWorld, emulator: TikTokEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_creator("alice")
    world.add_video("alice", desc="#cats")
    tag = world.add_hashtag("cats")
    genuine = world.add_app_install()
    # Two installs: yt-dlp tries each in turn before it gives up.
    wrong_app = genuine.app_info.replace("musical_ly", "trill")
    unknown = "7399999999999999999/musical_ly/35.1.3/2023501030/1233"
    listing = client(emulator, tmp_path, monkeypatch, [wrong_app, unknown])

    with pytest.raises(TikrelayError) as caught:
        listing.latest(tag.url, 5)

    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.retryable is False
    assert "network.tiktok_app_info" in caught.value.message
    assert genuine.iid not in caught.value.message
    assert "7399999999999999999" not in caught.value.message
    tried = world.requests(host=APP_API_HOST, path="/aweme/v1/challenge/aweme/")
    assert [r.query["iid"] for r in tried] == [genuine.iid, "7399999999999999999"]
    assert all(r.status == 200 for r in tried)
