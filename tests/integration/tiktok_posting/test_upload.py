"""The client against the Content Posting API emulator: a video sent to the inbox or posted
directly, in chunks by the Media Transfer Guide's rules, with the status polled to the end; the
upload URL refusing a chunk out of order, a malformed request and an expired URL."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from tests.support.tiktok_posting import MB, video_file
from tikrelay.destinations.tiktok import TikTokClient
from tikrelay.destinations.tiktok_auth import AccountCredentials
from tikrelay.destinations.tiktok_chunks import ChunkPlan, plan_chunks
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sandbox.tiktok_posting import TikTokPostingEmulator


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("size", "ranges"),
    [
        (1000, ["bytes 0-999/1000"]),
        (5 * MB - 1, [f"bytes 0-{5 * MB - 2}/{5 * MB - 1}"]),
        (5 * MB, [f"bytes 0-{5 * MB - 1}/{5 * MB}"]),
        (
            23 * MB + 17,
            [
                f"bytes 0-{10 * MB - 1}/{23 * MB + 17}",
                f"bytes {10 * MB}-{23 * MB + 16}/{23 * MB + 17}",
            ],
        ),
    ],
)
async def test_an_inbox_upload_arrives_whole_in_the_documented_chunks(
    posting: TikTokPostingEmulator,
    client: TikTokClient,
    creds: AccountCredentials,
    tmp_path: Path,
    size: int,
    ranges: list[str],
) -> None:
    video = video_file(tmp_path, size)
    plan = plan_chunks(size)
    upload = await client.init_inbox(creds, plan)
    sent: list[int] = []

    async def progress(next_chunk: int) -> None:
        sent.append(next_chunk)

    await client.send_chunks(upload.upload_url, plan, video, on_chunk=progress)
    done = await client.wait_done(creds, upload.publish_id)

    assert done.status == "SEND_TO_USER_INBOX"
    assert done.uploaded_bytes == size
    assert posting.upload(upload.publish_id).ranges == ranges
    assert sent == list(range(1, len(ranges) + 1))
    [draft] = posting.published
    assert (draft.username, draft.mode, draft.size) == ("mirror", "inbox", size)
    assert draft.sha256 == digest(video)


async def test_a_video_over_64_mb_goes_in_two_chunks_quickly(
    posting: TikTokPostingEmulator,
    client: TikTokClient,
    creds: AccountCredentials,
    tmp_path: Path,
) -> None:
    size = 70 * MB + 3
    video = video_file(tmp_path, size)
    plan = plan_chunks(size, chunk_size=64 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (35 * MB + 1, 2)
    started = time.monotonic()
    upload = await client.init_inbox(creds, plan)
    await client.send_chunks(upload.upload_url, plan, video)
    assert time.monotonic() - started < 3
    [draft] = posting.published
    assert draft.sha256 == digest(video)
    assert posting.upload(upload.publish_id).ranges == [
        f"bytes 0-{35 * MB}/{size}",
        f"bytes {35 * MB + 1}-{size - 1}/{size}",
    ]


async def test_a_direct_post_reports_each_processing_step_then_is_published(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials, tmp_path: Path
) -> None:
    video = video_file(tmp_path, 2000)
    info = await client.creator_info(creds)
    assert info.username == "mirror"
    assert "SELF_ONLY" in info.privacy_level_options
    plan = plan_chunks(2000)
    upload = await client.init_direct(
        creds, plan, {"title": "a title 🎥", "privacy_level": "SELF_ONLY"}
    )
    before = await client.status(creds, upload.publish_id)
    assert (before.status, before.uploaded_bytes) == ("PROCESSING_UPLOAD", 0)
    await client.send_chunks(upload.upload_url, plan, video)
    seen = [(await client.status(creds, upload.publish_id)).status for _ in range(3)]
    assert seen == ["PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "PUBLISH_COMPLETE"]
    [post] = posting.published
    assert (post.mode, post.title, post.post_info["privacy_level"]) == (
        "direct",
        "a title 🎥",
        "SELF_ONLY",
    )


async def test_the_upload_url_takes_chunks_only_in_order_and_exactly(
    posting: TikTokPostingEmulator,
    client: TikTokClient,
    creds: AccountCredentials,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    size = 12 * MB
    video = video_file(tmp_path, size)
    plan = plan_chunks(size, chunk_size=5 * MB)
    assert plan.total_chunk_count == 2
    upload = await client.init_inbox(creds, plan)
    with pytest.raises(TikrelayError) as skipped:
        await client.put_chunk(upload.upload_url, plan, 1, video)  # chunk 1 before chunk 0
    assert skipped.value.http_status == 416
    assert skipped.value.retryable is False
    # A range that is not the chunk's (one byte short), and no Content-Range at all.
    body = video.read_bytes()[: 5 * MB - 1]
    short = await http.put(
        upload.upload_url,
        content=body,
        headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{5 * MB - 2}/{size}"},
    )
    assert short.status_code == 416
    bare = await http.put(upload.upload_url, content=body, headers={"Content-Type": "video/mp4"})
    assert bare.status_code == 400
    # The body's length must be the range's.
    lying = await http.put(
        upload.upload_url,
        content=body,
        headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{5 * MB - 1}/{size}"},
    )
    assert lying.status_code == 400
    assert posting.upload(upload.publish_id).next_chunk == 0
    await client.send_chunks(upload.upload_url, plan, video)
    assert posting.published[0].sha256 == digest(video)


async def test_an_expired_upload_url_is_refused(
    posting: TikTokPostingEmulator, client: TikTokClient, creds: AccountCredentials, tmp_path: Path
) -> None:
    video = video_file(tmp_path, 1000)
    plan = plan_chunks(1000)
    upload = await client.init_inbox(creds, plan)
    posting.state.offset += 3601
    with pytest.raises(TikrelayError) as expired:
        await client.put_chunk(upload.upload_url, plan, 0, video)
    assert expired.value.http_status == 403
    assert posting.published == []


@pytest.mark.parametrize(
    "plan",
    [
        ChunkPlan(4 * MB, 2 * MB, 2),  # under 5 MB: one whole chunk
        ChunkPlan(20 * MB, 4 * MB, 5),  # chunks under 5 MB
        ChunkPlan(20 * MB, 10 * MB, 3),  # the count is not size // chunk
        ChunkPlan(100 * MB, 100 * MB, 1),  # over 64 MB in one chunk
        ChunkPlan(130 * MB, 65 * MB, 2),  # chunks over 64 MB
    ],
)
async def test_init_refuses_chunk_plans_the_rules_forbid(
    client: TikTokClient, creds: AccountCredentials, plan: ChunkPlan
) -> None:
    with pytest.raises(TikrelayError) as refused:
        await client.init_inbox(creds, plan)
    assert refused.value.kind is ErrorKind.HTTP
    assert refused.value.retryable is False
    assert "invalid_params" in refused.value.message
