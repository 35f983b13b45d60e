"""The one place that locates the ffmpeg binary."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

FFMPEG_ENV = "TIKRELAY_FFMPEG"


class FFmpegNotFoundError(RuntimeError):
    """No usable ffmpeg binary was found."""


@cache
def _bundled_ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_path(configured: str | Path | None = None) -> Path:
    """Return the ffmpeg to run: the configured one, ``$TIKRELAY_FFMPEG``, or the bundled binary.

    The bundled binary comes from the ``imageio-ffmpeg`` wheel, so a fresh install needs no system
    package; a user who prefers the system ffmpeg names it (a path or a command on ``PATH``).
    """
    wanted = configured or os.environ.get(FFMPEG_ENV)
    if wanted:
        found = shutil.which(str(wanted))
        if found is None:
            raise FFmpegNotFoundError(
                f"ffmpeg {wanted!r} was not found or is not executable: "
                f"fix the path or unset {FFMPEG_ENV} to use the bundled ffmpeg"
            )
        return Path(found)
    try:
        return Path(_bundled_ffmpeg())
    except RuntimeError as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
        raise FFmpegNotFoundError(
            f"the bundled ffmpeg is missing ({exc}); reinstall tikrelay"
        ) from exc
