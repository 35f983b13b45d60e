"""A local folder as an archive: a writer killed mid-write leaves nothing under a final name,
its staging leftovers go at a later open, and a full disk is DISK_FULL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tikrelay.archive.storage import CHUNK_SIZE, STAGING
from tikrelay.archive.targets import STALE_AFTER, open_archive, remove_stale_staging
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify, disk_full

MIB = 1024 * 1024
# Streams a pipe into the archive: the test feeds it, then kills it with SIGKILL.
WRITER = """
import sys
from pathlib import Path
from tikrelay.archive import open_archive
open_archive(path=sys.argv[1]).put_file("tiktok/a/2026/07/1/video.mp4", Path(sys.argv[2]))
"""


def _files(root: Path) -> dict[str, int]:
    found = {}
    for path in root.rglob("*"):
        try:
            if path.is_file():
                found[str(path.relative_to(root))] = path.stat().st_size
        except FileNotFoundError:
            pass  # renamed or removed meanwhile by a writer
    return found


def _open_writer_end(fifo: Path, writer: subprocess.Popen[bytes]) -> int:
    """The pipe's writing end, once the writer has opened the reading end."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert writer.poll() is None, "the writer died before reading"
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return fd
    raise AssertionError("the writer never opened the pipe")


def _wait_for_staged_bytes(root: Path, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        staging = root / STAGING
        if staging.exists() and sum(_files(staging).values()) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing staged: {_files(root)}")


def test_a_writer_killed_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(fifo)])
    try:
        fd = _open_writer_end(fifo, writer)
        try:
            os.write(fd, os.urandom(12 * MIB))  # two whole parts, the third still open
            _wait_for_staged_bytes(root, at_least=2 * CHUNK_SIZE)
            writer.send_signal(signal.SIGKILL)
            assert writer.wait(timeout=30) == -signal.SIGKILL
        finally:
            os.close(fd)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()

    leftovers = _files(root)
    assert leftovers, "the writer was killed before it wrote anything"
    assert all(name.startswith(f"{STAGING}/") for name in leftovers), leftovers
    assert all(size < 12 * MIB for size in leftovers.values())
    archive = open_archive(path=root)  # the leftover is fresh: its writer may be alive
    assert list(archive.list("")) == []
    assert not archive.exists("tiktok/a/2026/07/1/video.mp4")
    assert _files(root) == leftovers

    long_ago = time.time() - STALE_AFTER.total_seconds() - 60
    for name in leftovers:
        os.utime(root / name, (long_ago, long_ago))
    open_archive(path=root)
    assert _files(root) == {}


def test_stale_staging_files_go_and_fresh_ones_stay(tmp_path: Path) -> None:
    archive = open_archive(path=tmp_path)
    archive.put_bytes("kept/metadata.json", b"{}")
    staging = tmp_path / STAGING
    staging.mkdir(exist_ok=True)
    long_ago = time.time() - STALE_AFTER.total_seconds() - 60
    for name in ("0123abcd", "4567cdef#1"):  # a staged file, and obstore's own temporary one
        (staging / name).write_bytes(b"partial")
        os.utime(staging / name, (long_ago, long_ago))
    (staging / "89abef01#2").write_bytes(b"being written right now")

    assert [s.key for s in archive.list("")] == ["kept/metadata.json"]
    assert remove_stale_staging(tmp_path) == 2
    assert sorted(_files(tmp_path)) == [f"{STAGING}/89abef01#2", "kept/metadata.json"]
    assert archive.read_bytes("kept/metadata.json") == b"{}"


def test_writes_leave_nothing_staged_and_deletes_leave_no_empty_folders(tmp_path: Path) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(os.urandom(6 * MIB))
    root = tmp_path / "archive"
    archive = open_archive(path=root)
    archive.put_file("tiktok/a/2026/07/1/video.mp4", source)
    archive.put_bytes("tiktok/a/2026/07/1/metadata.json", b"{}")
    assert _files(root) == {
        "tiktok/a/2026/07/1/video.mp4": 6 * MIB,
        "tiktok/a/2026/07/1/metadata.json": 2,
    }
    archive.delete(["tiktok/a/2026/07/1/video.mp4", "tiktok/a/2026/07/1/metadata.json"])
    assert not (root / "tiktok").exists()
    assert root.is_dir()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root, which CI has)."""
    mount_command, umount_command = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount_command is None or umount_command is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        [mount_command, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run([umount_command, str(mount)], check=True)


def test_a_full_disk_is_disk_full(tiny_disk: Path, tmp_path: Path) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(os.urandom(3 * MIB))
    archive = open_archive(path=tiny_disk / "archive")
    calls: list[Callable[[], None]] = [
        lambda: archive.put_file("post/video.mp4", source),
        lambda: archive.put_bytes("post/metadata.json", b"x" * 3 * MIB),
    ]
    for call in calls:
        with pytest.raises(TikrelayError) as caught:
            call()
        assert caught.value.kind is ErrorKind.DISK_FULL
        assert disk_full(caught.value) is caught.value  # the worker's own disk-full check
        assert classify(caught.value).kind is ErrorKind.DISK_FULL
    assert _files(tiny_disk / "archive") == {}
    archive.put_bytes("post/metadata.json", b"{}")  # small files still fit
    assert _files(tiny_disk / "archive") == {"post/metadata.json": 2}
