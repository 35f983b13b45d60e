"""Each failure the emulator can stage produces the error the real yt-dlp raises for it."""

from __future__ import annotations

import hashlib
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import pytest
import yt_dlp
from yt_dlp.utils import DownloadError

from tests.support.ytdlp import NO_WATERMARK, RecordingLogger
from tikrelay.sandbox.tiktok import (
    IP_BLOCKED,
    PRIVATE_ACCOUNT,
    PRIVATE_POST,
    Post,
    TikTokEmulator,
    TikTokWorld,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def post(world: TikTokWorld) -> Post:
    world.add_creator("alice", videos=2)
    return world.add_video("alice", desc="the one")


def extract(ydl_opts: dict[str, Any], url: str, **extra: Any) -> dict[str, Any]:
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK, **extra}) as ydl:
        info: dict[str, Any] = ydl.extract_info(url)
        return info


def failure(ydl_opts: dict[str, Any], url: str, **extra: Any) -> str:
    with pytest.raises(DownloadError) as caught:
        extract(ydl_opts, url, **extra)
    return str(caught.value)


@pytest.mark.parametrize("status", [PRIVATE_POST, PRIVATE_ACCOUNT])
def test_private_post_needs_login(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any], status: int
) -> None:
    world.set_status(post.id, status)
    message = failure(ydl_opts, post.url)
    assert "You do not have permission to view this post" in message
    assert "Log into an account" in message


