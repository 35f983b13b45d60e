"""``media.content``: a file is an image, audio or a video by its bytes, whatever its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.media.content import Content, check_content, describe
from tikrelay.sandbox.fixtures import MediaFixtures


@pytest.fixture
def files(media: MediaFixtures, tmp_path: Path) -> dict[str, Path]:
    made = {
        "html": tmp_path / "page.jpg",
        "json": tmp_path / "answer.mp3",
        "text": tmp_path / "notes.mp4",
        "empty": tmp_path / "empty.jpg",
        "cut": tmp_path / "cut.jpg",
    }
    made["html"].write_text("<!DOCTYPE html><html><body>Access denied</body></html>")
    made["json"].write_text('{"status_code": 0}')
    made["text"].write_text("plain text, which FFmpeg opens as 'tty' video\n" * 50)
    made["empty"].write_bytes(b"")
    made["cut"].write_bytes(media.image(0, "jpeg").read_bytes()[:2000])
    return {
        "mp4": media.clean_video(0),
        "hevc": media.hevc_video_only(0),
        "mp3": media.music(0),
        "jpeg": media.image(0, "jpeg"),
        "webp": media.image(1, "webp"),
        "heic": media.image(2, "heic"),
        **made,
    }


FITS = {
    Content.IMAGE: {"jpeg", "webp", "heic"},
    Content.AUDIO: {"mp3"},
    Content.VIDEO: {"mp4", "hevc"},
}
SAID = {
    "mp4": "a video (h264)",
    "hevc": "a video (hevc)",
    "mp3": "audio (mp3float)",
    "jpeg": "a JPEG image",
    "webp": "a WEBP image",
    "heic": "a HEIF image",
    "html": "an HTML page (54 bytes)",
    "json": "JSON or text (18 bytes)",
    "empty": "an empty file",
}


@pytest.mark.parametrize("expected", list(Content))
def test_each_file_is_accepted_only_as_what_it_is(
    files: dict[str, Path], expected: Content
) -> None:
    for name, path in files.items():
        if name in FITS[expected]:
            assert check_content(path, expected, name) == path
            continue
        with pytest.raises(TikrelayError) as caught:
            check_content(path, expected, f"the {name}")
        error = caught.value
        assert (error.kind, error.retryable) == (ErrorKind.UNSUPPORTED, False)
        assert error.message.startswith(f"the {name}: expected {expected.value}, got ")
        if name in SAID:
            assert error.message.endswith(SAID[name])


def test_descriptions(files: dict[str, Path]) -> None:
    for name, said in SAID.items():
        assert describe(files[name]) == said
    assert describe(files["text"]).endswith("bytes of something else")


def test_a_truncated_jpeg_is_no_image(files: dict[str, Path]) -> None:
    with pytest.raises(TikrelayError, match="got a JPEG image that does not decode"):
        check_content(files["cut"], Content.IMAGE, "slide 1")
