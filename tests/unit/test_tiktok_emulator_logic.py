"""Pure parts of the TikTok emulator: feed paging, byte ranges, the WAF challenge, fault targets."""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikrelay.sandbox.tiktok import challenge
from tikrelay.sandbox.tiktok.faults import Fault, FaultKind, FaultPlan, target_matches
from tikrelay.sandbox.tiktok.model import Post, PostKind, PostMedia, feed_page
from tikrelay.sandbox.tiktok.site import byte_range

NOW_MS = 1_800_000_000_000


def post(create_time: int) -> Post:
    return Post(
        id=str(create_time << 32),
        kind=PostKind.VIDEO,
        username="alice",
        desc="",
        create_time=create_time,
        variant=0,
        media=PostMedia(cover_url=""),
    )


def walk(posts: list[Post], page_size: int, first_cursor: int) -> list[list[Post]]:
    """Page like yt-dlp's TikTokUserIE: next cursor = last item's createTime * 1000."""
    pages, cursor = [], first_cursor
    while True:
        page, more = feed_page(posts, cursor, page_size, NOW_MS)
        pages.append(page)
        if not more:
            return pages
        cursor = page[-1].create_time * 1000


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=20))
def test_paging_visits_every_post_once_newest_first(count: int, page_size: int) -> None:
    posts = [post(NOW_MS // 1000 - 3600 * age) for age in range(1, count + 1)]
    pages = walk(posts, page_size, NOW_MS)
    assert [p for page in pages for p in page] == posts
    assert all(len(page) == page_size for page in pages[:-1])


def test_posts_stamped_ahead_of_the_clock_still_head_the_first_page() -> None:
    # Added faster than one per second: createTime runs a few seconds ahead of real time.
    ahead = [post(NOW_MS // 1000 + n) for n in range(3, -1, -1)]
    past = [post(NOW_MS // 1000 - 3600 * n) for n in range(1, 15)]
    pages = walk(ahead + past, 15, NOW_MS - 5)
    assert [p for page in pages for p in page] == ahead + past


def test_a_cursor_from_long_ago_is_not_fresh() -> None:
    posts = [post(NOW_MS // 1000 - 86_400 * n) for n in range(1, 4)]
    page, more = feed_page(posts, NOW_MS - 2 * 86_400_000, 15, NOW_MS)
    assert page == posts[2:]
    assert not more


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=50-500", (50, 99)),
        ("bytes=100-", (100, 99)),  # unsatisfiable
        ("bytes=0-1,5-6", None),  # several ranges: send everything
        ("items=0-1", None),
    ],
)
def test_byte_range(header: str | None, span: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == span


def solve_like_yt_dlp(page: str) -> tuple[str, str]:
    """What yt-dlp's _solve_challenge_and_set_cookies does, reduced to its arithmetic."""
    data_b64 = page.split('id="cs" class="')[1].split('"')[0]
    data = json.loads(base64.b64decode(data_b64 + "==="))
    base = hashlib.sha256(base64.b64decode(data["v"]["a"]))
    digest = base64.b64decode(data["v"]["c"])
    for i in range(1_000_001):
        trial = base.copy()
        trial.update(str(i).encode())
        if trial.digest() == digest:
            data["d"] = base64.b64encode(str(i).encode()).decode()
            break
    name = page.split('id="wci" class="')[1].split('"')[0]
    return name, base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def test_challenge_round_trip() -> None:
    issued = challenge.new_challenge(random.Random(1))
    name, cookie = solve_like_yt_dlp(challenge.render_page(issued))
    assert name == challenge.COOKIE_NAME
    assert challenge.solution_base(cookie) == issued.base
    assert challenge.solution_base("bm90IGpzb24") is None
    wrong = json.loads(base64.b64decode(cookie))
    wrong["d"] = base64.b64encode(b"1000001").decode()
    assert challenge.solution_base(base64.b64encode(json.dumps(wrong).encode()).decode()) is None


@pytest.mark.parametrize(
    ("target", "host", "path", "post_id", "hit"),
    [
        ("70001", "www.tiktok.com", "/@a/video/70001", "70001", True),
        ("70001", "www.tiktok.com", "/@a/video/70002", "70002", False),
        ("/@alice", "www.tiktok.com", "/@alice", None, True),
        ("/@alice", "www.tiktok.com", "/@alice/video/1", "1", False),
        ("/@alice*", "www.tiktok.com", "/@alice/video/1", "1", True),
        ("v16.tiktok.com/video/*", "v16.tiktok.com", "/video/tos/x/", None, True),
        ("v16.tiktok.com/video/*", "www.tiktok.com", "/video/tos/x/", None, False),
    ],
)  # fmt: skip
def test_target_matches(target: str, host: str, path: str, post_id: str | None, hit: bool) -> None:
    assert target_matches(target, host, path, post_id) is hit


def test_fault_plan_counts_and_combines_one_delay_with_one_failure() -> None:
    plan = FaultPlan()
    plan.arm("/x", Fault(FaultKind.DELAY, seconds=0.5), count=None)
    plan.arm("/x", Fault(FaultKind.STATUS, status=429), count=2)
    plan.arm("/x", Fault(FaultKind.RESET))
    kinds = [[f.kind for f in plan.take("h", "/x", None)] for _ in range(4)]
    assert kinds == [
        [FaultKind.DELAY, FaultKind.STATUS],
        [FaultKind.DELAY, FaultKind.STATUS],
        [FaultKind.DELAY, FaultKind.RESET],
        [FaultKind.DELAY],
    ]
    assert plan.take("h", "/y", None) == []
    plan.clear()
    assert plan.take("h", "/x", None) == []


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="HTTP error status"):
        Fault(FaultKind.STATUS, status=200)
    with pytest.raises(ValueError, match="seconds"):
        Fault(FaultKind.DELAY)
    with pytest.raises(ValueError, match="count"):
        FaultPlan().arm("/x", Fault(FaultKind.EMPTY), count=0)
