"""An emulator of TikTok's Content Posting API and its OAuth (``server``), and what it holds
(``state``)."""

from tikrelay.sandbox.tiktok_posting.server import (
    CLIENT_KEY,
    CLIENT_SECRET,
    TikTokPostingEmulator,
)
from tikrelay.sandbox.tiktok_posting.state import Published, UploadState

__all__ = ["CLIENT_KEY", "CLIENT_SECRET", "Published", "TikTokPostingEmulator", "UploadState"]
