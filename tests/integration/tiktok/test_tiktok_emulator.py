"""The real yt-dlp, given only ``proxy`` and ``nocheckcertificate``, works against the emulator."""

from __future__ import annotations

import hashlib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yt_dlp
from yt_dlp.networking import Request

from tests.support.ytdlp import NO_WATERMARK
from tikrelay.media.ffmpeg import ffmpeg_path
from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

pytestmark = pytest.mark.timeout(60)


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_video_downloads_the_clean_file_not_the_watermarked_one(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.add_creator("alice", nickname="Alice")
    other = world.add_video("alice", desc="first")
    post = world.add_video("alice", desc="hello #fyp")
    assert post.sha256 != other.sha256
    assert post.media.watermarked_path is not None
    assert sha256(post.media.watermarked_path) != post.sha256

    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        info = ydl.extract_info(post.url)

    formats = {f["format_id"]: f for f in info["formats"]}
    assert set(formats) == {"download", "play", "h264_540p_500000", "audio"}
    assert formats["download"]["format_note"] == "watermarked"
    assert formats["audio"]["ext"] == "mp3"
    assert info["format_id"] == "h264_540p_500000"
    assert (info["vcodec"], info["acodec"]) == ("h264", "aac")
    assert sha256(info["requested_downloads"][0]["filepath"]) == post.sha256
    assert info["id"] == post.id
    assert info["title"] == "hello #fyp"
    assert info["timestamp"] == post.create_time
    assert (info["uploader"], info["channel"]) == ("alice", "Alice")
    creator = world.creator("alice")
    assert creator is not None
    assert info["channel_id"] == creator.sec_uid
    assert info["view_count"] == post.stats["playCount"]


def test_cdn_got_the_cookie_the_page_set(world: TikTokWorld, ydl_opts: dict[str, Any]) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        ydl.extract_info(post.url)
    page, media = world.requests()
    assert (page.host, page.path, page.status) == (
        "www.tiktok.com",
        f"/@alice/video/{post.id}",
        200,
    )
    assert "tt_chain_token" not in page.cookies
    assert media.host == "v16-webapp-prime.tiktok.com"
    assert "tt_chain_token" in media.cookies
    assert media.headers["referer"] == post.url


def test_hevc_trap_merge_spec_takes_video_only_hevc_our_spec_takes_muxed_h264(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice", hevc=True)
    # With ffmpeg found, yt-dlp's default spec is bestvideo*+bestaudio/best.
    merging = {**ydl_opts, "ffmpeg_location": str(ffmpeg_path())}
    with yt_dlp.YoutubeDL(merging) as ydl:
        trapped = ydl.extract_info(post.url, download=False)
    assert trapped["format_id"] == "bytevc1_720p_800000+audio"
    video, audio = trapped["requested_formats"]
    assert (video["vcodec"], video["acodec"]) == ("h265", "none")
    assert audio["url"] == post.media.music_url  # the sound track, not the post's own audio
    # yt-dlp range-tested the untrusted hvc1 format before choosing it.
    assert post.media.hevc_url is not None
    probes = world.requests(path=urlsplit(post.media.hevc_url).path)
    assert [(r.status, r.headers["range"]) for r in probes] == [(206, "bytes=0-10240")]

    with yt_dlp.YoutubeDL({**merging, "format": NO_WATERMARK}) as ydl:
        info = ydl.extract_info(post.url)
    assert info["format_id"] == "h264_540p_500000"
    assert (info["vcodec"], info["acodec"]) == ("h264", "aac")
    assert sha256(info["requested_downloads"][0]["filepath"]) == post.sha256


def _feed_ids(ydl_opts: dict[str, Any], url: str) -> tuple[dict[str, Any], list[str]]:
    with yt_dlp.YoutubeDL({**ydl_opts, "extract_flat": "in_playlist"}) as ydl:
        feed = ydl.extract_info(url, download=False)
    return feed, [entry["id"] for entry in feed["entries"]]


def test_creator_feed_pages_newest_first_by_name_and_by_sec_uid(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    creator = world.add_creator("alice", videos=16)
    newest = world.add_slideshow("alice", images=["jpeg"])
    expected = [p.id for p in world.posts("alice")]
    assert len(expected) == 17
    assert expected[0] == newest.id

    feed, ids = _feed_ids(ydl_opts, "https://www.tiktok.com/@alice")
    assert ids == expected
    assert (feed["id"], feed["title"]) == (creator.sec_uid, "alice")
    assert feed["entries"][0]["url"] == f"https://www.tiktok.com/@alice/video/{newest.id}"
    assert feed["entries"][1]["timestamp"] == world.posts("alice")[1].create_time
    pages = world.requests(path="/api/creator/item_list/")
    assert len(pages) == 2
    assert pages[1].query["cursor"] == str(world.posts("alice")[14].create_time * 1000)

    _, by_sec_uid = _feed_ids(ydl_opts, f"tiktokuser:{creator.sec_uid}")
    assert by_sec_uid == expected
    assert [r.path for r in world.requests()][-2:] == ["/api/creator/item_list/"] * 2


def test_post_added_while_running_heads_the_feed(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    # One post at a time: several within a second are stamped ahead of the clock (see the unit
    # tests for how the feed still shows them).
    creator = world.add_creator("alice", videos=3)
    _, before = _feed_ids(ydl_opts, f"tiktokuser:{creator.sec_uid}")
    added = world.add_video("alice", desc="new")
    _, after = _feed_ids(ydl_opts, f"tiktokuser:{creator.sec_uid}")
    assert after == [added.id, *before]


def test_posts_added_within_one_second_get_increasing_times_and_all_head_the_feed(
    media: MediaFixtures,
) -> None:
    now = 1_800_000_000.5
    world = TikTokWorld(media, clock=lambda: now)
    world.add_creator("alice", videos=15)
    added = [world.add_video("alice") for _ in range(3)]
    assert [p.create_time for p in added] == [1_800_000_000, 1_800_000_001, 1_800_000_002]
    # yt-dlp's first cursor is its clock, a moment behind these stamps.
    page, more = world.feed_page("alice", int(now * 1000), 15)
    assert [p.id for p in page[:3]] == [p.id for p in reversed(added)]
    assert more


def test_slideshow_images_and_sound_via_the_private_extractor_api(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=["jpeg", "webp", "heic"], desc="three slides")
    assert post.url.endswith(f"/photo/{post.id}")
    with yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ie = ydl.get_info_extractor("TikTok")
        assert hasattr(ie, "_extract_web_data_and_status")
        data, status = ie._extract_web_data_and_status(
            post.url.replace("/photo/", "/video/"), post.id
        )
        assert status == 0
        images = data["imagePost"]["images"]
        urls = [image["imageURL"]["urlList"][0] for image in images]
        fetched = [ydl.urlopen(url).read() for url in urls]
        sound = ydl.urlopen(data["music"]["playUrl"]).read()

    assert [slide.path.read_bytes() for slide in post.slides] == fetched
    assert fetched[0][:3] == b"\xff\xd8\xff"
    assert fetched[1][8:12] == b"WEBP"
    assert fetched[2][4:12] == b"ftypheic"
    assert post.media.music_path is not None
    assert sound == post.media.music_path.read_bytes()
    assert data["video"]["duration"] == 0
    hosts = {r.host for r in world.requests()}
    assert hosts == {
        "www.tiktok.com",
        "p16-sign-va.tiktokcdn-us.com",
        "sf16-ies-music-va.tiktokcdn.com",
    }


def test_slideshow_through_extract_info_is_audio_only(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=["jpeg", "jpeg"])
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        info = ydl.extract_info(post.url.replace("/photo/", "/video/"))
    assert [f["format_id"] for f in info["formats"]] == ["audio"]
    assert post.media.music_path is not None
    assert sha256(info["requested_downloads"][0]["filepath"]) == sha256(post.media.music_path)


def test_photo_urls_are_served_but_yt_dlp_does_not_claim_them(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=["webp"])
    with yt_dlp.YoutubeDL(ydl_opts) as ydl:
        page = ydl.urlopen(post.url).read().decode()
        assert "__UNIVERSAL_DATA_FOR_REHYDRATION__" in page
        assert post.slides[0].url.split("?")[0] in page.replace("\\/", "/")
        with pytest.raises(yt_dlp.utils.DownloadError, match="Unsupported URL"):
            ydl.extract_info(post.url, download=False)


def test_cdn_refuses_media_without_the_cookie_and_honours_range(
    world: TikTokWorld, emulator: TikTokEmulator
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    assert post.media.play_url is not None
    assert post.media.clean_path is not None
    clean = post.media.clean_path.read_bytes()
    with yt_dlp.YoutubeDL({**emulator.ydl_options, "quiet": True}) as ydl:
        with pytest.raises(yt_dlp.networking.exceptions.HTTPError) as refused:
            ydl.urlopen(post.media.play_url)
        refused.value.close()  # an unread error response would hold its connection
        assert refused.value.status == 403
        ydl.urlopen(post.url).read()  # the page sets tt_chain_token
        part = ydl.urlopen(Request(post.media.play_url, headers={"Range": "bytes=100-199"}))
        assert part.status == 206
        assert part.get_header("Content-Range") == f"bytes 100-199/{len(clean)}"
        assert part.read() == clean[100:200]
        tail = ydl.urlopen(Request(post.media.play_url, headers={"Range": "bytes=-10"}))
        assert tail.read() == clean[-10:]
        whole = ydl.urlopen(post.media.play_url)
        assert (whole.status, whole.read()) == (200, clean)


def test_many_clients_at_once_each_get_their_own_post(
    world: TikTokWorld, ydl_opts: dict[str, Any], tmp_path: Path
) -> None:
    world.add_creator("alice")
    posts = [world.add_video("alice", desc=f"post {n}") for n in range(12)]

    def download(n: int) -> str:
        opts = {**ydl_opts, "format": NO_WATERMARK, "outtmpl": str(tmp_path / f"{n}.%(ext)s")}
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(posts[n].url)
        return sha256(info["requested_downloads"][0]["filepath"])

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        digests = list(pool.map(download, range(len(posts))))
    assert digests == [p.sha256 for p in posts]
    assert len(set(digests)) == len(posts)


def test_plain_http_proxy_requests_and_head(world: TikTokWorld, emulator: TikTokEmulator) -> None:
    world.add_creator("alice", videos=1)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": emulator.proxy_url}))
    with opener.open("http://www.tiktok.com/@alice") as page:
        assert b"webapp.user-detail" in page.read()
        assert "tt_chain_token=" in page.headers["Set-Cookie"]
    with opener.open(urllib.request.Request("http://www.tiktok.com/@alice", method="HEAD")) as head:
        assert int(head.headers["Content-Length"]) > 0
        assert head.read() == b""
