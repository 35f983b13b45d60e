"""The one error taxonomy: every failure is classified once, and the kind decides retry."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a job failed. The last four are markers the engine itself sets."""

    NETWORK = "network"
    HTTP = "http"
    AUTH = "auth"
    RATE_LIMIT = "rate-limit"
    EXTRACTOR = "extractor"
    EXTRACTOR_UPDATE_REQUIRED = "extractor-update-required"
    GEO_BLOCK = "geo-block"
    DELETED = "deleted"
    PRIVATE = "private"
    SIZE_LIMIT = "size-limit"
    FORMAT_NOT_FOUND = "format-not-found"
    PROTECTED = "protected"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"
    # The disk under the state folder (or the database server's) is full: nothing a retry of
    # the same job fixes until space is freed, so the worker stops and gives its jobs back.
    DISK_FULL = "disk-full"
    # Engine markers: a timeout, a worker that vanished, a cancel while running.
    TIMEOUT = "timeout"
    STALE = "stale"
    CANCELLED = "cancelled"


class TikrelayError(Exception):
    """A classified failure. ``retry_after`` (seconds) is the peer's hint and beats backoff;
    ``retryable`` overrides the kind's default when the classifier knows better (e.g. HTTP 503)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retry_after: float | None = None,
        retryable: bool | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.retryable = retryable
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class InvalidJobError(ValueError):
    """A job that cannot be enqueued (unknown kind, bad payload); nothing was written."""


class QueueFullError(Exception):
    """The queue holds ``limit`` waiting jobs already; the message can be shown to a user."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the job queue is full ({limit} jobs waiting); try again once some have finished"
        )
        self.limit = limit


Classifier = Callable[[BaseException], TikrelayError | None]
_classifiers: list[Classifier] = []


def register_classifier(classifier: Classifier) -> Classifier:
    """Let a boundary (sources, destinations) teach ``classify`` its third-party exceptions."""
    _classifiers.append(classifier)
    return classifier


_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # sqlite3's SQLITE_FULL result code
_PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def disk_full(exc: BaseException) -> BaseException | None:
    """The exception in ``exc``'s chain that says a disk is full: an OSError with ENOSPC or
    EDQUOT, SQLite's SQLITE_FULL or PostgreSQL's disk_full; libraries that wrap it (yt-dlp,
    SQLAlchemy) keep it as the cause or context."""
    for link in _chain(exc):
        if isinstance(link, TikrelayError) and link.kind is ErrorKind.DISK_FULL:
            return link
        if isinstance(link, OSError) and link.errno in _DISK_FULL_ERRNOS:
            return link
        if getattr(link, "sqlite_errorcode", None) == _SQLITE_FULL:
            return link
        if getattr(link, "sqlstate", None) == _PG_DISK_FULL:
            return link
    return None


def classify(exc: BaseException) -> TikrelayError:
    """Map any exception to the taxonomy; unknown exceptions become UNKNOWN, never lost."""
    full = disk_full(exc)
    if full is not None:
        if isinstance(full, TikrelayError):
            return full
        where = getattr(full, "filename", None)
        return TikrelayError(
            ErrorKind.DISK_FULL, f"no space left on device{f' for {where}' if where else ''}"
        )
    if isinstance(exc, TikrelayError):
        return exc
    for classifier in reversed(_classifiers):
        found = classifier(exc)
        if found is not None:
            return found
    if isinstance(exc, TimeoutError):
        return TikrelayError(ErrorKind.TIMEOUT, str(exc) or "timed out")
    if isinstance(exc, ConnectionError):
        return TikrelayError(ErrorKind.NETWORK, str(exc) or type(exc).__name__)
    return TikrelayError(ErrorKind.UNKNOWN, f"{type(exc).__name__}: {exc}")
