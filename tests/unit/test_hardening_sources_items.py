"""TikTok's item JSON read defensively: any junk in any field is tolerated with a safe default or
becomes a final ``extractor`` error naming the field, never a traceback."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import Post, PostKind
from tikrelay.sources.tiktok_item import count, entries_from_feed, post_from_item

POST_ID = "7500000000000000001"
URL = f"https://www.tiktok.com/@alice/video/{POST_ID}"
IMAGE = "https://p16-sign-va.tiktokcdn-us.com/a~tplv-photomode-image.jpeg"
ITEM: dict[str, Any] = {
    "id": POST_ID,
    "desc": "hello #fyp",
    "createTime": "1761000000",
    "author": {"uniqueId": "alice", "nickname": "Alice"},
    "stats": {"playCount": 10, "diggCount": 2},
    "music": {"title": "song", "authorName": "Bob", "duration": 15, "playUrl": "https://x/a.mp3"},
    "textExtra": [{"hashtagName": "fyp"}],
    "imagePost": {"images": [{"imageURL": {"urlList": [IMAGE]}}]},
}
# Where junk is tolerated, and where it is a named error.
TOLERANT = [
    "stats",
    "stats.playCount",
    "stats.diggCount",
    "music",
    "music.title",
    "music.authorName",
    "music.duration",
    "music.playUrl",
    "textExtra",
]
NAMED = [
    "createTime",
    "id",
    "desc",
    "author",
    "author.uniqueId",
    "author.nickname",
    "imagePost",
    "imagePost.images",
    "imagePost.images.0",
    "imagePost.images.0.imageURL",
    "imagePost.images.0.imageURL.urlList",
]

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def with_field(path: str, value: Any) -> dict[str, Any]:
    item = copy.deepcopy(ITEM)
    *parents, last = path.split(".")
    node: Any = item
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return item


def test_a_well_formed_item() -> None:
    post = post_from_item(ITEM, URL, POST_ID)
    assert post.kind is PostKind.SLIDESHOW
    assert post.created_at == datetime(2025, 10, 20, 22, 40, tzinfo=UTC)
    assert (post.author, post.author_name, post.views, post.likes) == ("alice", "Alice", 10, 2)
    assert post.hashtags == ("fyp",)
    assert post.sound is not None
    assert post.sound.duration == 15.0
    assert post.images == (IMAGE,)


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(TOLERANT), value=junk)
def test_junk_in_a_tolerant_field_gives_a_post(path: str, value: Any) -> None:
    post = post_from_item(with_field(path, value), URL, POST_ID)
    assert post.id == POST_ID
    assert post.views is None or post.views >= 0
    assert post.sound is None or post.sound.duration is None or post.sound.duration > 0


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(NAMED), value=junk)
def test_junk_in_a_needed_field_is_a_final_error_naming_it(path: str, value: Any) -> None:
    result = outcome(with_field(path, value))
    if isinstance(result, TikrelayError):
        assert (result.kind, result.retryable) == (ErrorKind.EXTRACTOR, False)
        named = path.split(".0")[0]  # imagePost.images.0... is named imagePost.images[0]...
        assert f"TikTok sent {named}" in result.message
    else:
        assert result.id == POST_ID  # some values are fine there too: None, a number as text


def outcome(item: dict[str, Any]) -> Post | TikrelayError:
    try:
        return post_from_item(item, URL, POST_ID)
    except TikrelayError as error:
        return error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1761000000, datetime(2025, 10, 20, 22, 40, tzinfo=UTC)),
        ("1761000000", datetime(2025, 10, 20, 22, 40, tzinfo=UTC)),
        (1761000000.0, datetime(2025, 10, 20, 22, 40, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_create_times_that_work(value: object, expected: datetime | None) -> None:
    assert post_from_item(with_field("createTime", value), URL, POST_ID).created_at == expected


@pytest.mark.parametrize(
    "value", ["yesterday", "17e8", True, float("nan"), float("inf"), -5, 10**20, [1], {"s": 1}]
)
def test_create_times_that_do_not(value: object) -> None:
    with pytest.raises(TikrelayError) as caught:
        post_from_item(with_field("createTime", value), URL, POST_ID)
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.EXTRACTOR, False)
    assert caught.value.message.startswith(f"post {POST_ID}: TikTok sent createTime = ")
    assert caught.value.message.endswith("not a time in seconds")


def test_another_posts_id_and_bad_slides_are_named() -> None:
    with pytest.raises(TikrelayError, match="TikTok sent id = '42', not this post's id"):
        post_from_item(with_field("id", "42"), URL, POST_ID)
    bad = with_field("imagePost.images", [{"imageURL": {"urlList": []}}])
    with pytest.raises(TikrelayError, match=r"imagePost.images\[0\].imageURL.urlList = \[\]"):
        post_from_item(bad, URL, POST_ID)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), ("12", 12), (4.0, 4), (-1, None), (True, None), ("1e3", None), (float("inf"), None)],
)
def test_counts(value: object, expected: int | None) -> None:
    assert count(value) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["id", "timestamp"]), junk), max_size=5) | junk)
def test_feed_entries_never_fail_and_keep_only_usable_ids(entries: Any) -> None:
    found = entries_from_feed({"entries": entries}, "alice")
    assert all(e.id.isdigit() for e in found)
    assert all(e.url == f"https://www.tiktok.com/@alice/video/{e.id}" for e in found)


def test_feed_entries_oldest_first_with_unknown_times_tolerated() -> None:
    entries = [
        {"id": "3", "timestamp": 1761000300},
        {"id": "../../etc", "timestamp": 1},
        {"id": 2, "timestamp": "soon"},
        {"id": "1", "timestamp": None},
    ]
    found = entries_from_feed({"entries": entries}, "alice")
    assert [(e.id, e.created_at is None) for e in found] == [("1", True), ("2", True), ("3", False)]
