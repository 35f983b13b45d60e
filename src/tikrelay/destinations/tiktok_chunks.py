"""How a video is cut for TikTok's FILE_UPLOAD, by the rules of its Media Transfer Guide.

Every chunk is at least 5 MB and at most 64 MB, but the last, which takes the bytes that remain
and may reach 128 MB; ``total_chunk_count`` is ``video_size // chunk_size``; a video under 5 MB
goes whole, as one chunk of its own size; a video over 64 MB goes in several chunks; there are
at most 1000 chunks, sent in order. TikTok's MB is 1024 * 1024 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_LAST_CHUNK = 128 * MB
MAX_CHUNKS = 1000
#: What tikrelay sends per request: small enough that a crash loses little, large enough that a
#: 1 GB video is a hundred requests.
DEFAULT_CHUNK = 10 * MB


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int  # the offset of its first byte
    last: int  # the offset of its last byte (inclusive, as Content-Range has it)

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class ChunkPlan:
    """``source_info``'s three numbers, and the chunks they mean."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def chunk(self, index: int) -> Chunk:
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(f"chunk {index} of {self.total_chunk_count}")
        first = index * self.chunk_size
        last_index = index == self.total_chunk_count - 1
        last = self.video_size - 1 if last_index else first + self.chunk_size - 1
        return Chunk(index, first, last)

    def chunks(self) -> list[Chunk]:
        return [self.chunk(index) for index in range(self.total_chunk_count)]

    def content_range(self, index: int) -> str:
        chunk = self.chunk(index)
        return f"bytes {chunk.first}-{chunk.last}/{self.video_size}"


def plan_chunks(video_size: int, chunk_size: int = DEFAULT_CHUNK) -> ChunkPlan:
    """The plan for a video of ``video_size`` bytes, in chunks of ``chunk_size`` where the rules
    allow (raised to fit the 1000-chunk cap); ValueError for an empty or too large video."""
    if video_size <= 0:
        raise ValueError("the video is empty")
    if video_size < MIN_CHUNK:
        return ChunkPlan(video_size, video_size, 1)
    size = min(max(chunk_size, MIN_CHUNK), MAX_CHUNK)
    size = max(size, -(-video_size // MAX_CHUNKS))
    if video_size < size:  # 5 MB up to the chunk size: one chunk, whole
        return ChunkPlan(video_size, video_size, 1)
    if video_size > MAX_CHUNK and video_size // size < 2:  # over 64 MB: two chunks at least
        size = video_size // 2
    plan = ChunkPlan(video_size, size, video_size // size)
    problem = check_plan(plan)
    if problem is not None:
        raise ValueError(f"a video of {video_size} bytes cannot be uploaded: {problem}")
    return plan


def check_plan(plan: ChunkPlan) -> str | None:
    """What is wrong with ``source_info``'s numbers by the rules, or None: what TikTok checks
    when an upload is initialized (the emulator uses it too)."""
    size, chunk, count = plan.video_size, plan.chunk_size, plan.total_chunk_count
    if size <= 0 or chunk <= 0:
        return "video_size and chunk_size must be positive"
    if size < MIN_CHUNK:
        if chunk != size or count != 1:
            return "a video under 5 MB is one chunk of its whole size"
        return None
    if not MIN_CHUNK <= chunk <= MAX_CHUNK:
        return "chunk_size must be between 5 MB and 64 MB"
    if count != size // chunk:
        return "total_chunk_count must be video_size / chunk_size rounded down"
    if not 1 <= count <= MAX_CHUNKS:
        return "there must be between 1 and 1000 chunks"
    if size > MAX_CHUNK and count < 2:
        return "a video over 64 MB must be uploaded in several chunks"
    if size - (count - 1) * chunk > MAX_LAST_CHUNK:
        return "the last chunk may hold 128 MB at most"
    return None
