"""Sessions and the failed-login limit on an injected clock: a session ends on time and at
logout, only its digest is kept, the oldest goes when too many are open; failures count per
address within a sliding window."""

from __future__ import annotations

import pytest

from tests.support.web.posts import T0
from tikrelay.store.web_sql import PostCursor
from tikrelay.web.posts import post_cursor, read_post_cursor
from tikrelay.web.sessions import (
    LOGIN_WINDOW_SECONDS,
    MAX_FAILED_LOGINS,
    MAX_SESSIONS,
    SESSION_SECONDS,
    LoginLimiter,
    Sessions,
    same_token,
)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lives_until_its_end_or_logout() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    session_id, session = sessions.start()
    assert sessions.find(session_id) == session
    assert session_id not in repr(sessions._kept)  # only the digest is kept
    clock.now += SESSION_SECONDS - 1
    assert sessions.find(session_id) == session
    clock.now += 1
    assert sessions.find(session_id) is None
    other, _ = sessions.start()
    sessions.end(other)
    assert sessions.find(other) is None
    assert sessions.find(None) is None
    assert sessions.find("") is None
    assert len(sessions) == 0


def test_each_session_has_its_own_id_and_csrf_token() -> None:
    sessions = Sessions(Clock())
    first_id, first = sessions.start()
    second_id, second = sessions.start()
    assert len({first_id, second_id, first.csrf, second.csrf}) == 4
    assert len(first_id) >= 40
    assert len(first.csrf) >= 40


def test_the_oldest_session_goes_past_the_limit() -> None:
    sessions = Sessions(Clock())
    oldest, _ = sessions.start()
    for _ in range(MAX_SESSIONS):
        sessions.start()
    assert len(sessions) == MAX_SESSIONS
    assert sessions.find(oldest) is None


def test_failed_logins_within_the_window() -> None:
    clock = Clock()
    logins = LoginLimiter(clock)
    for _ in range(MAX_FAILED_LOGINS):
        assert logins.wait_seconds("192.0.2.1") == 0
        logins.failed("192.0.2.1")
        clock.now += 10
    # The first failure was 50 s ago: it leaves the window in 10 s.
    assert logins.wait_seconds("192.0.2.1") == LOGIN_WINDOW_SECONDS - 50
    assert logins.wait_seconds("192.0.2.2") == 0  # another address is not held
    clock.now += 9.5
    assert logins.wait_seconds("192.0.2.1") == 1  # whole seconds, rounded up
    clock.now += 0.5
    assert logins.wait_seconds("192.0.2.1") == 0


@pytest.mark.parametrize(
    ("given", "expected", "same"),
    [("abc", "abc", True), ("abc", "abd", False), ("", "abc", False), (None, "abc", False)],
)
def test_tokens_are_compared_whole(given: str | None, expected: str, same: bool) -> None:
    assert same_token(given, expected) is same


def test_a_post_cursor_reads_back() -> None:
    cursor = PostCursor(T0, "tiktok:7301234567890123456")
    assert read_post_cursor(post_cursor(cursor)) == cursor
