"""The one error taxonomy: every failure is classified once, and the kind decides retry."""

from __future__ import annotations

from collections.abc import Callable
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


def classify(exc: BaseException) -> TikrelayError:
    """Map any exception to the taxonomy; unknown exceptions become UNKNOWN, never lost."""
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
