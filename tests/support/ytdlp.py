"""The real yt-dlp against the TikTok emulator: a logger that keeps its messages, and the sockets it
leaves open collected where they belong."""

from __future__ import annotations

import gc
import warnings

# What tikrelay asks for: muxed, not watermarked, never a video-only stream.
NO_WATERMARK = "b[format_id!=download][vcodec!=none][acodec!=none]/b[acodec!=none]/b"


class RecordingLogger:
    """yt-dlp's ``logger`` option: keeps messages instead of printing them."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def debug(self, msg: str) -> None:
        self.messages.append(("debug", msg))

    def info(self, msg: str) -> None:
        self.messages.append(("info", msg))

    def warning(self, msg: str) -> None:
        self.messages.append(("warning", msg))

    def error(self, msg: str) -> None:
        self.messages.append(("error", msg))

    def text(self, level: str | None = None) -> str:
        return "\n".join(m for lvl, m in self.messages if level in (None, lvl))


def collect_yt_dlp_leaks(port: int) -> None:
    """Collect, now, the client sockets yt-dlp leaves open, and tolerate only those.

    yt-dlp never closes the response of an HTTP error it retries or reports (for one,
    downloader/http.py turns a 5xx into RetryDownload with the response still open), so its
    socket to the emulator is closed by the garbage collector, in whichever later test that
    happens. Collecting here pins it to this test; any other unclosed resource still fails.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    for warning in caught:
        if f"raddr=('127.0.0.1', {port})" not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
