"""The one place that locates the ffmpeg binary."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

from tikrelay.config.loader import FFMPEG_ENV, ffmpeg_problem
from tikrelay.domain.errors import ErrorKind, TikrelayError


class FFmpegNotFoundError(TikrelayError):
    """No usable ffmpeg binary was found.

    UNSUPPORTED and never retried: the binary does not come back on its own between attempts,
    so five retries of every video would only delay the one message that matters, the fix.
    """

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.UNSUPPORTED, message, retryable=False)


@cache
def _bundled_ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_path(configured: str | Path | None = None) -> Path:
    """Return the ffmpeg to run: the configured one, ``$TIKRELAY_FFMPEG``, or the bundled binary.

    The bundled binary comes from the ``imageio-ffmpeg`` wheel, so a fresh install needs no system
    package; a user who prefers the system ffmpeg names it (a path or a command on ``PATH``).
    Loading the config refuses a name that does not run; this still fails clearly when the
    binary went away after the start.
    """
    wanted = str(configured or os.environ.get(FFMPEG_ENV) or "")
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise FFmpegNotFoundError(ffmpeg_problem(wanted) or f"ffmpeg {wanted!r} is missing")
        return Path(found)
    try:
        return Path(_bundled_ffmpeg())
    except RuntimeError as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
        raise FFmpegNotFoundError(
            f"the bundled ffmpeg is missing ({exc}): reinstall tikrelay, or set ffmpeg: to the "
            "path of an executable ffmpeg"
        ) from exc
