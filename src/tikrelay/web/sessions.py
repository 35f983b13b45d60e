"""Browser sessions and the failed-login limit, both held in the web process's memory.

A session is a random id (256 bits from ``secrets``) in an HttpOnly, SameSite=Strict cookie;
the server keeps only its SHA-256 digest, with the session's own CSRF token and its end. Why
server-side ids rather than a signed cookie: logging out (or the process ending) truly ends the
session, no signing key has to be made, kept or rotated, and the web token is never an input of
anything a browser holds. The cost is that sessions do not outlive the process and are not
shared between two web processes: a browser then logs in again, which the login page makes
cheap.

Why SameSite=Strict rather than Lax: no request from another site, not even a link followed to
the dashboard, carries the session; such a visitor lands on the login page. Every state change
needs the CSRF token besides, so Lax would also be safe; Strict is the second lock.

The failed-login limit counts per client address within a sliding window and answers how long
to wait; its clock is injected, so that tests need no sleep.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

#: A session ends this long after login, used or not: a lost laptop's cookie does not last.
SESSION_SECONDS = 12 * 3600
#: Sessions kept at most; the oldest goes first past it (a flood of logins cannot fill memory).
MAX_SESSIONS = 1000
#: Failed logins allowed per client address within LOGIN_WINDOW_SECONDS; more answer 429.
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW_SECONDS = 60.0
#: Client addresses whose failures are remembered at most.
MAX_TRACKED_ADDRESSES = 10_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    csrf: str  # sent back in X-CSRF-Token or a form's csrf field with every state change
    ends: float  # on the clock of Sessions


class Sessions:
    """Logged-in browsers, by the digest of their cookie's id."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._kept: dict[str, Session] = {}
        self._lock = threading.Lock()  # routes run on the thread pool

    def start(self) -> tuple[str, Session]:
        """A new session: the id for the cookie (kept nowhere else) and the session."""
        session_id = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), ends=self.clock() + SESSION_SECONDS)
        with self._lock:
            self._drop_ended()
            while len(self._kept) >= MAX_SESSIONS:
                del self._kept[next(iter(self._kept))]  # dicts keep insertion order: the oldest
            self._kept[_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of a cookie's id, or None."""
        if not session_id:
            return None
        key = _digest(session_id)
        with self._lock:
            session = self._kept.get(key)
            if session is not None and session.ends <= self.clock():
                del self._kept[key]
                session = None
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._kept.pop(_digest(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            self._drop_ended()
            return len(self._kept)

    def _drop_ended(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._kept.items() if s.ends <= now]:
            del self._kept[key]


def same_token(given: str | None, expected: str) -> bool:
    """``given`` is ``expected``, compared in constant time."""
    if not given:
        return False
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class LoginLimiter:
    """At most MAX_FAILED_LOGINS failed logins per client address within the window."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """0 when ``address`` may try to log in now; else the whole seconds to wait."""
        now = self.clock()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < MAX_FAILED_LOGINS:
                return 0
            return max(1, math.ceil(failures[0] + LOGIN_WINDOW_SECONDS - now))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
                self._forget_quiet(now)
            self._recent(address, now).append(now)

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - LOGIN_WINDOW_SECONDS:
            failures.popleft()
        return failures

    def _forget_quiet(self, now: float) -> None:
        """Addresses with no failure in the window go; if all are loud, the oldest one."""
        for address in list(self._failures):
            if not self._recent(address, now):
                del self._failures[address]
        if len(self._failures) >= MAX_TRACKED_ADDRESSES:
            del self._failures[next(iter(self._failures))]
