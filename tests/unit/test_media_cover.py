"""The cover's rules: Telegram's thumbnail limits stated once in effect, and the slideshow canvas
that takes the cover's (the first slide's) shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikrelay.media import images, video
from tikrelay.media.slideshow import fit_canvas


def test_images_and_videos_apply_the_same_thumbnail_limits() -> None:
    assert (images.THUMBNAIL_MAX_SIDE, images.THUMBNAIL_MAX_BYTES) == (
        video.THUMBNAIL_MAX_SIDE,
        video.THUMBNAIL_MAX_BYTES,
    )


@pytest.mark.parametrize(
    ("first_slide", "canvas"),
    [
        ((1080, 1920), (1080, 1920)),  # TikTok's usual slide: as it is
        ((2160, 3840), (1080, 1920)),  # shrunk into the box
        ((1920, 1080), (1920, 1080)),  # landscape: the box turns with it
        ((4000, 3000), (1440, 1080)),
        ((3000, 3000), (1080, 1080)),  # square: portrait box, the short side limits it
        ((1080, 1440), (1080, 1440)),  # 3:4 photo mode
        ((360, 640), (360, 640)),  # small: never enlarged
        ((101, 57), (100, 56)),  # odd sides rounded down to even ones
        ((1, 1), (2, 2)),
        ((10000, 100), (1920, 18)),
    ],
)
def test_the_canvas_has_the_first_slides_shape_within_1080x1920(
    first_slide: tuple[int, int], canvas: tuple[int, int]
) -> None:
    assert fit_canvas(*first_slide) == canvas


@given(st.integers(1, 20_000), st.integers(1, 20_000))
def test_the_canvas_is_even_within_the_box_and_keeps_the_shape(width: int, height: int) -> None:
    canvas_w, canvas_h = fit_canvas(width, height)
    assert canvas_w % 2 == 0
    assert canvas_h % 2 == 0
    long_side, short_side = max(canvas_w, canvas_h), min(canvas_w, canvas_h)
    assert long_side <= 1920
    assert short_side <= 1080
    assert (canvas_w >= canvas_h) == (width >= height) or canvas_w == canvas_h
    if min(canvas_w, canvas_h) >= 100:  # rounding to even sides moves a small canvas's shape
        assert canvas_w / canvas_h == pytest.approx(width / height, rel=0.05)
