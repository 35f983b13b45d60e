"""One contract for every archive target, run on a local folder, moto's S3 and Azurite."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tikrelay.archive.storage import CHUNK_SIZE, MAX_CONCURRENCY, ArchiveStore

MIB = 1024 * 1024


def _window() -> tuple[datetime, datetime]:
    # S3 keeps whole seconds and a server's clock is its own: a little slack on both sides.
    now = datetime.now(UTC)
    return now - timedelta(seconds=5), now + timedelta(seconds=5)


def test_a_large_file_round_trips(archive: ArchiveStore, twelve_mib: Path) -> None:
    earliest, _ = _window()
    archive.put_file("tiktok/someone/2026/07/123/video.mp4", twelve_mib)
    _, latest = _window()

    [stored] = archive.list("")
    assert stored.key == "tiktok/someone/2026/07/123/video.mp4"
    assert stored.size == twelve_mib.stat().st_size
    assert stored.last_modified.tzinfo is not None
    assert stored.last_modified.utcoffset() == timedelta(0)
    assert earliest <= stored.last_modified <= latest
    data = archive.read_bytes(stored.key)
    assert data is not None
    assert hashlib.sha256(data).digest() == hashlib.sha256(twelve_mib.read_bytes()).digest()


def test_small_files_exist_read_list_and_delete(archive: ArchiveStore) -> None:
    archive.put_bytes("a/b/metadata.json", b'{"id": "1"}\n')
    archive.put_bytes("a/b/01.jpg", b"\xff\xd8jpeg")
    archive.put_bytes("a/bc/other.json", b"{}")
    archive.put_bytes("top.txt", b"top")

    assert archive.exists("a/b/metadata.json")
    assert not archive.exists("a/b/missing.json")
    assert not archive.exists("a/b")  # a folder is no file
    assert archive.read_bytes("a/b/metadata.json") == b'{"id": "1"}\n'
    assert archive.read_bytes("a/b/missing.json") is None

    def keys(prefix: str) -> dict[str, int]:
        return {stored.key: stored.size for stored in archive.list(prefix)}

    everything = {"a/b/metadata.json": 12, "a/b/01.jpg": 6, "a/bc/other.json": 2, "top.txt": 3}
    assert keys("") == everything
    # Prefixes match whole segments, with or without the trailing slash.
    assert keys("a/b/") == keys("a/b") == {"a/b/metadata.json": 12, "a/b/01.jpg": 6}
    assert keys("a") == {k: v for k, v in everything.items() if k.startswith("a/")}
    assert keys("nothing/here/") == {}

    archive.delete(["a/b/01.jpg", "a/b/metadata.json", "a/b/never-written.json"])
    archive.delete([])
    assert keys("") == {"a/bc/other.json": 2, "top.txt": 3}
    assert not archive.exists("a/b/metadata.json")
    archive.delete(["a/b/metadata.json"])  # gone already: no error


def test_a_write_replaces_the_whole_file(archive: ArchiveStore, tmp_path: Path) -> None:
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(6 * MIB))
    archive.put_file("post/video.mp4", large)
    archive.put_bytes("post/video.mp4", b"short")
    assert archive.read_bytes("post/video.mp4") == b"short"
    assert [(s.key, s.size) for s in archive.list("post/")] == [("post/video.mp4", 5)]

    archive.put_file("post/video.mp4", large)
    assert archive.read_bytes("post/video.mp4") == large.read_bytes()
    assert [s.size for s in archive.list("post/")] == [6 * MIB]


def test_keys_with_spaces_and_unicode_round_trip(archive: ArchiveStore) -> None:
    key = "tiktok/ünïcode user/2026/01/7 1%/metadata.json"
    archive.put_bytes(key, b"{}")
    assert archive.exists(key)
    assert [s.key for s in archive.list("tiktok/")] == [key]
    assert archive.read_bytes(key) == b"{}"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "a//b",
        "a/",
        "../outside",
        "a/../../b",
        "a/./b",
        "..",
        ".incoming/x",
        "a\\b",
        "a/b\nc",
        "a/video.mp4#1",
    ],
)
def test_bad_keys_are_refused(archive: ArchiveStore, key: str, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    for call in (
        lambda: archive.put_bytes(key, b"x"),
        lambda: archive.put_file(key, source),
        lambda: archive.exists(key),
        lambda: archive.read_bytes(key),
        lambda: archive.delete(["fine.txt", key]),
    ):
        with pytest.raises(ValueError, match="archive key"):
            call()
    if key not in ("", "a/"):  # as prefixes: everything, and the folder a
        with pytest.raises(ValueError, match="archive key"):
            archive.list(key)  # refused at the call, before any iteration
    assert list(archive.list("")) == []


def test_large_uploads_hold_a_bounded_amount_of_memory(
    archive: ArchiveStore, tmp_path: Path
) -> None:
    """Peak resident memory (Linux's VmHWM, reset through /proc/self/clear_refs) while a 64 MiB
    file is uploaded stays near the parts in flight, far below the file's size. The servers are
    child processes, so their memory is not counted."""
    size = 64 * MIB
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    archive.put_bytes("warm-up", b"x")  # connections, thread pools and lazy imports

    Path("/proc/self/clear_refs").write_text("5")  # peak resident size := current
    before = _status_bytes("VmRSS")
    archive.put_file("big.bin", source)
    grown = _status_bytes("VmHWM") - before

    bound = CHUNK_SIZE * (MAX_CONCURRENCY + 1) + 12 * MIB
    assert grown < bound < size, f"peak grew by {grown / MIB:.1f} MiB"
    assert {s.key: s.size for s in archive.list("")}["big.bin"] == size


def _status_bytes(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB$", Path("/proc/self/status").read_text(), re.M)
    assert found is not None
    return int(found.group(1)) * 1024
