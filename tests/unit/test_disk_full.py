"""A full disk is recognised wherever it surfaces: our files, yt-dlp, SQLite, PostgreSQL."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from psycopg.errors import DiskFull
from sqlalchemy.exc import OperationalError

from tikrelay.domain.errors import ErrorKind, TikrelayError, classify, disk_full


def raised_from(cause: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException:
            raise outer  # noqa: B904 - the implicit context is what libraries leave
    except BaseException as exc:
        return exc


def sqlite_full() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOSPC, "No space left on device", "/state/media/x.part"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        raised_from(OSError(errno.ENOSPC, "full"), RuntimeError("yt-dlp: unable to write")),
        raised_from(sqlite_full(), OperationalError("COMMIT", {}, sqlite_full())),
        raised_from(DiskFull("could not extend file"), OperationalError("INSERT", {}, None)),
        TikrelayError(ErrorKind.DISK_FULL, "ffmpeg failed"),
    ],
)
def test_full_disks_are_disk_full(exc: BaseException) -> None:
    assert disk_full(exc) is not None
    assert classify(exc).kind is ErrorKind.DISK_FULL


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EACCES, "Permission denied"),
        sqlite3.OperationalError("database is locked"),
        RuntimeError("No space left on device"),  # words are not a type
    ],
)
def test_other_errors_are_not(exc: BaseException) -> None:
    assert disk_full(exc) is None
    assert classify(exc).kind is not ErrorKind.DISK_FULL
