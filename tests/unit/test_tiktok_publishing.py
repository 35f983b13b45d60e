"""Pure parts of TikTok publishing: the chunk plan by the Media Transfer Guide's rules
(table-driven), the title with its credit cut to 2,200 units, the privacy level chosen, the
redirect read back, and tokens sealed so that only the same TIKRELAY_SECRET_KEY opens them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from tikrelay.destinations.tiktok_auth import TokenBox, Tokens, code_from_redirect
from tikrelay.destinations.tiktok_chunks import MB, ChunkPlan, check_plan, plan_chunks
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.reposter.publishing import choose_privacy, tiktok_title


@pytest.mark.parametrize(
    ("size", "chunk", "expected"),
    [
        (1, 10 * MB, (1, 1)),
        (5 * MB - 1, 10 * MB, (5 * MB - 1, 1)),  # under 5 MB: whole
        (5 * MB, 10 * MB, (5 * MB, 1)),  # exactly 5 MB: one chunk of its size
        (10 * MB - 1, 10 * MB, (10 * MB - 1, 1)),
        (10 * MB, 10 * MB, (10 * MB, 1)),
        (20 * MB - 1, 10 * MB, (10 * MB, 1)),  # the last (only) chunk takes the rest
        (20 * MB, 10 * MB, (10 * MB, 2)),
        (64 * MB, 64 * MB, (64 * MB, 1)),  # 64 MB still fits one chunk
        (64 * MB + 1, 64 * MB, (32 * MB, 2)),  # over 64 MB: two chunks at least
        (128 * MB, 64 * MB, (64 * MB, 2)),
        (192 * MB - 1, 64 * MB, (64 * MB, 2)),  # the last chunk: 128 MB minus a byte
        (6 * MB, 1 * MB, (5 * MB, 1)),  # a chunk size under 5 MB is raised to 5 MB
        (700 * MB, 100 * MB, (64 * MB, 10)),  # over 64 MB is lowered to 64 MB
        (20_000 * MB, 5 * MB, (20 * MB, 1000)),  # raised to keep within 1000 chunks
    ],
)
def test_chunk_plans_follow_the_rules(size: int, chunk: int, expected: tuple[int, int]) -> None:
    plan = plan_chunks(size, chunk)
    assert (plan.chunk_size, plan.total_chunk_count) == expected
    assert check_plan(plan) is None
    chunks = plan.chunks()
    assert chunks[0].first == 0
    assert chunks[-1].last == size - 1
    assert all(a.last + 1 == b.first for a, b in itertools.pairwise(chunks))
    assert all(5 * MB <= c.size <= 64 * MB for c in chunks[:-1])
    assert chunks[-1].size <= 128 * MB


def test_content_ranges_name_each_chunk_inclusively() -> None:
    plan = plan_chunks(23 * MB, 10 * MB)
    assert plan.content_range(0) == f"bytes 0-{10 * MB - 1}/{23 * MB}"
    assert plan.content_range(1) == f"bytes {10 * MB}-{23 * MB - 1}/{23 * MB}"
    with pytest.raises(IndexError):
        plan.chunk(2)


@pytest.mark.parametrize(
    "plan",
    [
        ChunkPlan(0, 0, 1),
        ChunkPlan(3 * MB, 1 * MB, 3),
        ChunkPlan(30 * MB, 4 * MB, 7),
        ChunkPlan(30 * MB, 10 * MB, 2),
        ChunkPlan(100 * MB, 100 * MB, 1),
        ChunkPlan(6000 * MB, 5 * MB, 1200),
    ],
)
def test_plans_against_the_rules_are_named(plan: ChunkPlan) -> None:
    assert check_plan(plan) is not None


def test_an_empty_video_has_no_plan() -> None:
    with pytest.raises(ValueError, match="empty"):
        plan_chunks(0)


def post(text: str, site: str = "tiktok") -> Post:
    return Post(site=site, id="1", kind=PostKind.VIDEO, url="https://x", author="alice", text=text)


def test_the_title_credits_the_author_and_fits_2200_units() -> None:
    assert tiktok_title(post("hello"), credit=True) == "hello\n\n🎥 @alice on TikTok"
    assert tiktok_title(post("hello"), credit=False) == "hello"
    assert tiktok_title(post(""), credit=True) == "🎥 @alice on TikTok"
    long = "👍🏽" * 1500  # 4 UTF-16 units each, skin tone kept with its hand
    title = tiktok_title(post(long), credit=True)
    assert len(title.encode("utf-16-le")) // 2 <= 2200
    assert title.endswith("…\n\n🎥 @alice on TikTok")
    body = title.removesuffix("…\n\n🎥 @alice on TikTok")
    assert body == "👍🏽" * (len(body) // 2)
    assert len(tiktok_title(post("x" * 2200), credit=False)) == 2200
    assert tiktok_title(post("x" * 2201), credit=False) == "x" * 2199 + "…"


def test_the_privacy_level_is_the_one_asked_for_or_the_most_private() -> None:
    offered = ("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
    assert choose_privacy(None, offered) == "SELF_ONLY"
    assert choose_privacy(None, ("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR")) == (
        "FOLLOWER_OF_CREATOR"
    )
    assert choose_privacy("PUBLIC_TO_EVERYONE", offered) == "PUBLIC_TO_EVERYONE"
    with pytest.raises(TikrelayError) as refused:
        choose_privacy("MUTUAL_FOLLOW_FRIENDS", offered)
    assert refused.value.retryable is False
    assert "SELF_ONLY" in refused.value.message


def test_the_redirect_gives_its_code_only_for_this_authorization() -> None:
    url = "http://127.0.0.1:3455/callback/?code=abc&scopes=video.upload&state=s1"
    assert code_from_redirect(url, "s1") == "abc"
    assert code_from_redirect("  abc  ", "s1") == "abc"
    with pytest.raises(ValueError, match="state"):
        code_from_redirect(url, "s2")
    with pytest.raises(ValueError, match="access_denied"):
        code_from_redirect("http://127.0.0.1:3455/callback/?error=access_denied&state=s1", "s1")


def tokens() -> Tokens:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Tokens("open", "video.upload", "act.HIDDEN-A", "rft.HIDDEN-R", moment, moment)


def test_sealed_tokens_open_only_with_the_same_key_and_never_show() -> None:
    box = TokenBox("key one")
    sealed = box.seal(tokens())
    assert "HIDDEN" not in sealed
    assert "HIDDEN" not in repr(tokens())
    assert box.open(sealed, "me") == ("act.HIDDEN-A", "rft.HIDDEN-R")
    with pytest.raises(TikrelayError) as wrong:
        TokenBox("key two").open(sealed, "me")
    assert wrong.value.kind is ErrorKind.AUTH
    assert "HIDDEN" not in str(wrong.value)
    assert "tiktok-auth me" in wrong.value.message


def test_a_missing_secret_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKRELAY_SECRET_KEY", raising=False)
    with pytest.raises(TikrelayError, match="TIKRELAY_SECRET_KEY"):
        TokenBox.from_environment()
