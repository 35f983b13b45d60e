"""The retry policy: a pure function of the error kind, the attempts made and the peer's hints."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tikrelay.domain.errors import ErrorKind

#: Kinds that a later attempt can fix. Everything else fails at once (RETRY_SKIPPED).
RETRYABLE: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.NETWORK,
        ErrorKind.HTTP,
        ErrorKind.RATE_LIMIT,
        ErrorKind.EXTRACTOR,
        ErrorKind.UNKNOWN,
        ErrorKind.TIMEOUT,
        ErrorKind.STALE,
        ErrorKind.DISK_FULL,
    }
)

#: Rate limits back off harder: the peer is telling us to slow down.
_BASE_FACTOR = {ErrorKind.RATE_LIMIT: 4.0}


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff: ``base * 2**(attempt-1)``, capped, then scaled by a jitter in
    ``[1 - jitter, 1]`` so that a burst of failures does not retry in lockstep."""

    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    jitter: float = 0.5

    def delay(self, kind: ErrorKind, attempts: int, rng: random.Random) -> float:
        raw = self.base_seconds * _BASE_FACTOR.get(kind, 1.0) * 2.0 ** max(attempts - 1, 0)
        capped = min(raw, self.max_seconds)
        return capped * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True)
class RetryDecision:
    """``run_at`` set: retry then. ``run_at`` None: fail for ``reason``."""

    run_at: datetime | None
    reason: str

    @property
    def retry(self) -> bool:
        return self.run_at is not None


def decide_retry(
    kind: ErrorKind,
    attempts: int,
    max_attempts: int,
    retry_after: float | None,
    now: datetime,
    rng: random.Random,
    *,
    retryable: bool | None = None,
    policy: BackoffPolicy = BackoffPolicy(),
) -> RetryDecision:
    """Decide whether attempt number ``attempts`` (1-based, already made) gets another go."""
    can_retry = kind in RETRYABLE if retryable is None else retryable
    if not can_retry:
        return RetryDecision(None, "not-retryable")
    if attempts >= max_attempts:
        return RetryDecision(None, "max-attempts")
    if retry_after is not None and retry_after >= 0:
        return RetryDecision(now + timedelta(seconds=retry_after), "retry-after")
    delay = policy.delay(kind, attempts, rng)
    return RetryDecision(now + timedelta(seconds=delay), "backoff")
