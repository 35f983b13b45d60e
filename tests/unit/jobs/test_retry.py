"""The retry policy, table-driven: kind, attempts and hints in; retry time or failure out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.domain.retry import BackoffPolicy, decide_retry

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NO_JITTER = BackoffPolicy(base_seconds=10, max_seconds=300, jitter=0)


@pytest.mark.parametrize(
    ("kind", "attempts", "max_attempts", "retry_after", "retryable", "delay", "reason"),
    [
        (ErrorKind.NETWORK, 1, 5, None, None, 10, "backoff"),
        (ErrorKind.NETWORK, 2, 5, None, None, 20, "backoff"),
        (ErrorKind.NETWORK, 4, 5, None, None, 80, "backoff"),
        (ErrorKind.TIMEOUT, 3, 5, None, None, 40, "backoff"),
        (ErrorKind.NETWORK, 9, 99, None, None, 300, "backoff"),  # capped
        (ErrorKind.RATE_LIMIT, 1, 5, None, None, 40, "backoff"),  # rate limits back off harder
        (ErrorKind.RATE_LIMIT, 1, 5, 7.5, None, 7.5, "retry-after"),  # the peer's hint wins
        (ErrorKind.RATE_LIMIT, 1, 5, 900, None, 900, "retry-after"),  # even beyond the cap
        (ErrorKind.NETWORK, 5, 5, None, None, None, "max-attempts"),
        (ErrorKind.RATE_LIMIT, 5, 5, 3, None, None, "max-attempts"),
        (ErrorKind.AUTH, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.SIZE_LIMIT, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.FORMAT_NOT_FOUND, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.PROTECTED, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.UNSUPPORTED, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.EXTRACTOR_UPDATE_REQUIRED, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.DELETED, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.CANCELLED, 1, 5, None, None, None, "not-retryable"),
        (ErrorKind.HTTP, 1, 5, None, False, None, "not-retryable"),  # e.g. HTTP 400
        (ErrorKind.PRIVATE, 1, 5, None, True, 10, "backoff"),  # classifier knows better
    ],
)
def test_decide_retry(
    kind: ErrorKind,
    attempts: int,
    max_attempts: int,
    retry_after: float | None,
    retryable: bool | None,
    delay: float | None,
    reason: str,
) -> None:
    decision = decide_retry(
        kind,
        attempts,
        max_attempts,
        retry_after,
        NOW,
        random.Random(1),
        retryable=retryable,
        policy=NO_JITTER,
    )
    assert decision.reason == reason
    expected = None if delay is None else NOW + timedelta(seconds=delay)
    assert decision.run_at == expected
    assert decision.retry is (delay is not None)


def test_jitter_stays_within_its_band() -> None:
    policy = BackoffPolicy(base_seconds=100, max_seconds=1000, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(ErrorKind.NETWORK, 1, rng) for _ in range(200)]
    assert min(delays) >= 50
    assert max(delays) <= 100
    assert len(set(delays)) > 100


def test_classify_keeps_taxonomy_errors_and_maps_the_rest() -> None:
    error = TikrelayError(ErrorKind.GEO_BLOCK, "not in your country")
    assert classify(error) is error
    assert classify(TimeoutError()).kind is ErrorKind.TIMEOUT
    assert classify(ConnectionResetError("reset")).kind is ErrorKind.NETWORK
    unknown = classify(KeyError("x"))
    assert unknown.kind is ErrorKind.UNKNOWN
    assert "KeyError" in unknown.message
