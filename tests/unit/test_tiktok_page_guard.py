"""The private yt-dlp methods tikrelay reads slideshows with are looked up in one place, and
their absence is a clear, final error instead of an AttributeError inside a job."""

from __future__ import annotations

import pytest
from yt_dlp import YoutubeDL

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources import tiktok_page


def test_this_yt_dlp_has_what_the_adapter_needs() -> None:
    with YoutubeDL({"quiet": True}) as ydl:
        ie = ydl.get_info_extractor("TikTok")
        assert callable(getattr(ie, "_extract_web_data_and_status", None))
        assert callable(getattr(ie, "_parse_aweme_video_web", None))


def test_a_yt_dlp_without_them_gives_an_update_required_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with YoutubeDL({"quiet": True}) as ydl:
        ie = ydl.get_info_extractor("TikTok")
        monkeypatch.setattr(ie, "_extract_web_data_and_status", None)  # as if removed
        with pytest.raises(TikrelayError) as caught:
            tiktok_page.fetch_item(ydl, "https://www.tiktok.com/@a/video/1", "1")
    assert caught.value.kind is ErrorKind.EXTRACTOR_UPDATE_REQUIRED
    assert caught.value.retryable is False
    assert "pyproject.toml" in caught.value.message
