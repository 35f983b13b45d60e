"""TikTok hashtags and sounds as ``url:`` sources: the real ``tikrelay run --once`` lists them
through the real yt-dlp's hashtag and sound extractors, which reach the emulated TikTok app's API
with the install in ``network.tiktok_app_info``; their posts are TikTok posts (``tiktok:<id>``),
delivered once however many sources find them, through their pages as a creator's are. Without
``network.tiktok_app_info`` such a source is refused when the config is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.relayed import Relayed
from tikrelay.sandbox.tiktok.model import APP_API_HOST, WEB_HOST


def with_app_info(relayed: Relayed, *app_info: str, **more: Any) -> None:
    """The relayed config's network settings, with the app's parameters."""
    ca = relayed.folder / "tiktok-ca.pem"
    ca.write_bytes(relayed.tiktok.ca_pem)
    relayed.extra = {
        "network": {
            "proxies": [relayed.tiktok.proxy_url],
            "ca_bundle": str(ca),
            "tiktok_app_info": list(app_info),
            **more,
        }
    }


def delivered_texts(relayed: Relayed, chat_id: int) -> list[str]:
    """The first line of each post's caption, one per post (a slideshow's sound follows its
    album without a caption of its own)."""
    return [
        m["caption"].split("\n")[0]
        for m in relayed.telegram.messages(chat_id)
        if m.get("caption") and "audio" not in m
    ]


def assert_never_shown(secret: str, relayed: Relayed, *outputs: str) -> None:
    """The install's parameters appear in no output and no file of the state folder (the
    database and its journal included)."""
    for output in outputs:
        assert secret not in output
    iid = secret.split("/")[0].encode()
    for path in Path(relayed.folder / "state").rglob("*"):
        if path.is_file():
            assert iid not in path.read_bytes(), path


def test_a_hashtags_posts_are_delivered_once_with_a_creators(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Cats", username="catclips")
    for name in ("alice", "bob", "carol"):
        world.add_creator(name)
    world.add_video("alice", desc="plain morning")
    world.add_video("alice", desc="kitten zoomies #cats")  # found by both sources
    world.add_video("bob", desc="a long nap #Cats #sleep")
    world.add_slideshow("carol", desc="four paws #cats", images=("jpeg", "webp"))
    world.add_video("carol", desc="no tag here")
    tag = world.add_hashtag("cats")
    install = world.add_app_install()
    with_app_info(relayed, install.app_info)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [
        {"tiktok": "@alice", "to": ["clips"]},
        {"url": tag.url, "to": ["clips"]},
    ]

    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 delivered, 0 failed" in first.stdout, first.stdout
    assert sorted(delivered_texts(relayed, channel.id)) == [
        "a long nap #Cats #sleep",
        "four paws #cats",
        "kitten zoomies #cats",
        "plain morning",
    ]
    # The slideshow came as its slides, read from its page: the web path, as a creator's post.
    assert any(r.method == "sendMediaGroup" for r in telegram.record if r.ok)
    # The listing went to the app's API with the install's parameters...
    listings = world.requests(host=APP_API_HOST, path="/aweme/v1/challenge/aweme/")
    assert listings
    assert {r.query["iid"] for r in listings} == {install.iid}
    assert {r.status for r in listings} == {200}
    # ...and nothing else did: every post was read from its page on www.tiktok.com.
    assert {r.path for r in world.requests(host=APP_API_HOST)} == {"/aweme/v1/challenge/aweme/"}
    pages = {r.path.rsplit("/", 1)[1] for r in world.requests(host=WEB_HOST) if "/video/" in r.path}
    assert len(pages) == 4
    # The caption names each post's author, as a creator's post does.
    captions = [m["caption"] for m in telegram.messages(channel.id) if m.get("caption")]
    assert any(c.startswith("a long nap") and "@bob" in c for c in captions)

    world.add_video("carol", desc="new kitten #cats")
    second = relayed.run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 delivered, 0 failed" in second.stdout, second.stdout
    assert delivered_texts(relayed, channel.id)[-1] == "new kitten #cats"
    assert len(delivered_texts(relayed, channel.id)) == 5
    timeline = relayed.newest_timeline("poll")
    assert_never_shown(
        install.app_info, relayed, first.stdout, first.stderr, second.stdout, second.stderr
    )
    assert install.iid not in timeline


def test_a_sounds_posts_are_delivered_once_through_the_configured_api_host(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Songs")
    for name in ("alice", "bob"):
        world.add_creator(name)
    hum = world.add_video("alice", desc="humming along")
    dance = world.add_video("bob", desc="dancing to it")
    world.add_video("bob", desc="another song")
    sound = world.add_sound("Morning Hum", author="The Hummers", posts=[hum.id, dance.id])
    install = world.add_app_install(app_name="trill", app_version="34.2.1", aid="1180")
    host = "api22-normal-c-alisg.tiktokv.com"
    with_app_info(relayed, install.app_info, tiktok_api_hostname=host)
    relayed.destinations = {"songs": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [
        {"url": sound.url, "to": ["songs"]},
        {"tiktok": "@bob", "to": ["songs"]},
    ]

    done = relayed.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 delivered, 0 failed" in done.stdout, done.stdout
    assert sorted(delivered_texts(relayed, channel.id)) == [
        "another song",
        "dancing to it",
        "humming along",
    ]
    assert world.requests(host=host, path="/aweme/v1/music/aweme/")
    assert not world.requests(host=APP_API_HOST)
    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 delivered" in again.stdout, again.stdout
    assert len(delivered_texts(relayed, channel.id)) == 3
    assert_never_shown(install.app_info, relayed, done.stdout, done.stderr, again.stdout)


@pytest.mark.parametrize(
    "address",
    ["https://www.tiktok.com/tag/cats", "https://www.tiktok.com/music/original-sound-7251000001"],
)
def test_without_app_info_a_hashtag_or_sound_is_refused_when_the_config_is_read(
    relayed: Relayed, address: str
) -> None:
    channel = relayed.telegram.add_chat("channel", title="Tags")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": address, "to": ["clips"]}]
    refused = relayed.run()
    said = refused.stdout + refused.stderr
    assert refused.returncode == 2, said
    assert "sources.0.url" in said
    assert "network.tiktok_app_info" in said
    assert "<iid>/<app_name>/<app_version>/<manifest_app_version>/<aid>" in said
    assert not relayed.world.requests(), "nothing is fetched before the config is refused"


def test_an_install_the_apps_api_does_not_take_fails_the_poll_saying_so(
    relayed: Relayed,
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Cats")
    world.add_creator("alice")
    world.add_video("alice", desc="kitten #cats")
    tag = world.add_hashtag("cats")
    genuine = world.add_app_install()
    made_up = f"7300000000000000001/{genuine.app_info.split('/', 1)[1]}"
    with_app_info(relayed, made_up)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"url": tag.url, "to": ["clips"]}]
    failed = relayed.run()
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0, said
    assert "network.tiktok_app_info" in said
    assert delivered_texts(relayed, channel.id) == []
    # TikTok's answer to an install it does not know: a 200 without a body.
    listings = world.requests(host=APP_API_HOST, path="/aweme/v1/challenge/aweme/")
    assert listings
    assert all(r.status == 200 for r in listings)
    timeline = relayed.newest_timeline("poll")
    assert "network.tiktok_app_info" in timeline
    assert "genuine" in timeline
    assert_never_shown(made_up, relayed, said, timeline)
