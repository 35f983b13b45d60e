"""The ``ffmpeg`` check: the binary a run would use starts and tells its version."""

from __future__ import annotations

import asyncio

from tikrelay.health.limits import FFMPEG_TIMEOUT
from tikrelay.health.report import Check, failed, passed


async def check_ffmpeg(configured: str | None) -> Check:
    """``configured`` is the ``ffmpeg`` setting; None means the bundled binary."""
    from tikrelay.media.ffmpeg import FFmpegNotFoundError, ffmpeg_path

    fix = "set ffmpeg: to a working binary, or remove the key to use the bundled one"
    try:
        path = ffmpeg_path(configured)
    except FFmpegNotFoundError as exc:  # the bundled binary, or one gone since the config loaded
        return failed("ffmpeg", exc.message)
    try:
        process = await asyncio.create_subprocess_exec(
            str(path), "-version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
    except OSError as exc:
        return failed("ffmpeg", f"{path} cannot be started ({exc.strerror}): {fix}")
    try:
        output, _ = await asyncio.wait_for(process.communicate(), FFMPEG_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return failed("ffmpeg", f"{path} -version did not finish in {FFMPEG_TIMEOUT:g} s: {fix}")
    if process.returncode != 0:
        return failed("ffmpeg", f"{path} -version exited with status {process.returncode}: {fix}")
    first = output.decode(errors="replace").partition("\n")[0]
    return passed("ffmpeg", f"{path} ({first.partition(' Copyright')[0].strip()})")