def test_private_account_profile_needs_login(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.set_private("alice")
    assert "This user's account is private" in failure(ydl_opts, "https://www.tiktok.com/@alice")
    assert "Video not available" not in failure(ydl_opts, post.url)


def test_private_account_by_sec_uid_has_an_empty_feed(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    creator = world.add_creator("bob", private=True)
    message = failure(ydl_opts, f"tiktokuser:{creator.sec_uid}", extract_flat="in_playlist")
    assert "account is likely either private" in message


def test_blocked_ip(world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]) -> None:
    world.set_status(post.id, IP_BLOCKED)
    assert "Your IP address is blocked from accessing this post" in failure(ydl_opts, post.url)


def test_removed_post_is_unavailable_and_leaves_the_feed(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.remove(post.id)
    assert "Video not available, status code 100004" in failure(ydl_opts, post.url)
    with yt_dlp.YoutubeDL({**ydl_opts, "extract_flat": "in_playlist"}) as ydl:
        feed = ydl.extract_info("https://www.tiktok.com/@alice", download=False)
    assert post.id not in [entry["id"] for entry in feed["entries"]]
    assert len(feed["entries"]) == 2


@pytest.mark.parametrize(
    ("status", "text"),
    [(403, "Forbidden"), (429, "Too Many Requests"), (500, "Internal Server Error"), (503, "")],
)
def test_http_errors_on_the_page(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any], status: int, text: str
) -> None:
    world.fail_next(post.id, status)
    assert f"HTTP Error {status}: {text}" in failure(ydl_opts, post.url)
    # Used up: the next attempt succeeds.
    assert extract(ydl_opts, post.url)["id"] == post.id


def test_http_error_on_the_feed_api(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.fail_next("/api/creator/item_list/", 429, count=2)
    message = failure(ydl_opts, "https://www.tiktok.com/@alice", extract_flat="in_playlist")
    assert "HTTP Error 429" in message


def test_media_errors_for_the_next_n_requests_and_retries(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.fail_next("v16-webapp-prime.tiktok.com/video/*", 503, count=2)
    assert "HTTP Error 503" in failure(ydl_opts, post.url)
    info = extract(ydl_opts, post.url, retries=1)  # one 503 left, then the file
    path = Path(info["requested_downloads"][0]["filepath"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == post.sha256
    media = world.requests(host="v16-webapp-prime.tiktok.com")
    assert [r.status for r in media] == [503, 503, 200]


def test_empty_and_garbage_pages_are_unexpected_responses(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.empty_next(post.id)
    assert "Unexpected response from webpage request" in failure(ydl_opts, post.url)
    world.garbage_next(post.id)
    assert "Unexpected response from webpage request" in failure(ydl_opts, post.url)


def test_garbage_feed_is_a_json_error(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.garbage_next("/api/creator/item_list/")
    message = failure(ydl_opts, "https://www.tiktok.com/@alice", extract_flat="in_playlist")
    assert "Failed to parse JSON" in message


def test_empty_media_fails_the_download(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.empty_next("v16-webapp-prime.tiktok.com/video/*")
    assert "Did not get any data blocks" in failure(ydl_opts, post.url)


def test_slow_answers_time_out_or_arrive(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.delay("/api/creator/item_list/", seconds=2.0)
    message = failure(
        ydl_opts, "https://www.tiktok.com/@alice", extract_flat="in_playlist", socket_timeout=0.2
    )
    assert "timed out" in message
    world.delay(post.id, seconds=0.2)
    assert extract(ydl_opts, post.url)["id"] == post.id
    assert world.requests(path=f"/@alice/video/{post.id}")[0].status == 200


def test_connection_reset(world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]) -> None:
    world.reset_next(post.id)
    assert "Connection reset by peer" in failure(ydl_opts, post.url)
    assert world.requests()[0].status == 0


def test_waf_challenge_is_solved_and_the_page_follows(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any], ytdl_log: RecordingLogger
) -> None:
    world.challenge(post.id)
    info = extract(ydl_opts, post.url)
    path = Path(info["requested_downloads"][0]["filepath"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == post.sha256
    assert "Solving JS challenge using native Python implementation" in ytdl_log.text()
    challenged, solved = world.requests(path=f"/@alice/video/{post.id}")
    assert "_wafchallengeid" not in challenged.cookies
    assert {"_wafchallengeid", "waforiginalreid"} <= solved.cookies
    # yt-dlp drops the one-shot challenge cookies after use.
    assert "_wafchallengeid" not in world.requests(host="v16-webapp-prime.tiktok.com")[0].cookies


def test_waf_challenge_served_again_after_solving_fails_extraction(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    world.challenge(post.id, count=2)
    assert "Unable to extract universal data for rehydration" in failure(ydl_opts, post.url)
    cookies = [sorted(r.cookies) for r in world.requests()]
    assert cookies == [[], ["_wafchallengeid", "waforiginalreid"]]


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(
        0, name, value, None, False, ".tiktok.com", True, True, "/", True, False,
        None, False, None, None, {},
    )  # fmt: skip


def test_wrong_challenge_answer_gets_another_challenge(
    world: TikTokWorld, post: Post, emulator: TikTokEmulator
) -> None:
    world.challenge(post.id)
    with yt_dlp.YoutubeDL({**emulator.ydl_options, "quiet": True}) as ydl:
        first = ydl.urlopen(post.url).read().decode()
        assert 'id="cs"' in first
        ydl.cookiejar.set_cookie(_cookie("_wafchallengeid", "bm90IGFuIGFuc3dlcg"))
        again = ydl.urlopen(post.url).read().decode()
    assert 'id="cs"' in again
    assert "__UNIVERSAL_DATA_FOR_REHYDRATION__" not in again


def test_challenge_on_the_profile_breaks_name_lookup_but_not_sec_uid(
    world: TikTokWorld, post: Post, ydl_opts: dict[str, Any]
) -> None:
    """yt-dlp does not solve challenges on profile pages (the failure of yt-dlp issue #17500)."""
    creator = world.creator("alice")
    assert creator is not None
    world.challenge("/@alice")
    message = failure(ydl_opts, "https://www.tiktok.com/@alice", extract_flat="in_playlist")
    assert "Unable to extract secondary user ID" in message
    world.challenge("/@alice")
    with yt_dlp.YoutubeDL({**ydl_opts, "extract_flat": "in_playlist"}) as ydl:
        feed = ydl.extract_info(f"tiktokuser:{creator.sec_uid}", download=False)
    assert len(feed["entries"]) == 3
