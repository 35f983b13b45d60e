"""What a post is sent as, part by part: a video, an album of at most ten photos, a sound (or a
digest's text). Each part is one send intent (``reposter.sending``); an album may arrive in part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tikrelay.media.video import TelegramVideo

ALBUM_SIZE = 10
#: A file to send: on disk, or a Telegram file id (sent before: no upload).
Media = Path | str


@dataclass(frozen=True)
class VideoPart:
    index: int
    video: TelegramVideo
    caption: str | None
    ids: tuple[str, ...] = ()  # Telegram's file id, when the video was sent before

    @property
    def files(self) -> list[Path]:
        return [self.video.path]

    @property
    def media(self) -> list[Media]:
        return list(self.ids) or list(self.files)


@dataclass(frozen=True)
class AlbumPart:
    index: int
    photos: list[Path]
    caption: str | None  # under the first photo
    ids: tuple[str, ...] = ()  # Telegram's file ids, when the photos were sent before

    @property
    def files(self) -> list[Path]:
        return self.photos

    @property
    def media(self) -> list[Media]:
        return list(self.ids) or list(self.files)


@dataclass(frozen=True)
class AudioPart:
    index: int
    file: Path
    title: str | None
    performer: str | None
    cover: Path | None = None  # a JPEG of at most 320 px, shown by players
    ids: tuple[str, ...] = ()  # Telegram's file id, when the sound was sent before
    caption: str | None = None  # a post that is a sound (a link to a song): its text

    @property
    def files(self) -> list[Path]:
        return [self.file]

    @property
    def media(self) -> list[Media]:
        return list(self.ids) or list(self.files)


@dataclass(frozen=True)
class TextPart:
    """A message of text alone (a digest of posts): its one "media" is the text itself."""

    index: int
    text: str
    ids: tuple[str, ...] = ()  # no file of Telegram's

    @property
    def files(self) -> list[Path]:
        return []

    @property
    def media(self) -> list[Media]:
        return [self.text]


Part = VideoPart | AlbumPart | AudioPart | TextPart


def expected(part: Part) -> int:
    """How many messages the part makes."""
    return len(part.media)
