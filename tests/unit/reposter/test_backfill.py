"""The first-sight choice: the newest ``backfill`` of the new posts, all of them when fewer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikrelay.domain.posts import backfill


@pytest.mark.parametrize(
    ("posts", "keep", "chosen", "left_out"),
    [
        (9, 10, list(range(9)), 0),  # fewer than backfill: every one (was: only the newest)
        (7, 10, list(range(7)), 0),
        (11, 20, list(range(11)), 0),
        (10, 10, list(range(10)), 0),  # as many
        (12, 10, list(range(2, 12)), 2),  # more: the newest ten, oldest first
        (5, 1, [4], 4),
        (5, 0, [], 5),  # backfill 0 only remembers
        (0, 10, [], 0),
        (0, 0, [], 0),
    ],
)
def test_choice_table(posts: int, keep: int, chosen: list[int], left_out: int) -> None:
    assert backfill(list(range(posts)), keep) == (chosen, left_out)


@given(st.lists(st.integers(), max_size=60, unique=True), st.integers(min_value=0, max_value=80))
def test_the_newest_keep_in_order_and_the_rest_counted(posts: list[int], keep: int) -> None:
    chosen, left_out = backfill(posts, keep)
    assert len(chosen) == min(len(posts), keep)
    assert chosen == posts[len(posts) - len(chosen) :]  # a suffix: the newest, oldest first
    assert left_out == len(posts) - len(chosen)
    assert left_out >= 0


def test_a_negative_keep_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        backfill([1, 2], -1)
