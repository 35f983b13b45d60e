"""An ffmpeg that goes missing after the config loaded fails a job for good, with the fix."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tikrelay.domain.errors import ErrorKind, classify
from tikrelay.domain.retry import decide_retry
from tikrelay.media.ffmpeg import FFmpegNotFoundError, ffmpeg_path


def test_a_missing_configured_ffmpeg_is_unsupported_and_never_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKRELAY_FFMPEG", raising=False)
    gone = tmp_path / "ffmpeg"

    with pytest.raises(FFmpegNotFoundError) as caught:
        ffmpeg_path(gone)

    error = classify(caught.value)
    assert error.kind is ErrorKind.UNSUPPORTED
    assert error.retryable is False
    assert f"ffmpeg: '{gone}' is neither an executable file nor a command on PATH" in error.message
    assert "remove the key (and TIKRELAY_FFMPEG) to use the bundled ffmpeg" in error.message
    decision = decide_retry(
        error.kind,
        1,
        5,
        error.retry_after,
        datetime(2026, 1, 1, tzinfo=UTC),
        random.Random(0),
        retryable=error.retryable,
    )
    assert not decision.retry
    assert decision.reason == "not-retryable"


def test_the_variable_is_named_when_it_points_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKRELAY_FFMPEG", str(tmp_path / "nowhere"))
    with pytest.raises(FFmpegNotFoundError, match=r"^unsupported: ffmpeg \(or TIKRELAY_FFMPEG\)"):
        ffmpeg_path()


def test_an_executable_is_found_by_path_or_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKRELAY_FFMPEG", raising=False)
    binary = tmp_path / "my-ffmpeg"
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    binary.chmod(0o755)
    assert ffmpeg_path(binary) == binary
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ffmpeg_path("my-ffmpeg") == binary
