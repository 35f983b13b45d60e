"""The CDN bandwidth throttle: media trickle at the set rate through the real yt-dlp, pages and
the feed do not, and switching it off restores full speed.

Only lower bounds are asserted on the throttled side: a busy machine can always be slower. Where
a test shows that something is *not* throttled, the bound it checks is many times shorter than
the throttled transfer would need, so it fails only when the throttle is wrongly applied.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
import yt_dlp
from yt_dlp.networking import Request

from tests.support.ytdlp import NO_WATERMARK
from tikrelay.sandbox.tiktok import EmulatorControl, Post, TikTokEmulator, TikTokWorld

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def video(world: TikTokWorld) -> Post:
    world.add_creator("alice")
    return world.add_video("alice", desc="paced")


@pytest.fixture
def slideshow(world: TikTokWorld) -> Post:
    world.add_creator("bob")
    return world.add_slideshow("bob", images=["jpeg"], music=True)


def download(ydl_opts: dict[str, Any], url: str) -> tuple[Path, float]:
    """The file yt-dlp downloads for ``url`` and the seconds the whole extraction took."""
    started = time.monotonic()
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        info = ydl.extract_info(url)
        path = Path(info["requested_downloads"][0]["filepath"])
    return path, time.monotonic() - started


def fetch(ydl_opts: dict[str, Any], url: str | Request) -> tuple[bytes, float]:
    """One CDN URL through yt-dlp's own networking (as tikrelay fetches slides)."""
    started = time.monotonic()
    with yt_dlp.YoutubeDL(ydl_opts) as ydl, ydl.urlopen(url) as response:
        body: bytes = response.read()
    return body, time.monotonic() - started


def test_a_throttled_video_takes_at_least_size_over_rate(
    world: TikTokWorld, video: Post, ydl_opts: dict[str, Any]
) -> None:
    size = video.media.clean_size
    rate = int(size / 0.8)  # 0.8 s for the whole file
    world.throttle_cdn(rate)

    path, elapsed = download(ydl_opts, video.url)

    assert path.stat().st_size == size
    assert elapsed >= size / rate


def test_the_sound_and_slides_are_throttled_too(
    world: TikTokWorld, slideshow: Post, ydl_opts: dict[str, Any]
) -> None:
    assert slideshow.media.music_path is not None
    sound_size = slideshow.media.music_path.stat().st_size
    slide = slideshow.slides[0]
    slide_size = slide.path.stat().st_size
    rate = int(max(sound_size, slide_size) / 0.4)
    world.throttle_cdn(rate)

    # yt-dlp reads photo posts at their /video/ URL and sees only the sound.
    path, sound_seconds = download(ydl_opts, slideshow.url.replace("/photo/", "/video/"))
    body, slide_seconds = fetch(ydl_opts, slide.url)

    assert path.stat().st_size == sound_size
    assert sound_seconds >= sound_size / rate
    assert body == slide.path.read_bytes()
    assert slide_seconds >= slide_size / rate


def test_a_range_request_is_paced_on_its_own_length(
    world: TikTokWorld, slideshow: Post, ydl_opts: dict[str, Any]
) -> None:
    assert slideshow.media.music_path is not None
    assert slideshow.media.music_url is not None
    world.throttle_cdn(8_000)
    request = Request(slideshow.media.music_url, headers={"Range": "bytes=0-3999"})

    body, elapsed = fetch(ydl_opts, request)

    assert body == slideshow.media.music_path.read_bytes()[:4_000]
    assert elapsed >= 4_000 / 8_000


def test_pages_and_the_feed_stay_fast(
    world: TikTokWorld, video: Post, ydl_opts: dict[str, Any]
) -> None:
    # At 1 byte a second any throttled page would take minutes; metadata needs pages only.
    world.throttle_cdn(1)
    started = time.monotonic()
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        post = ydl.extract_info(video.url, download=False)
    with yt_dlp.YoutubeDL({**ydl_opts, "extract_flat": "in_playlist"}) as ydl:
        feed = ydl.extract_info("https://www.tiktok.com/@alice", download=False)
    elapsed = time.monotonic() - started

    assert post["id"] == video.id
    assert [entry["id"] for entry in feed["entries"]] == [video.id]
    assert elapsed < 20


def test_the_control_api_switches_it_on_and_off(
    emulator: TikTokEmulator, world: TikTokWorld, video: Post, ydl_opts: dict[str, Any]
) -> None:
    control = EmulatorControl(emulator.control_url)
    control.throttle_cdn(500)
    assert control.call("GET", "/throttle") == {"bytes_per_second": 500}
    assert world.cdn_throttle == 500

    control.throttle_cdn(None)
    path, elapsed = download(ydl_opts, video.url)

    assert control.call("GET", "/throttle") == {"bytes_per_second": None}
    assert path.stat().st_size == video.media.clean_size
    # At 500 bytes a second this file would take about 100 s.
    assert elapsed < video.media.clean_size / 500 / 5


@pytest.mark.parametrize("rate", [0, -5, 1.5, "fast", True])
def test_the_control_api_refuses_a_bad_rate(
    emulator: TikTokEmulator, world: TikTokWorld, rate: object
) -> None:
    control = EmulatorControl(emulator.control_url)
    with pytest.raises(HTTPError) as caught:
        control.call("PUT", "/throttle", {"bytes_per_second": rate})
    with caught.value as refusal:
        assert refusal.code == 400
        assert "bytes_per_second" in refusal.read().decode()
    assert world.cdn_throttle is None


def test_the_world_refuses_a_rate_below_one(world: TikTokWorld) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        world.throttle_cdn(0)
    assert world.cdn_throttle is None
