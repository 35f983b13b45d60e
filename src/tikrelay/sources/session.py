"""What the deliver and archive stages need of a post's source, whichever site it is on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tikrelay.domain.posts import Post


@dataclass(frozen=True)
class VideoOffer:
    """What a post offers before anything is downloaded: formats tikrelay may send and the
    smallest known size among them."""

    usable_formats: int
    smallest_size: int | None


class MediaSession(Protocol):
    """One post, read once, then downloaded: a TikTok post's page, or a link to another site."""

    def post(self) -> Post: ...

    def video_offer(self) -> VideoOffer: ...

    def download_video(self, folder: Path) -> Path: ...

    def download_images(self, folder: Path) -> list[Path]: ...

    def download_sound(self, folder: Path) -> Path | None: ...
