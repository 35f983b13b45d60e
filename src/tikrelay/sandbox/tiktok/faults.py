"""Failures injected on demand: which requests they hit and how many times."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    STATUS = "status"  # an HTTP error status (403, 429, 5xx) instead of the answer
    CHALLENGE = "challenge"  # the WAF JavaScript challenge page instead of the real one
    EMPTY = "empty"  # 200 with an empty body
    GARBAGE = "garbage"  # 200 with bytes that are neither HTML, JSON nor media
    DELAY = "delay"  # the real answer, after ``seconds``
    RESET = "reset"  # the TCP connection is reset instead of answering
    REDIRECT = "redirect"  # a redirect (302 unless ``status`` says 301/303/307/308) to ``location``


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 0
    seconds: float = 0.0
    location: str = ""

    def __post_init__(self) -> None:
        if self.kind is FaultKind.REDIRECT:
            if not self.location:
                raise ValueError("a redirect fault needs a location")
            if self.status not in (0, 301, 302, 303, 307, 308):
                raise ValueError(f"a redirect fault needs a redirect status, not {self.status}")
        if self.kind is FaultKind.STATUS and not 400 <= self.status <= 599:
            raise ValueError(f"a status fault needs an HTTP error status, not {self.status}")
        if self.kind is FaultKind.DELAY and self.seconds <= 0:
            raise ValueError("a delay fault needs seconds > 0")


@dataclass
class _Armed:
    target: str
    fault: Fault
    remaining: int | None  # None: until cleared


def target_matches(target: str, host: str, path: str, post_id: str | None) -> bool:
    """Does ``target`` select this request?

    A target is a post id (all of that post's pages), a glob on the path when it starts with
    ``/`` (``/@alice``, ``/api/creator/item_list/``, ``/video/tos/*``), or else a glob on
    ``host + path`` (``v16-webapp-prime.tiktok.com/*``).
    """
    if target.isdigit():
        return target == post_id
    subject = path if target.startswith("/") else host + path
    return fnmatch.fnmatchcase(subject, target)


class FaultPlan:
    """Armed faults, consumed in the order they were armed; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def arm(self, target: str, fault: Fault, count: int | None = 1) -> None:
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for 'until cleared')")
        with self._lock:
            self._armed.append(_Armed(target, fault, count))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, host: str, path: str, post_id: str | None) -> list[Fault]:
        """Faults for one request: at most one delay plus at most one other, each used once."""
        taken: list[Fault] = []
        with self._lock:
            for armed in list(self._armed):
                is_delay = armed.fault.kind is FaultKind.DELAY
                if any((f.kind is FaultKind.DELAY) == is_delay for f in taken):
                    continue
                if not target_matches(armed.target, host, path, post_id):
                    continue
                taken.append(armed.fault)
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
        return taken
