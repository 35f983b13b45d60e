"""Planned failures: a refused call, an album cut short, a slow answer.

Each plan targets the n-th call of a method counted from the moment the plan is added, so a test can
arm a fault halfway through a scenario without knowing how many calls came before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tikrelay.sandbox.telegram.errors import ApiError


@dataclass
class _Plan:
    method: str
    nth: int
    seen: int = 0
    error: ApiError | None = None
    delivered: int | None = None  # album: items sent before the failure
    retry_after: int = 8
    delay: float = 0.0


@dataclass
class AlbumFailure:
    delivered: int
    retry_after: int

    def error(self) -> ApiError:
        # Telegram numbers the failed item from 1; this is the wording seen in the wild.
        return ApiError(
            400,
            f"Bad Request: failed to send message #{self.delivered + 1} with the error message "
            f'"Too Many Requests: retry after {self.retry_after}"',
        )


@dataclass
class Faults:
    _plans: list[_Plan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_call(
        self,
        method: str,
        *,
        nth: int = 1,
        status: int = 400,
        description: str = "Bad Request: injected failure",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        error = ApiError(status, description, parameters)
        self._add(_Plan(method, nth, error=error))

    def fail_album(self, *, nth: int = 1, delivered: int = 1, retry_after: int = 8) -> None:
        self._add(_Plan("sendMediaGroup", nth, delivered=delivered, retry_after=retry_after))

    def delay_call(self, method: str, *, nth: int = 1, seconds: float) -> None:
        self._add(_Plan(method, nth, delay=seconds))

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    def _add(self, plan: _Plan) -> None:
        with self._lock:
            self._plans.append(plan)

    def on_call(self, method: str) -> tuple[ApiError | None, AlbumFailure | None, float]:
        """Count one call of ``method``; what is planned for it: refusal, album cut, delay."""
        error: ApiError | None = None
        album: AlbumFailure | None = None
        delay = 0.0
        with self._lock:
            for plan in list(self._plans):
                if plan.method != method:
                    continue
                plan.seen += 1
                if plan.seen != plan.nth:
                    continue
                self._plans.remove(plan)
                if plan.error is not None:
                    error = error or plan.error
                elif plan.delivered is not None:
                    album = AlbumFailure(plan.delivered, plan.retry_after)
                else:
                    delay += plan.delay
        return error, album, delay
